//! Numerical check of **G-equivariance**: f(ρ_in(g) x) = ρ_out(g) f(x).
//!
//! It suffices to check the generators s: if the identity holds for s and t it holds for st,
//! since f(ρ_in(st)x) = f(ρ_in(s)ρ_in(t)x) = ρ_out(s) f(ρ_in(t)x) = ρ_out(s)ρ_out(t) f(x).
//! [`check_equivariance`] draws a seeded batch of standard normal inputs, and for every generator
//! reports the worst absolute violation max |f(ρ_in(s)x) − ρ_out(s)f(x)| over batch and
//! coordinates, and the relative violation: that number divided by max |f(x)| over the batch
//! (floored at 1e-12). This is evidence on a sample, not a proof; for the exact statements see
//! [`layerwise`](super::layerwise) (a "yes" there implies equivariance).

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::TheoryError;
use super::group::GroupAction;
use super::linalg::{max_abs, max_abs_diff};
use super::mlp::Mlp;
use super::sample;

/// Violation of f(ρ_in(s)x) = ρ_out(s)f(x) for one generator s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorViolation {
    /// Generator index.
    pub generator: usize,
    /// max |f(ρ_in(s)x) − ρ_out(s)f(x)|.
    pub abs: f64,
    /// abs / max |f(x)|.
    pub rel: f64,
}

/// Result of [`check_equivariance`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquivarianceReport {
    /// Number of random inputs.
    pub samples: usize,
    /// One entry per generator.
    pub per_generator: Vec<GeneratorViolation>,
    /// Worst absolute violation over generators.
    pub worst_abs: f64,
    /// Worst relative violation over generators.
    pub worst_rel: f64,
}

impl EquivarianceReport {
    /// Is the worst relative violation at most `tol`?
    pub fn is_equivariant(&self, tol: f64) -> bool {
        self.worst_rel <= tol
    }
}

/// An error unless the group acts on `f`'s input and output spaces.
pub(crate) fn check_dims(f: &Mlp, action: &GroupAction) -> Result<(), TheoryError> {
    if action.input.dim() != f.input_dim() || action.output.dim() != f.output_dim() {
        return Err(TheoryError::Shape(format!(
            "network maps R^{} → R^{} but the group acts on R^{} and R^{}",
            f.input_dim(),
            f.output_dim(),
            action.input.dim(),
            action.output.dim()
        )));
    }
    Ok(())
}

/// Check f(ρ_in(s)x) = ρ_out(s)f(x) for every generator s on `samples` seeded N(0, I) inputs.
pub fn check_equivariance(f: &Mlp, action: &GroupAction, samples: usize, seed: u64) -> Result<EquivarianceReport, TheoryError> {
    check_dims(f, action)?;
    let mut rng = sample::rng(seed);
    let x: Array2<f64> = sample::normal_matrix(&mut rng, samples, f.input_dim());
    let fx = f.forward(&x);
    let scale = max_abs(&fx).max(1e-12);
    let per_generator: Vec<GeneratorViolation> = action
        .input
        .generators
        .iter()
        .zip(&action.output.generators)
        .enumerate()
        .map(|(s, (rin, rout))| {
            // Row-major batch: ρ x for every row is X ρ^T.
            let lhs = f.forward(&x.dot(&rin.t()));
            let rhs = fx.dot(&rout.t());
            let abs = max_abs_diff(&lhs, &rhs);
            GeneratorViolation { generator: s, abs, rel: abs / scale }
        })
        .collect();
    let worst_abs = per_generator.iter().map(|v| v.abs).fold(0.0, f64::max);
    let worst_rel = per_generator.iter().map(|v| v.rel).fold(0.0, f64::max);
    Ok(EquivarianceReport { samples, per_generator, worst_abs, worst_rel })
}

#[cfg(test)]
mod tests {
    use super::super::group::Representation;
    use super::super::linalg::from_rows;
    use super::*;

    #[test]
    fn sum_of_relus_of_coordinates_is_swap_invariant() {
        // f(x) = σ(x_1) + σ(x_2): symmetric by construction.
        let f = Mlp::from_weights(vec![Array2::eye(2), from_rows(&[vec![1.0, 1.0]]).unwrap()]).unwrap();
        let r = check_equivariance(&f, &GroupAction::invariant(Representation::swap(2, 0, 1), 1), 64, 0).unwrap();
        assert_eq!(r.worst_abs, 0.0);
        assert!(r.is_equivariant(1e-12));
    }

    #[test]
    fn random_networks_are_not_equivariant() {
        for seed in 0..50 {
            let f = Mlp::random(&[3, 8, 3], seed).unwrap();
            let action = GroupAction::same_on_output(Representation::cyclic_shift(3));
            let r = check_equivariance(&f, &action, 64, seed).unwrap();
            assert!(r.worst_rel > 1e-3, "seed {seed}: {r:?}");
        }
    }

    #[test]
    fn identity_network_is_equivariant_for_sign_flips_only_when_linear() {
        // f(x) = x (linear, no ReLU) commutes with every ρ; f(x) = σ(x) does not commute with −1.
        let lin = Mlp::from_weights(vec![Array2::eye(2)]).unwrap();
        let relu = Mlp::from_weights(vec![Array2::eye(2), Array2::eye(2)]).unwrap();
        let action = GroupAction::same_on_output(Representation::sign_flip(2, 0));
        assert!(check_equivariance(&lin, &action, 32, 1).unwrap().is_equivariant(1e-12));
        assert!(!check_equivariance(&relu, &action, 32, 1).unwrap().is_equivariant(1e-3));
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let f = Mlp::random(&[3, 4, 1], 0).unwrap();
        let action = GroupAction::invariant(Representation::swap(2, 0, 1), 1);
        assert!(matches!(check_equivariance(&f, &action, 4, 0), Err(TheoryError::Shape(_))));
    }
}
