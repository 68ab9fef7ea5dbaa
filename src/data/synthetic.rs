//! A generated dataset whose class distributions are invariant under
//! horizontal flips, for tests and smoke runs.
//!
//! Each class `k` has a prototype image: a smooth background colour (distinct
//! hues around the colour wheel) plus three random Gaussian blobs of random
//! colour, position and width. The prototype is generally **not** mirror
//! symmetric. A sample of class `k` is
//!
//! 1. the prototype or its left–right mirror image, each with probability ½,
//! 2. translated by a random `(dy, dx)` uniform in `[-s, s]²` (`s = size/16`,
//!    edge pixels replicated),
//! 3. plus independent uniform pixel noise of standard deviation `noise`,
//!
//! quantised to `u8`. Mirroring commutes with the edge-replicating shift once
//! `dx` is replaced by `-dx`, and the shift and noise distributions are
//! symmetric, so the distribution of every class is exactly invariant under
//! horizontal flips, while individual images are not symmetric — the same
//! situation as natural-image datasets, in miniature. Classes are well
//! separated, so a small CNN learns them in seconds. Labels cycle `0, 1, …,
//! classes-1, 0, …`; train and test share the prototypes and use independent
//! draws. Everything is determined by the seed.

use std::f32::consts::TAU;

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

use super::{Dataset, DatasetKind, Splits};

/// Mean of [`SyntheticSpec::default`]'s training pixels per channel
/// (`[0, 1]` scale), measured by `synthetic::tests::default_spec_stats_match_constants`.
pub const SYNTHETIC_MEAN: [f32; 3] = [0.501, 0.507, 0.501];
/// Standard deviation of [`SyntheticSpec::default`]'s training pixels per channel.
pub const SYNTHETIC_STD: [f32; 3] = [0.232, 0.235, 0.234];

/// Parameters of the synthetic dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    /// Training images.
    pub n_train: usize,
    /// Test images.
    pub n_test: usize,
    /// Number of classes (1..=256).
    pub classes: usize,
    /// Height = width in pixels.
    pub size: usize,
    /// 3 (RGB) or 1 (gray).
    pub channels: usize,
    /// Pixel-noise standard deviation on the `[0, 1]` scale.
    pub noise: f32,
    /// Seed of everything.
    pub seed: u64,
}

impl Default for SyntheticSpec {
    /// 2,000 train / 500 test RGB 32×32 images, 10 classes, noise 0.08, seed 0.
    fn default() -> Self {
        SyntheticSpec { n_train: 2000, n_test: 500, classes: 10, size: 32, channels: 3, noise: 0.08, seed: 0 }
    }
}

/// RGB 32×32-style shorthand: `SyntheticSpec { n_train, n_test, classes, size,
/// seed, ..Default::default() }.generate()`.
pub fn synthetic(n_train: usize, n_test: usize, classes: usize, size: usize, seed: u64) -> Splits {
    SyntheticSpec { n_train, n_test, classes, size, seed, ..SyntheticSpec::default() }.generate()
}

/// Blobs per class prototype.
const BLOBS: usize = 3;

/// One blob of a prototype.
struct Blob {
    cy: f32,
    cx: f32,
    inv_two_sigma2: f32,
    colour: Vec<f32>,
}

impl SyntheticSpec {
    /// Generates the train and test splits. Panics if `classes` is 0 or > 256,
    /// `size` is 0 or `channels` is 0.
    pub fn generate(&self) -> Splits {
        assert!((1..=256).contains(&self.classes), "synthetic: classes must be in 1..=256");
        assert!(self.size > 0 && self.channels > 0, "synthetic: empty image shape");
        let mut rng = StdRng::seed_from_u64(self.seed);
        let prototypes: Vec<Vec<f32>> = (0..self.classes).map(|k| self.prototype(k, &mut rng)).collect();
        let mirrored: Vec<Vec<f32>> = prototypes.iter().map(|p| self.mirror(p)).collect();
        // Independent streams for the two splits, so n_train does not change the test set.
        let mut train_rng = StdRng::seed_from_u64(rng.next_u64());
        let mut test_rng = StdRng::seed_from_u64(rng.next_u64());
        Splits {
            train: self.split("synthetic/train", self.n_train, &prototypes, &mirrored, &mut train_rng),
            test: self.split("synthetic/test", self.n_test, &prototypes, &mirrored, &mut test_rng),
        }
    }

