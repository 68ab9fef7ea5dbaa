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
//!
//! # Two corrections: the centre column and dead channels
//!
//! The plain error favours the identity. A 3×3 kernel's centre column is its own mirror image, so
//! for a channel left in place (P = I) the centre column cancels exactly whatever the kernel:
//! on unrelated kernels with i.i.d. entries the identity scores √(12/9) = √(4/3) ≈ 1.15, while any
//! channel matched to a different one scores √2 ≈ 1.41. "Aligned is worse than unaligned" is
//! then an artefact. The **off-centre error** compares only the kernel columns that flip moves
//! (columns 0 and 2 of a 3×3 kernel): there unrelated kernels score ≈ √2 whether P moves them
//! or not, and a GCNN still scores 0, so a low value is evidence of mirror structure.
//!
//! Channels that are constant over the data (dead ReLUs) carry arbitrary weights that nothing
//! downstream can see; the off-centre error, the cycle counts and the moved share are computed
//! over **live** channels only (rows of live output channels, columns of live input channels),
//! with the dead count reported beside them. The plain error keeps every channel.

use ndarray::Dimension;
use serde::{Deserialize, Serialize};

use crate::align::{CycleCounts, Perm, PermSpec, apply_perms, flip_kernels};
use crate::merge::MergeError;
use crate::nets::{LayerKind, ParamMap, Structure};
use crate::stats::{ChannelStats, PairStats};

/// Equivariance of one layer after alignment with the flipped net.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerEquivariance {
    /// Layer (weight) name.
    pub layer: String,
    /// ‖W − P flip(W) Pᵀ‖ / ‖W‖ over every channel and kernel column (the plain error).
    pub relative_error: f64,
    /// The plain error without alignment (P = I): how asymmetric the raw kernels are.
    pub unaligned_error: f64,
    /// The error over live channels and the kernel columns that flip moves (conv layers); over
    /// live input channels for the classifier. See the module docs.
    pub off_centre_error: f64,
    /// The off-centre error without alignment (P = I).
    pub unaligned_off_centre_error: f64,
    /// Live output channels (absent for the classifier).
    pub live: Option<usize>,
    /// Dead (constant) output channels, excluded from the live measures.
    pub dead: Option<usize>,
    /// Cycle structure of this layer's output permutation over cycles of live channels only.
    pub cycles: Option<CycleCounts>,
    /// Share of live output channels that the permutation moves (1 − fixed/live): near 0 means
    /// the alignment is (almost) the identity, not a match.
    pub moved_share: Option<f64>,
    /// Whether the output permutation is an involution on the live channels.
    pub involution: Option<bool>,
}

/// `‖a − b‖ / ‖a‖` over the entries `keep` selects (by multi-index).
fn rel_err_where(a: &ndarray::ArrayD<f32>, b: &ndarray::ArrayD<f32>, keep: impl Fn(&[usize]) -> bool) -> f64 {
    let (mut num, mut den) = (0f64, 0f64);
    for ((idx, x), y) in a.indexed_iter().zip(b.iter()) {
        if keep(idx.slice()) {
            num += ((x - y) as f64).powi(2);
            den += (*x as f64).powi(2);
        }
    }
    (num / den.max(1e-300)).sqrt()
}

// ANCHOR: layerwise_equivariance
/// Per-layer equivariance errors of `params` given permutations aligning its flipped copy to it.
/// `live[s][i]` says whether channel `i` of hidden space `s` is live (see
/// [`crate::align::live_channels`]); pass `None` to treat every channel as live.
pub fn layerwise_equivariance(
    params: &ParamMap,
    structure: &Structure,
    perms: &[Perm],
    live: Option<&[Vec<bool>]>,
) -> Result<Vec<LayerEquivariance>, MergeError> {
    let spec = PermSpec::from_structure(structure)?;
    let flipped = flip_kernels(params, structure);
    let aligned = apply_perms(&flipped, &spec, perms)?;
    let all_live: Vec<Vec<bool>> = structure.spaces.iter().map(|s| vec![true; s.size]).collect();
    let live = live.unwrap_or(&all_live);
    let mut out = Vec::new();
    for p in &structure.params {
        if !p.name.ends_with(".weight") || p.kind == LayerKind::BatchNorm {
            continue;
        }
        let w = &params[&p.name];
        let out_space = structure.spaces.iter().position(|s| s.producer == p.name);
        // Whether an index along each axis is live (axes that carry no hidden space: always).
        let axis_live = |idx: &[usize]| p.axes.iter().all(|&(ax, sp)| live[sp][idx[ax]]);
        let off_centre = |idx: &[usize]| {
            if p.kind == LayerKind::Conv && w.ndim() == 4 {
                let kw = w.shape()[3];
                kw.is_multiple_of(2) || idx[3] != kw / 2
            } else {
                true
            }
        };
        let keep = |idx: &[usize]| axis_live(idx) && off_centre(idx);
        let (cycles, moved_share, involution, n_live, n_dead) = match out_space {
            Some(s) => {
                let l = &live[s];
                let n_live = l.iter().filter(|&&x| x).count();
                let c = perms[s].cycle_counts_within(l);
                let inv = c.longer == 0;
                let moved = 1.0 - c.fixed as f64 / n_live.max(1) as f64;
                (Some(c), Some(moved), Some(inv), Some(n_live), Some(l.len() - n_live))
            }
            None => (None, None, None, None, None),
        };
        out.push(LayerEquivariance {
            layer: p.layer.clone(),
            relative_error: rel_err_where(w, &aligned[&p.name], |_| true),
            unaligned_error: rel_err_where(w, &flipped[&p.name], |_| true),
            off_centre_error: rel_err_where(w, &aligned[&p.name], keep),
            unaligned_off_centre_error: rel_err_where(w, &flipped[&p.name], keep),
            live: n_live,
            dead: n_dead,
            cycles,
            moved_share,
            involution,
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
