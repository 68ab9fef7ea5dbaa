//! Seeded random instances for the property tests and examples (rand 0.10, `StdRng`).
//!
//! Gaussian samples use the Box–Muller transform (no extra distribution crate needed).

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use super::TheoryError;
use super::linalg;
use super::relu_commute::ScaledPermutation;

/// A seeded, reproducible generator.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// One standard normal sample (Box–Muller).
pub fn normal(rng: &mut StdRng) -> f64 {
    // u1 ∈ (0, 1] so that ln(u1) is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Uniform sample x with lo ≤ x < hi.
pub fn uniform(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    rng.random_range(lo..hi)
}

/// Matrix with i.i.d. standard normal entries.
pub fn normal_matrix(rng: &mut StdRng, rows: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_simple_fn((rows, cols), || normal(rng))
}

/// Vector with i.i.d. standard normal entries.
pub fn normal_vector(rng: &mut StdRng, n: usize) -> Array1<f64> {
    Array1::from_shape_simple_fn(n, || normal(rng))
}

/// Uniformly random permutation of 0..n.
pub fn permutation(rng: &mut StdRng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(rng);
    p
}

/// Random P·D with P uniform and the diagonal of D log-uniform between 0.25 and 4.
pub fn scaled_permutation(rng: &mut StdRng, n: usize) -> ScaledPermutation {
    let perm = permutation(rng, n);
    let scales = (0..n).map(|_| uniform(rng, -4f64.ln(), 4f64.ln()).exp()).collect();
    ScaledPermutation { perm, scales }
}

/// Random well-conditioned invertible n×n matrix: Gaussian, resampled until ‖A‖_∞·‖A^{-1}‖_∞ ≤ 1e4.
pub fn invertible(rng: &mut StdRng, n: usize) -> Result<Array2<f64>, TheoryError> {
    for _ in 0..100 {
        let a = normal_matrix(rng, n, n);
        if let Ok(inv) = linalg::inverse(&a)
            && condition_inf(&a, &inv) <= 1e4
        {
            return Ok(a);
        }
    }
    Err(TheoryError::Construction(format!("no well-conditioned {n}×{n} matrix in 100 tries")))
}

/// ‖A‖_∞ ‖A^{-1}‖_∞ (max row sum norm), given both matrices.
pub fn condition_inf(a: &Array2<f64>, inv: &Array2<f64>) -> f64 {
    let norm = |m: &Array2<f64>| m.rows().into_iter().map(|r| r.iter().map(|v| v.abs()).sum::<f64>()).fold(0.0, f64::max);
    norm(a) * norm(inv)
}
