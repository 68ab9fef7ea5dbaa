//! Barriers along the interpolation path θ_α = (1−α)θ_a + αθ_b.
//!
//! * Midpoint barrier (α = ½): accuracy — mean of the endpoints minus the merged net's;
//!   loss — the merged net's minus the endpoints' mean.
//! * Entezari et al.'s barrier: sup_α [L(θ_α) − ((1−α)L(θ_a) + αL(θ_b))] over the α grid (and the
//!   same for the accuracy deficit).

use serde::{Deserialize, Serialize};

/// One evaluated point of the path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Interpolation weight of the second network.
    pub alpha: f64,
    /// Test accuracy (fraction).
    pub accuracy: f64,
    /// Test cross-entropy.
    pub loss: f64,
}

/// Barrier summary of a path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Barriers {
    /// Mean endpoint accuracy minus accuracy at α = ½ (`None` if ½ is not on the grid).
    pub midpoint_accuracy: Option<f64>,
    /// Loss at α = ½ minus mean endpoint loss.
    pub midpoint_loss: Option<f64>,
    /// sup_α [L(θ_α) − ((1−α)L_a + αL_b)].
    pub loss_barrier: f64,
    /// sup_α [((1−α)A_a + αA_b) − A(θ_α)].
    pub accuracy_barrier: f64,
}

/// Barriers of a path whose grid includes α = 0 and α = 1.
///
/// Panics if either endpoint is missing.
pub fn barriers(curve: &[CurvePoint]) -> Barriers {
    let at = |a: f64| curve.iter().find(|p| (p.alpha - a).abs() < 1e-9);
    let (p0, p1) = (at(0.0).expect("α = 0 on the grid"), at(1.0).expect("α = 1 on the grid"));
    let mid = at(0.5);
    let line = |a: f64, v0: f64, v1: f64| (1.0 - a) * v0 + a * v1;
    Barriers {
        midpoint_accuracy: mid.map(|m| (p0.accuracy + p1.accuracy) / 2.0 - m.accuracy),
        midpoint_loss: mid.map(|m| m.loss - (p0.loss + p1.loss) / 2.0),
        loss_barrier: curve.iter().map(|p| p.loss - line(p.alpha, p0.loss, p1.loss)).fold(f64::NEG_INFINITY, f64::max),
        accuracy_barrier: curve.iter().map(|p| line(p.alpha, p0.accuracy, p1.accuracy) - p.accuracy).fold(f64::NEG_INFINITY, f64::max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barriers_measure_the_bump_above_the_line() {
        let pt = |alpha, accuracy, loss| CurvePoint { alpha, accuracy, loss };
        let c = vec![pt(0.0, 0.9, 0.3), pt(0.25, 0.7, 0.9), pt(0.5, 0.5, 1.5), pt(1.0, 0.8, 0.5)];
        let b = barriers(&c);
        assert!((b.midpoint_accuracy.unwrap() - 0.35).abs() < 1e-12);
        assert!((b.midpoint_loss.unwrap() - 1.1).abs() < 1e-12);
        assert!((b.loss_barrier - 1.1).abs() < 1e-12);
        assert!((b.accuracy_barrier - 0.35).abs() < 1e-12);
        // a straight path has no barrier
        let flat = vec![pt(0.0, 0.9, 0.3), pt(0.5, 0.85, 0.4), pt(1.0, 0.8, 0.5)];
        let b = barriers(&flat);
        assert!(b.loss_barrier.abs() < 1e-12 && b.accuracy_barrier.abs() < 1e-12);
    }
}