    /// Class prototype, C×H×W on the `[0, 1]` scale.
    fn prototype(&self, k: usize, rng: &mut StdRng) -> Vec<f32> {
        let (c, s) = (self.channels, self.size);
        let sf = s as f32;
        let hue = k as f32 / self.classes as f32;
        let background: Vec<f32> = (0..c).map(|ch| 0.5 + 0.25 * (TAU * (hue + ch as f32 / 3.0)).cos()).collect();
        let blobs: Vec<Blob> = (0..BLOBS)
            .map(|_| {
                let sigma = rng.random_range(0.07..0.18) * sf;
                Blob {
                    cy: rng.random_range(0.15..0.85) * sf,
                    cx: rng.random_range(0.15..0.85) * sf,
                    inv_two_sigma2: 1.0 / (2.0 * sigma * sigma),
                    colour: (0..c).map(|_| rng.random_range(-0.6..0.6)).collect(),
                }
            })
            .collect();
        let mut img = vec![0f32; c * s * s];
        for y in 0..s {
            for x in 0..s {
                let weights: [f32; BLOBS] = std::array::from_fn(|j| {
                    let b = &blobs[j];
                    let (dy, dx) = (y as f32 - b.cy, x as f32 - b.cx);
                    (-(dy * dy + dx * dx) * b.inv_two_sigma2).exp()
                });
                for ch in 0..c {
                    let v = background[ch] + blobs.iter().zip(&weights).map(|(b, w)| b.colour[ch] * w).sum::<f32>();
                    img[(ch * s + y) * s + x] = v.clamp(0.0, 1.0);
                }
            }
        }
        img
    }

    fn mirror(&self, img: &[f32]) -> Vec<f32> {
        let mut out = img.to_vec();
        for row in out.chunks_exact_mut(self.size) {
            row.reverse();
        }
        out
    }

