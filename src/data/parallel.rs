//! Decoding many images on every core.

use super::DataError;

/// Fill `out`, consecutive records of `size` bytes, one per item, by `fill(item, record)` on every
/// core (at most 32 threads), each thread taking a contiguous run of items. The error is the
/// first failing item's in item order, whatever the threads' timing; a panic in `fill` is
/// re-raised here.
pub(crate) fn fill_in_parallel<T: Sync>(
    items: &[T],
    out: &mut [u8],
    size: usize,
    fill: impl Fn(&T, &mut [u8]) -> Result<(), DataError> + Sync,
) -> Result<(), DataError> {
    debug_assert_eq!(out.len(), items.len() * size);
    if items.is_empty() || size == 0 {
        return Ok(());
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 32);
    let per_thread = items.len().div_ceil(threads).max(1);
    let fill = &fill;
    let results: Vec<Result<(), DataError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per_thread)
            .zip(out.chunks_mut(per_thread * size))
            .map(|(run, dst)| {
                scope.spawn(move || -> Result<(), DataError> {
                    for (item, record) in run.iter().zip(dst.chunks_exact_mut(size)) {
                        fill(item, record)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(payload) => std::panic::resume_unwind(payload),
            })
            .collect()
    });
    // Runs are in item order, so the first error is the first bad item.
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fail_at(bad: &[usize]) -> impl Fn(&usize, &mut [u8]) -> Result<(), DataError> + Sync + '_ {
        move |&i, record| {
            if bad.contains(&i) {
                return Err(DataError::Layout { path: PathBuf::from(format!("item{i}")), reason: "bad".into() });
            }
            record.fill(i as u8);
            Ok(())
        }
    }

    #[test]
    fn every_record_is_filled_by_its_own_item() {
        let items: Vec<usize> = (0..37).collect();
        let mut out = vec![0u8; items.len() * 3];
        fill_in_parallel(&items, &mut out, 3, fail_at(&[])).unwrap();
        for (i, record) in out.chunks(3).enumerate() {
            assert_eq!(record, [i as u8; 3]);
        }
    }

    #[test]
    fn the_error_is_the_first_failing_item_in_order() {
        let items: Vec<usize> = (0..40).collect();
        let mut out = vec![0u8; items.len()];
        let err = fill_in_parallel(&items, &mut out, 1, fail_at(&[33, 7, 21])).unwrap_err();
        assert!(err.to_string().contains("item7"), "{err}");
    }
}
