//! Layerwise equivariance of a network aligned with its flipped self, and variance collapse.
//!
//! After finding permutations P_j aligning flip(θ) to θ, layer j's equivariance error is
//!
//! ```text
//! e_j = ‖W_j − P_j flip_w(W_j) P_{j−1}^T‖_F / ‖W_j‖_F
//! ```
//!
//! (0 for a GCNN, whose layers satisfy flip_w(W_j) = P_j W_j P_{j−1}^T with involutions P_j). The
//! classifier's row is e = ‖W_fc − W_fc P_L^T‖ / ‖W_fc‖. The cycle structure of P_j counts
//! self-symmetric channels (fixed points), mirror pairs (2-cycles) and longer cycles.

use serde::{Deserialize, Serialize};

use crate::align::{CycleCounts, Perm, PermSpec, apply_perms, flip_kernels};
use crate::merge::MergeError;
use crate::nets::{ParamMap, Structure};
use crate::stats::{ChannelStats, PairStats};

/// Equivariance of one layer after alignment with the flipped net.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerEquivariance {
    /// Layer (weight) name.
    pub layer: String,
    /// ‖W − P flip(W) Pᵀ‖ / ‖W‖.
    pub relative_error: f64,
    /// The same without alignment (P = I): how asymmetric the raw kernels are.
    pub unaligned_error: f64,
    /// Cycle structure of this layer's output permutation (absent for the classifier).
    pub cycles: Option<CycleCounts>,
    /// Whether the output permutation is an involution.
    pub involution: Option<bool>,
}

fn rel_err(a: &ndarray::ArrayD<f32>, b: &ndarray::ArrayD<f32>) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let den: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum();
    (num / den.max(1e-300)).sqrt()
}

// ANCHOR: layerwise_equivariance
/// Per-layer equivariance errors of `params` given permutations aligning its flipped copy to it.
pub fn layerwise_equivariance(params: &ParamMap, structure: &Structure, perms: &[Perm]) -> Result<Vec<LayerEquivariance>, MergeError> {
    let spec = PermSpec::from_structure(structure)?;
    let flipped = flip_kernels(params, structure);
    let aligned = apply_perms(&flipped, &spec, perms)?;
    let mut out = Vec::new();
    for p in &structure.params {
        let is_weight = p.name.ends_with(".weight");
        if !is_weight {
            continue;
        }
        let out_space = structure.spaces.iter().position(|s| s.producer == p.name);
        out.push(LayerEquivariance {
            layer: p.layer.clone(),
            relative_error: rel_err(&params[&p.name], &aligned[&p.name]),
            unaligned_error: rel_err(&params[&p.name], &flipped[&p.name]),
            cycles: out_space.map(|s| perms[s].cycle_counts()),
            involution: out_space.map(|s| perms[s].is_involution()),
        });
    }
    Ok(out)
}
// ANCHOR_END: layerwise_equivariance

/// Per layer, the merged net's mean channel variance over the mean of the endpoints':
/// `mean_k var_merged[k] / mean_k ((var_a[k] + var_b[k]) / 2)`. Values well below 1 are
/// REPAIR's "variance collapse". `endpoints` holds the statistics of a and aligned b.
pub fn variance_ratios(merged: &[ChannelStats], endpoints: &[PairStats]) -> Vec<f64> {
    merged
        .iter()
        .zip(endpoints)
        .map(|(m, e)| {
            let vm = m.var().mean().unwrap_or(0.0);
            let ve = ((e.a.var() + e.b.var()) / 2.0).mean().unwrap_or(0.0);
            vm / ve.max(1e-300)
        })
        .collect()
}
