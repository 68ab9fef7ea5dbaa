//! Batching, data augmentation and normalisation.
//!
//! * [`BatchPlan`]: the order in which an epoch visits the dataset, as index
//!   batches. The permutation is drawn from a seed derived from `(seed, epoch)`,
//!   so every epoch differs and every run with the same seed repeats exactly.
//! * [`fill_batch`]: turns `u8` images into a normalised `f32` N×C×H×W batch,
//!   optionally augmented like torchvision's
//!   `RandomCrop(H, padding=pad)` + `RandomHorizontalFlip()`:
//!   the image is zero-padded by `pad` pixels on every side, an H×W window is
//!   cropped at an offset uniform in `[0, 2·pad]²`, and the result is mirrored
//!   left–right with probability ½. Then `(x/255 − mean_c)/std_c`, so padded
//!   pixels become `−mean_c/std_c` exactly as after torchvision's `Normalize`.
//! * Per-image randomness comes from the RNG passed in; use
//!   [`BatchPlan::batch_rng`] (seeded by `(seed, epoch, batch index)`) so the
//!   augmentation of a batch does not depend on which thread fills it or in
//!   which order batches are produced.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngExt, SeedableRng};

use super::Dataset;

/// Random-crop-with-padding and horizontal-flip augmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Augment {
    /// Zero padding on each side before cropping back to H×W (0 = no crop).
    pub pad: usize,
    /// Mirror left–right with probability ½.
    pub flip: bool,
}

impl Default for Augment {
    /// The standard CIFAR-10 augmentation: `pad = 4`, `flip = true`.
    fn default() -> Self {
        Augment { pad: 4, flip: true }
    }
}

/// Per-channel normalisation `(x/255 − mean[c]) / std[c]`; `mean` and `std`
/// are on the `[0, 1]` scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalize {
    /// Per-channel mean, `[0, 1]` scale.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation, `[0, 1]` scale (positive).
    pub std: Vec<f32>,
}

impl Normalize {
    /// From per-channel constants (copied). Panics if lengths differ or a std is not positive.
    pub fn new(mean: &[f32], std: &[f32]) -> Self {
        assert_eq!(mean.len(), std.len(), "Normalize: mean and std lengths differ");
        assert!(std.iter().all(|&s| s > 0.0), "Normalize: std must be positive");
        Normalize { mean: mean.to_vec(), std: std.to_vec() }
    }

    /// Only rescale to `[0, 1]` (mean 0, std 1) for `channels` channels.
    pub fn identity(channels: usize) -> Self {
        Normalize::new(&vec![0.0; channels], &vec![1.0; channels])
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// `(scale, bias)` per channel with `normalised = byte * scale + bias`.
    pub fn scale_bias(&self) -> Vec<(f32, f32)> {
        self.mean.iter().zip(&self.std).map(|(&m, &s)| (1.0 / (255.0 * s), -m / s)).collect()
    }
}

/// SplitMix64 finaliser: a bijective 64-bit mixer.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives a well-mixed seed from `(seed, epoch, stream)`; distinct triples give
/// unrelated seeds. Stream `u64::MAX` is the epoch's shuffle, streams `0..` are
/// batch indices.
pub fn derive_seed(seed: u64, epoch: u64, stream: u64) -> u64 {
    splitmix64(splitmix64(splitmix64(seed) ^ epoch) ^ stream)
}

const SHUFFLE_STREAM: u64 = u64::MAX;

/// The index batches of one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    order: Vec<usize>,
    batch_size: usize,
    batches: usize,
    seed: u64,
    epoch: u64,
}

impl BatchPlan {
    /// Plans one epoch over `len` samples: a permutation of `0..len` (shuffled
    /// with a seed derived from `(seed, epoch)` if `shuffle`, else in order)
    /// cut into batches of `batch_size`; the last, smaller batch is dropped if
    /// `drop_last`. Panics if `batch_size == 0`.
    pub fn new(len: usize, batch_size: usize, seed: u64, epoch: u64, shuffle: bool, drop_last: bool) -> Self {
        assert!(batch_size > 0, "BatchPlan: batch_size must be positive");
        let mut order: Vec<usize> = (0..len).collect();
        if shuffle {
            order.shuffle(&mut StdRng::seed_from_u64(derive_seed(seed, epoch, SHUFFLE_STREAM)));
        }
        let batches = if drop_last { len / batch_size } else { len.div_ceil(batch_size) };
        BatchPlan { order, batch_size, batches, seed, epoch }
    }

