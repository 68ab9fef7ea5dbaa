//! The learning-rate schedule: per iteration, linear warm-up from 0 to the peak, then linear decay
//! to 0 at the last iteration (REPAIR's `np.interp([0, warmup, total], [0, 1, 0])`).

// ANCHOR: schedule
/// Learning rate at iteration `step` (0-based) of `total` iterations with `warmup` warm-up
/// iterations and peak `peak`.
pub fn lr_at(step: usize, total: usize, warmup: usize, peak: f64) -> f64 {
    let (s, t, w) = (step as f64, total as f64, warmup.min(total) as f64);
    let factor = if s < w {
        s / w
    } else if t > w {
        ((t - s) / (t - w)).max(0.0)
    } else {
        0.0
    };
    peak * factor
}
// ANCHOR_END: schedule

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_rises_linearly_then_decays_to_zero() {
        let (total, warm, peak) = (1000, 100, 0.08);
        assert_eq!(lr_at(0, total, warm, peak), 0.0);
        assert!((lr_at(50, total, warm, peak) - 0.04).abs() < 1e-12);
        assert!((lr_at(100, total, warm, peak) - peak).abs() < 1e-12);
        assert!((lr_at(550, total, warm, peak) - 0.04).abs() < 1e-12);
        assert_eq!(lr_at(1000, total, warm, peak), 0.0);
        let lrs: Vec<f64> = (0..total).map(|s| lr_at(s, total, warm, peak)).collect();
        assert!(lrs[..=100].windows(2).all(|w| w[1] >= w[0]));
        assert!(lrs[100..].windows(2).all(|w| w[1] <= w[0]));
    }
}