    fn split(&self, name: &str, n: usize, prototypes: &[Vec<f32>], mirrored: &[Vec<f32>], rng: &mut StdRng) -> Dataset {
        let (c, s) = (self.channels, self.size);
        let max_shift = (s / 16) as i64;
        // Uniform noise on [-a, a] has standard deviation a / sqrt(3). It is drawn as
        // one random byte per pixel, mapped to the 256 midpoints of [-a, a]
        // (bulk byte generation keeps this fast even in unoptimised builds).
        let a = self.noise * 3f32.sqrt() * 255.0;
        let noise_step = 2.0 * a / 256.0;
        let mut noise = vec![0u8; c * s * s];
        let mut images = vec![0u8; n * c * s * s];
        let mut labels = Vec::with_capacity(n);
        for (i, out) in images.chunks_exact_mut(c * s * s).enumerate() {
            let k = i % self.classes;
            labels.push(k as u8);
            let src = if rng.random_bool(0.5) { &mirrored[k] } else { &prototypes[k] };
            let dy = rng.random_range(-max_shift..=max_shift) as isize;
            let dx = rng.random_range(-max_shift..=max_shift) as isize;
            rng.fill_bytes(&mut noise);
            for ch in 0..c {
                for y in 0..s {
                    let sy = (y as isize + dy).clamp(0, s as isize - 1) as usize;
                    let src_row = &src[(ch * s + sy) * s..(ch * s + sy + 1) * s];
                    let row = (ch * s + y) * s..(ch * s + y + 1) * s;
                    let noise_row = &noise[row.clone()];
                    for (x, d) in out[row].iter_mut().enumerate() {
                        let sx = (x as isize + dx).clamp(0, s as isize - 1) as usize;
                        let e = (noise_row[x] as f32 + 0.5) * noise_step - a;
                        *d = (src_row[sx] * 255.0 + e).round().clamp(0.0, 255.0) as u8;
                    }
                }
            }
        }
        let classes = (0..self.classes).map(|k| format!("class{k}")).collect();
        // Shapes are consistent by construction.
        Dataset { name: name.to_string(), kind: DatasetKind::Synthetic, images, labels, len: n, channels: c, height: s, width: s, classes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pixel-wise mean image.
    fn mean_image(d: &Dataset) -> Vec<f64> {
        let mut m = vec![0f64; d.image_size()];
        for i in 0..d.len {
            for (a, &v) in m.iter_mut().zip(d.image(i)) {
                *a += v as f64 / d.len as f64;
            }
        }
        m
    }

    /// Mean over pixels of |img − mirror(img)| (grey levels).
    fn asymmetry(img: &[f64], w: usize) -> f64 {
        let mut total = 0.0;
        for row in img.chunks_exact(w) {
            for x in 0..w {
                total += (row[x] - row[w - 1 - x]).abs();
            }
        }
        total / img.len() as f64
    }

    #[test]
    fn synthetic_is_deterministic_for_a_seed() {
        let a = synthetic(40, 10, 4, 16, 5);
        assert_eq!(a, synthetic(40, 10, 4, 16, 5));
        assert_ne!(a.train.images, synthetic(40, 10, 4, 16, 6).train.images);
        assert_eq!((a.train.len, a.test.len), (40, 10));
        assert_eq!((a.train.channels, a.train.height, a.train.width), (3, 16, 16));
        assert_eq!(a.train.class_counts(), vec![10; 4]);
        // The test split does not depend on the size of the training split.
        assert_eq!(a.test, synthetic(80, 10, 4, 16, 5).test);
    }

    #[test]
    fn synthetic_classes_are_flip_symmetric_in_distribution() {
        let d = synthetic(1200, 0, 3, 16, 1).train;
        for k in 0..3u8 {
            let idx: Vec<usize> = (0..d.len).filter(|&i| d.labels[i] == k).collect();
            let class = d.select(&idx);
            let mean = mean_image(&class);
            let mean_asym = asymmetry(&mean, 16);
            let single: f64 = (0..20).map(|i| asymmetry(&class.image(i).iter().map(|&v| v as f64).collect::<Vec<_>>(), 16)).sum::<f64>() / 20.0;
            // Individual images are clearly asymmetric, the class mean is not.
            assert!(single > 4.0 * mean_asym, "class {k}: single {single}, mean {mean_asym}");
            assert!(mean_asym < 4.0, "class {k}: mean asymmetry {mean_asym}");
        }
    }

    /// Learnability proxy: a nearest-class-mean classifier (class means are
    /// flip-symmetric) already separates the default 10 classes.
    #[test]
    fn synthetic_classes_are_separable_by_nearest_class_mean() {
        let s = synthetic(500, 200, 10, 32, 0);
        let size = s.train.image_size();
        let mut means = vec![vec![0f64; size]; 10];
        let counts = s.train.class_counts();
        for i in 0..s.train.len {
            let k = s.train.labels[i] as usize;
            for (m, &v) in means[k].iter_mut().zip(s.train.image(i)) {
                *m += v as f64 / counts[k] as f64;
            }
        }
        let correct = (0..s.test.len)
            .filter(|&i| {
                let img = s.test.image(i);
                let dist = |m: &Vec<f64>| -> f64 { m.iter().zip(img).map(|(a, &b)| (a - b as f64).powi(2)).sum() };
                let best = (0..10).min_by(|&a, &b| dist(&means[a]).total_cmp(&dist(&means[b]))).unwrap_or(0);
                best == s.test.labels[i] as usize
            })
            .count();
        assert!(correct as f64 / s.test.len as f64 > 0.9, "{correct}/200");
    }

    #[test]
    fn synthetic_grayscale_has_one_channel() {
        let s = SyntheticSpec { channels: 1, n_train: 6, n_test: 2, ..SyntheticSpec::default() }.generate();
        assert_eq!(s.train.channels, 1);
        assert_eq!(s.train.images.len(), 6 * 32 * 32);
    }

    #[test]
    fn default_spec_stats_match_constants() {
        let d = SyntheticSpec::default().generate().train;
        let (mean, std) = d.channel_stats();
        eprintln!("synthetic mean {mean:?} std {std:?}");
        for c in 0..3 {
            assert!((mean[c] - SYNTHETIC_MEAN[c] as f64).abs() < 1e-3, "{mean:?}");
            assert!((std[c] - SYNTHETIC_STD[c] as f64).abs() < 1e-3, "{std:?}");
        }
    }
}