    /// Number of batches.
    pub fn len(&self) -> usize {
        self.batches
    }

    /// True when there are no batches.
    pub fn is_empty(&self) -> bool {
        self.batches == 0
    }

    /// The full visiting order (including samples of a dropped last batch).
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The sample indices of batch `b`. Panics if `b >= len()`.
    pub fn batch(&self, b: usize) -> &[usize] {
        assert!(b < self.batches, "BatchPlan: batch {b} of {}", self.batches);
        let start = b * self.batch_size;
        &self.order[start..(start + self.batch_size).min(self.order.len())]
    }

    /// Iterates over the batches in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[usize]> + '_ {
        (0..self.batches).map(|b| self.batch(b))
    }

    /// The batches as owned index vectors (e.g. to move them to another thread).
    pub fn batches(&self) -> impl ExactSizeIterator<Item = Vec<usize>> + '_ {
        self.iter().map(<[usize]>::to_vec)
    }

    /// The RNG for the augmentation of batch `b`, seeded by `(seed, epoch, b)`.
    pub fn batch_rng(&self, b: usize) -> StdRng {
        StdRng::seed_from_u64(derive_seed(self.seed, self.epoch, b as u64))
    }
}

/// Writes the images `idx` of `ds` into `out` as a normalised f32 batch of
/// shape `idx.len()`×C×H×W (`out` is cleared and resized; its capacity is
/// reused). With `aug`, each image gets a random crop with zero padding and/or
/// a random flip drawn from `rng` (per image: crop row offset, crop column
/// offset, flip coin). Panics if `norm` has a different channel count than `ds`
/// or an index is out of range.
pub fn fill_batch<R: Rng + ?Sized>(ds: &Dataset, idx: &[usize], aug: Option<&Augment>, norm: &Normalize, rng: &mut R, out: &mut Vec<f32>) {
    let (c, h, w) = (ds.channels, ds.height, ds.width);
    assert_eq!(norm.channels(), c, "fill_batch: normalisation for {} channels, dataset {} has {c}", norm.channels(), ds.name);
    let size = c * h * w;
    let sb = norm.scale_bias();
    out.clear();
    out.resize(idx.len() * size, 0.0);
    for (&i, dst) in idx.iter().zip(out.chunks_exact_mut(size.max(1))) {
        let src = ds.image(i);
        let (pad, oy, ox, flip) = match aug {
            Some(a) => {
                let (oy, ox) = if a.pad > 0 { (rng.random_range(0..=2 * a.pad), rng.random_range(0..=2 * a.pad)) } else { (0, 0) };
                (a.pad, oy, ox, a.flip && rng.random_bool(0.5))
            }
            None => (0, 0, 0, false),
        };
        // Output column x reads source column x + ox − pad; valid for x in [x_lo, x_hi).
        let x_lo = (pad as isize - ox as isize).clamp(0, w as isize) as usize;
        let x_hi = ((w + pad) as isize - ox as isize).clamp(0, w as isize) as usize;
        let x_hi = x_hi.max(x_lo);
        for (ch, &(scale, bias)) in sb.iter().enumerate() {
            let src_plane = &src[ch * h * w..(ch + 1) * h * w];
            let dst_plane = &mut dst[ch * h * w..(ch + 1) * h * w];
            for (y, row) in dst_plane.chunks_exact_mut(w).enumerate() {
                let sy = (y + oy) as isize - pad as isize;
                if sy < 0 || sy >= h as isize || x_lo == x_hi {
                    row.fill(bias);
                    continue;
                }
                let sy = sy as usize;
                let sx0 = x_lo + ox - pad;
                let src_row = &src_plane[sy * w + sx0..sy * w + sx0 + (x_hi - x_lo)];
                row[..x_lo].fill(bias);
                for (d, &s) in row[x_lo..x_hi].iter_mut().zip(src_row) {
                    *d = s as f32 * scale + bias;
                }
                row[x_hi..].fill(bias);
                if flip {
                    row.reverse();
                }
            }
        }
    }
}

/// Writes the labels of `idx` into `out` (cleared first) as `i64`.
pub fn fill_labels(ds: &Dataset, idx: &[usize], out: &mut Vec<i64>) {
    out.clear();
    out.extend(idx.iter().map(|&i| ds.labels[i] as i64));
}

#[cfg(test)]
impl Normalize {
    /// Uses the dataset's own per-channel pixel statistics (a zero std becomes 1).
    pub(crate) fn from_dataset(ds: &Dataset) -> Self {
        let (mean, std) = ds.channel_stats();
        let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
        let std: Vec<f32> = std.iter().map(|&s| if s > 0.0 { s as f32 } else { 1.0 }).collect();
        Normalize::new(&mean, &std)
    }

    /// Normalises one value on the 0–255 scale for channel `c`.
    pub(crate) fn apply(&self, value: f32, c: usize) -> f32 {
        (value / 255.0 - self.mean[c]) / self.std[c]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synthetic::synthetic;

    fn toy() -> Dataset {
        // 5 images 2×6×7 with distinct, non-zero pixels.
        let (n, c, h, w) = (5, 2, 6, 7);
        let images = (0..n * c * h * w).map(|v| (1 + v % 250) as u8).collect();
        Dataset::new("toy", crate::data::DatasetKind::Synthetic, images, vec![0; n], [c, h, w], vec!["a".into()]).unwrap()
    }

    fn all(ds: &Dataset) -> Vec<usize> {
        (0..ds.len).collect()
    }

    /// The batch entry for image `i`, crop offset (oy, ox), flip, under identity
    /// normalisation (computed as `v * (1/255)` like `fill_batch`, so exactly equal).
    fn reference(ds: &Dataset, i: usize, pad: usize, oy: usize, ox: usize, flip: bool) -> Vec<f32> {
        let (c, h, w) = (ds.channels, ds.height, ds.width);
        let mut out = Vec::new();
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let x = if flip { w - 1 - x } else { x };
                    let (sy, sx) = ((y + oy) as isize - pad as isize, (x + ox) as isize - pad as isize);
                    let inside = (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx);
                    let v = if inside { ds.image(i)[(ch * h + sy as usize) * w + sx as usize] } else { 0 };
                    out.push(v as f32 * (1.0 / 255.0));
                }
            }
        }
        out
    }

    #[test]
    fn crop_with_padding_zero_and_no_flip_is_identity() {
        let ds = toy();
        let mut out = Vec::new();
        let mut rng = StdRng::seed_from_u64(0);
        fill_batch(&ds, &all(&ds), Some(&Augment { pad: 0, flip: false }), &Normalize::identity(2), &mut rng, &mut out);
        let want: Vec<f32> = ds.images.iter().map(|&v| v as f32 * (1.0 / 255.0)).collect();
        assert_eq!(out, want);
        fill_batch(&ds, &all(&ds), None, &Normalize::identity(2), &mut rng, &mut out);
        assert_eq!(out, want);
    }

    #[test]
    fn crop_with_padding_keeps_shape_and_pixels() {
        let ds = toy();
        let pad = 3;
        let mut out = Vec::new();
        let mut rng = StdRng::seed_from_u64(1);
        let idx = [4, 0, 2, 2, 1, 3, 0, 4];
        let mut seen_offsets = std::collections::HashSet::new();
        for _ in 0..5 {
            fill_batch(&ds, &idx, Some(&Augment { pad, flip: true }), &Normalize::identity(2), &mut rng, &mut out);
            assert_eq!(out.len(), idx.len() * ds.image_size());
            for (k, &i) in idx.iter().enumerate() {
                let got = &out[k * ds.image_size()..(k + 1) * ds.image_size()];
                let found = (0..=2 * pad)
                    .flat_map(|oy| (0..=2 * pad).flat_map(move |ox| [(oy, ox, false), (oy, ox, true)]))
                    .find(|&(oy, ox, f)| reference(&ds, i, pad, oy, ox, f) == got);
                let Some(found) = found else {
                    panic!("batch entry {k} is no padded crop (+flip) of image {i}");
                };
                seen_offsets.insert(found);
            }
        }
        // 40 draws from 7·7·2 possibilities: expect plenty of distinct ones.
        assert!(seen_offsets.len() > 15, "{}", seen_offsets.len());
    }

    #[test]
    fn flip_only_gives_image_or_mirror_both_occurring() {
        let ds = toy();
        let mut out = Vec::new();
        let mut rng = StdRng::seed_from_u64(2);
        let idx: Vec<usize> = (0..40).map(|k| k % ds.len).collect();
        let aug = Augment { pad: 0, flip: true };
        fill_batch(&ds, &idx, Some(&aug), &Normalize::identity(2), &mut rng, &mut out);
        let (mut plain, mut mirrored) = (0, 0);
        for (k, &i) in idx.iter().enumerate() {
            let got = &out[k * ds.image_size()..(k + 1) * ds.image_size()];
            if got == reference(&ds, i, 0, 0, 0, false) {
                plain += 1;
            } else if got == reference(&ds, i, 0, 0, 0, true) {
                mirrored += 1;
            } else {
                panic!("entry {k} is neither image {i} nor its mirror");
            }
        }
        assert!(plain > 5 && mirrored > 5, "{plain} plain, {mirrored} mirrored");
    }

    #[test]
    fn batch_plan_is_a_permutation_per_epoch_and_reproducible() {
        let (n, bs) = (103, 10);
        let plans: Vec<BatchPlan> = (0..3).map(|e| BatchPlan::new(n, bs, 42, e, true, false)).collect();
        for p in &plans {
            assert_eq!(p.len(), 11);
            assert_eq!(p.batch(10).len(), 3);
            let mut all: Vec<usize> = p.iter().flatten().copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>());
        }
        assert_ne!(plans[0].order(), plans[1].order());
        assert_ne!(plans[1].order(), plans[2].order());
        assert_eq!(plans[1], BatchPlan::new(n, bs, 42, 1, true, false));
        assert_ne!(plans[0].order(), BatchPlan::new(n, bs, 43, 0, true, false).order());
        let owned: Vec<Vec<usize>> = plans[0].batches().collect();
        assert_eq!(owned.concat(), plans[0].order());
    }

    #[test]
    fn batch_plan_without_shuffle_is_in_order_and_drop_last_drops() {
        let p = BatchPlan::new(25, 10, 0, 3, false, true);
        assert_eq!(p.len(), 2);
        assert_eq!(p.batch(1), (10..20).collect::<Vec<_>>().as_slice());
        assert!(BatchPlan::new(5, 10, 0, 0, true, true).is_empty());
        assert_eq!(BatchPlan::new(0, 10, 0, 0, true, false).len(), 0);
    }

    #[test]
    fn batch_rng_makes_augmentation_reproducible_per_batch() {
        let ds = synthetic(32, 0, 2, 8, 0).train;
        let plan = BatchPlan::new(ds.len, 8, 9, 2, true, false);
        let norm = Normalize::from_dataset(&ds);
        let aug = Augment::default();
        let fill = |b: usize| {
            let mut out = Vec::new();
            fill_batch(&ds, plan.batch(b), Some(&aug), &norm, &mut plan.batch_rng(b), &mut out);
            out
        };
        // Batch 1 is the same whether or not batch 0 was filled before it.
        let b1 = fill(1);
        let _ = fill(0);
        assert_eq!(fill(1), b1);
        assert_ne!(plan.batch_rng(0).next_u64(), plan.batch_rng(1).next_u64());
    }

    #[test]
    fn normalisation_of_the_mean_pixel_gives_zero() {
        let ds = synthetic(200, 0, 4, 16, 3).train;
        let norm = Normalize::from_dataset(&ds);
        let mut out = Vec::new();
        fill_batch(&ds, &all(&ds), None, &norm, &mut StdRng::seed_from_u64(0), &mut out);
        let plane = 16 * 16;
        for c in 0..3 {
            let vals: Vec<f64> = out.chunks_exact(plane).skip(c).step_by(3).flatten().map(|&v| v as f64).collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64;
            assert!(mean.abs() < 1e-3, "channel {c}: mean {mean}");
            assert!((var.sqrt() - 1.0).abs() < 1e-3, "channel {c}: std {}", var.sqrt());
        }
        let cifar = crate::data::DatasetKind::Cifar10.normalize(3);
        for (c, m) in [125.307f32, 122.961, 113.8575].into_iter().enumerate() {
            assert!(cifar.apply(m, c).abs() < 1e-5);
        }
        // Padding zeros map to −mean/std.
        let (_, bias) = cifar.scale_bias()[0];
        assert!((bias - cifar.apply(0.0, 0)).abs() < 1e-6);
    }
}
