//! REPAIR (Jordan et al., ICLR 2023).
//!
//! Interpolating two aligned networks shrinks the variance of hidden units (their weights
//! partially cancel). REPAIR resets, at every *repair point*, each channel of the merged network's
//! statistics to the interpolation of the endpoints':
//!
//! ```text
//! goal mean μ* = (1−α) μ_a + α μ_b,   goal std σ* = (1−α) σ_a + α σ_b,
//! ```
//!
//! and folds the affine correction `z ↦ (z − μ) σ*/σ + μ*` into the last per-channel affine map
//! before the point: `W ← W σ*/σ`, `b ← (b − μ) σ*/σ + μ*` for a conv, `γ ← γ·σ*/σ`,
//! `β ← (β − μ)·σ*/σ + μ*` for a BatchNorm.
//!
//! The repair points ([`repair_points`]) are every BatchNorm's output in a network with
//! BatchNorm (VGG-BN: one per conv; ResNet: the stem's, both of every block and every projection
//! shortcut's — REPAIR's ResNet recipe, which corrects each normalised branch before the residual
//! sum), and every conv's output (its pre-activation) in a plain VGG.
//!
//! * [`repair`] measures the merged network's μ, σ and corrects them front to back, each point
//!   seeing the already-corrected earlier ones.
//!   - A chain of conv blocks (VGG) is corrected exactly: the stream's images are kept on the
//!     device and pushed through one layer at a time, so each layer's statistics are measured on
//!     the already-corrected earlier layers over the whole stream, in a single forward pass
//!     overall. A VGG with BatchNorm has its BatchNorm statistics reset first
//!     ([`super::reset_batch_norm`]) and the correction folded into the BatchNorm's affine
//!     parameters — REPAIR on top of BN reset, as REPAIR's BatchNorm experiments do.
//!   - Any other network with BatchNorm (the ResNet) is corrected as REPAIR's own code does: one
//!     pass in which every BatchNorm's output is normalised with its *batch* statistics and mapped
//!     to the goal (μ*, σ*), so later layers see corrected inputs; the averages of the batch means
//!     and (population) variances are then the measured μ, σ², and the correction is folded into
//!     the BatchNorm. The result is exact when one batch holds the whole stream and otherwise
//!     off by the batch-to-batch spread (of the order of 1/√(batch positions)). A residual
//!     network cannot be stepped layer by layer without holding every branch's maps for the whole
//!     stream, which is why the exact chain procedure is kept for VGG only.
//! * [`repair_closed_form`] predicts them without touching the merged network: the merged
//!   pre-activation is approximated by (1−α) z_a + α z_b, whose std is
//!   √((1−α)²σ_a² + α²σ_b² + 2α(1−α) ρ σ_a σ_b) with ρ the correlation of the matched channels
//!   (and whose mean is already μ*). For plain nets with one tap per hidden space (plain VGG).

use std::collections::BTreeMap;

use crate::activations::{Tap, batch_norm_stats, channel_stats, pair_batch_norm_stats, pair_stats};
use burn::module::Module;
use burn::nn::BatchNorm;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::ProgressBar;
use ndarray::Array1;
use serde::{Deserialize, Serialize};

use super::MergeError;
use super::bn_reset::{BatchMoments, hooked_pass};
use crate::batches::Loader;
use crate::nets::{ForwardHooks, Network, ParamMap, Vgg};
use crate::stats::{ChannelStats, PairStats};

/// How to repair a merged network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum RepairMode {
    /// Plain interpolation.
    None,
    /// Recompute BatchNorm statistics (BatchNorm nets only).
    BnReset,
    /// REPAIR with a data pass (for BatchNorm nets: BN reset, then REPAIR of the BN outputs).
    Repair,
    /// REPAIR with predicted statistics, no pass over the merged net (nets without BatchNorm).
    ClosedForm,
}

impl RepairMode {
    /// The name used on the command line, in file names and in result files.
    pub fn name(self) -> &'static str {
        match self {
            RepairMode::None => "none",
            RepairMode::BnReset => "bn-reset",
            RepairMode::Repair => "repair",
            RepairMode::ClosedForm => "closed-form",
        }
    }
}

/// Statistics of the two (aligned) endpoints at every repair point.
#[derive(Clone, Debug)]
pub struct RepairStats {
    /// Joint statistics of endpoint a's and aligned endpoint b's maps, per repair point (in the
    /// order of [`repair_points`]).
    pub layers: Vec<PairStats>,
}

/// A place whose per-channel statistics REPAIR resets, and the affine map it folds into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairPoint {
    /// The layer whose output it is: a BatchNorm (`norms.3`, `blocks.2.bn1`) or a tap point
    /// (`convs.3`).
    pub name: String,
    /// The hidden space of its channels.
    pub space: usize,
    /// The per-channel scale parameter (BatchNorm γ, or the conv weight's output rows).
    pub scale: String,
    /// The per-channel shift parameter (BatchNorm β, or the conv bias).
    pub shift: String,
}

/// The repair points of `net`: every BatchNorm's output if it has BatchNorm, else every tap
/// point's pre-activation (which must then be one per hidden space, with a biased producer).
pub fn repair_points<N: Network>(net: &N) -> Result<Vec<RepairPoint>, MergeError> {
    let structure = net.structure();
    if net.has_batch_norm() {
        return Ok(structure
            .batch_norm_layers()
            .into_iter()
            .map(|(layer, space)| RepairPoint { name: layer.to_string(), space, scale: format!("{layer}.gamma"), shift: format!("{layer}.beta") })
            .collect());
    }
    let taps = net.tap_points();
    if taps.len() != structure.spaces.len() || taps.iter().enumerate().any(|(i, t)| t.space != i) {
        return Err(MergeError::NotApplicable("REPAIR of a network without BatchNorm needs one tap point per hidden space".into()));
    }
    taps.into_iter()
        .map(|t| {
            let (scale, shift) = structure
                .output_affine(t.space)
                .ok_or_else(|| MergeError::NotApplicable(format!("hidden space {} has no per-channel affine map to fold REPAIR into", t.name)))?;
            Ok(RepairPoint { name: t.name.clone(), space: t.space, scale: scale.to_string(), shift: shift.to_string() })
        })
        .collect()
}

impl RepairStats {
    /// The endpoint statistics without a pass of their own, read off a pass that has already
    /// streamed `a` and the *unaligned* partner through the same loader — activation matching's —
    /// by permuting the partner's side with the alignment `perms` ([`PairStats::with_b_permuted`]).
    /// `pre` holds that pass's pre-activation pair statistics, one per tap point of `a`.
    ///
    /// This needs the repair points to be the pre-activation taps, which they are in a VGG (every
    /// tap is one conv block's pre-activation: its BatchNorm's output, or the conv's output
    /// without BatchNorm). For other networks (a ResNet's BatchNorms are not its taps) it returns
    /// `None`, and [`endpoint_pre_stats`] makes the pass. Up to float summation order the result
    /// is what that pass gives on `a` and the aligned partner (`tests/align_merge.rs` checks it).
    pub fn from_unaligned_pass<N: Network>(a: &N, pre: &[PairStats], perms: &[crate::align::Perm]) -> Option<RepairStats> {
        a.as_vgg()?;
        let points = repair_points(a).ok()?;
        let taps = a.tap_points();
        if points.len() != pre.len() || taps.len() != pre.len() || points.iter().zip(&taps).any(|(p, t)| p.space != t.space) {
            return None;
        }
        let layers = pre.iter().zip(&taps).map(|(st, t)| perms.get(t.space).map(|p| st.with_b_permuted(p.as_slice()))).collect::<Option<Vec<_>>>()?;
        Some(RepairStats { layers })
    }
}

/// Statistics of `a` and aligned `b` at every repair point over one pass (used for REPAIR's goals
/// and for the variance-collapse measurement): BatchNorm outputs for nets with BatchNorm,
/// pre-activations otherwise.
pub fn endpoint_pre_stats<N: Network>(a: &N, b: &N, loader: &Loader, device: &Device, progress: &ProgressBar) -> RepairStats {
    let layers = if a.has_batch_norm() {
        pair_batch_norm_stats(a, b, loader, device, progress)
    } else {
        pair_stats(a, b, &[Tap::Pre], loader, device, progress).into_iter().map(|mut t| t.remove(0)).collect()
    };
    RepairStats { layers }
}

fn goal(stats: &PairStats, alpha: f64) -> (Array1<f64>, Array1<f64>) {
    let mean = &stats.a.mean * (1.0 - alpha) + &stats.b.mean * alpha;
    let std = stats.a.std() * (1.0 - alpha) + stats.b.std() * alpha;
    (mean, std)
}

// ANCHOR: correction
/// The per-channel affine map `z ↦ z·scale + shift` taking (mean, std) to (goal mean, goal std).
fn correction(mean: &Array1<f64>, std: &Array1<f64>, goal_mean: &Array1<f64>, goal_std: &Array1<f64>) -> (Array1<f64>, Array1<f64>) {
    let scale: Array1<f64> = goal_std.iter().zip(std).map(|(g, s)| g / (s + 1e-8)).collect();
    let shift = goal_mean - &(mean * &scale);
    (scale, shift)
}

/// Fold `z ↦ z·scale + shift` into the per-channel affine map `(wn, bn)` (scale rows, shift):
/// a BatchNorm's `γ, β`, or a conv's `W, b` ([`crate::nets::Structure::output_affine`]).
fn fold(params: &mut ParamMap, (wn, bn): (&str, &str), scale: &Array1<f64>, shift: &Array1<f64>) {
    let w = params.get_mut(wn).expect("scale parameter present");
    for (k, mut row) in w.outer_iter_mut().enumerate() {
        let f = scale[k] as f32;
        row.mapv_inplace(|v| v * f);
    }
    let b = params.get_mut(bn).expect("shift parameter present");
    for k in 0..scale.len() {
        b[[k]] = (b[[k]] as f64 * scale[k] + shift[k]) as f32;
    }
}
// ANCHOR_END: correction

fn check_plain<N: Network>(net: &N) -> Result<(), MergeError> {
    if net.has_batch_norm() {
        return Err(MergeError::NotApplicable("closed-form REPAIR applies to nets without BatchNorm; use bn-reset or repair for BatchNorm nets".into()));
    }
    Ok(())
}

/// Statistics of one network at its repair points over one pass (BatchNorm outputs for nets with
/// BatchNorm, pre-activations otherwise), in the order of [`repair_points`]. In a VGG the two are
/// the same maps (each block's BatchNorm output is its pre-activation tap), read with the
/// BatchNorms folded away ([`Network::for_evaluation`]).
pub fn pre_activation_stats<N: Network>(net: &N, loader: &Loader, device: &Device) -> Vec<ChannelStats> {
    if net.has_batch_norm() && net.as_vgg().is_none() {
        batch_norm_stats(net, loader, device, &ProgressBar::hidden())
    } else {
        channel_stats(net, Tap::Pre, loader, device, &ProgressBar::hidden())
    }
}

/// REPAIR with measured statistics, front to back (see the module docs: exact for a VGG; one
/// pass with batch-statistics corrections, as REPAIR's code, for a ResNet). A BatchNorm net gets
/// the correction folded into its BatchNorm affine maps.
pub fn repair<N: Network>(merged: &N, endpoints: &RepairStats, alpha: f64, loader: &Loader, device: &Device, progress: &ProgressBar) -> Result<N, MergeError> {
    let points = repair_points(merged)?;
    if points.len() != endpoints.layers.len() {
        return Err(MergeError::Mismatch(format!("{} endpoint statistics for {} repair points", endpoints.layers.len(), points.len())));
    }
    if let Some(vgg) = merged.as_vgg() {
        return Ok(merged.with_params(&repair_chain(vgg, &points, endpoints, alpha, loader, device, progress)));
    }
    if !merged.has_batch_norm() {
        return Err(MergeError::NotApplicable("REPAIR of a network that is not a chain of conv blocks needs BatchNorm layers to fold into".into()));
    }
    Ok(merged.with_params(&repair_batch_norms(merged, &points, endpoints, alpha, loader, device, progress)))
}

/// REPAIR's one-pass correction of every BatchNorm output: normalise with batch statistics, map
/// to the goal, average the batch statistics (see the module docs).
struct ResetToGoal {
    /// Layer → goal (mean, std) as `[1, C, 1, 1]` device tensors.
    goals: BTreeMap<String, (Tensor<4>, Tensor<4>)>,
    /// Batch means and population variances of each BatchNorm's output.
    moments: BatchMoments,
}

impl ForwardHooks for ResetToGoal {
    fn batch_norm(&mut self, layer: &str, bn: &BatchNorm, z: Tensor<4>) -> Tensor<4> {
        let y = bn.forward(z);
        let Some((gm, gs)) = self.goals.get(layer) else { return y };
        let (mean, var) = batch_moments(&y);
        self.moments.add(layer, mean.clone(), var.clone());
        (y - mean) / (var.sqrt() + 1e-8) * gs.clone() + gm.clone()
    }
}

/// Per-channel batch mean and population variance of `z`, each `[1, C, 1, 1]`
/// ([`crate::stats::moments`]).
fn batch_moments(z: &Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    let c = z.dims()[1];
    let (count, mean, m2) = crate::stats::moments(z.clone());
    (mean.reshape([1, c, 1, 1]), (m2 / count as f32).reshape([1, c, 1, 1]))
}

/// `v` as a `[1, C, 1, 1]` f32 tensor on `device`, to scale or shift a `[N, C, H, W]` map.
fn channel_tensor(v: &Array1<f64>, device: &Device) -> Tensor<4> {
    let c = v.len();
    Tensor::<1>::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), [c]), device).reshape([1, c, 1, 1])
}

fn repair_batch_norms<N: Network>(
    merged: &N,
    points: &[RepairPoint],
    endpoints: &RepairStats,
    alpha: f64,
    loader: &Loader,
    device: &Device,
    progress: &ProgressBar,
) -> ParamMap {
    let device = device.clone().inner();
    let net = merged.for_inference();
    let goals: Vec<(Array1<f64>, Array1<f64>)> = endpoints.layers.iter().map(|st| goal(st, alpha)).collect();
    let mut hooks = ResetToGoal {
        goals: points.iter().zip(&goals).map(|(p, (gm, gs))| (p.name.clone(), (channel_tensor(gm, &device), channel_tensor(gs, &device)))).collect(),
        moments: BatchMoments::default(),
    };
    let batches = hooked_pass(&net, &mut hooks, loader, &device, progress);
    let measured = hooks.moments.into_averages(batches);
    let mut params = net.to_params();
    for (p, (gm, gs)) in points.iter().zip(&goals) {
        let Some((mean, var)) = measured.get(&p.name) else { continue };
        let (scale, shift) = correction(mean, &var.mapv(f64::sqrt), gm, gs);
        fold(&mut params, (&p.scale, &p.shift), &scale, &shift);
    }
    params
}

/// The exact front-to-back REPAIR of a chain of conv blocks: the stream's images are kept on the
/// device and pushed through one layer at a time, so each layer's statistics are measured exactly
/// on the already-corrected earlier layers in a single forward pass overall. A BatchNorm net has
/// its BatchNorm statistics reset first. Returns the repaired parameters.
fn repair_chain(
    merged: &Vgg,
    points: &[RepairPoint],
    endpoints: &RepairStats,
    alpha: f64,
    loader: &Loader,
    device: &Device,
    progress: &ProgressBar,
) -> ParamMap {
    let merged = &super::reset_batch_norm(merged, loader, device, &ProgressBar::hidden());
    let device = device.clone().inner();
    let net = merged.valid();
    let mut params = net.to_params();
    let mut inputs: Vec<Tensor<4>> = loader.iter(0, &device).map(|(x, _)| x).collect();
    for (i, point) in points.iter().enumerate().take(net.convs.len()) {
        let zs: Vec<Tensor<4>> = inputs.drain(..).map(|x| net.pre_activation(i, x)).collect();
        let mut s = ChannelStats::new(net.conv_channels()[i]);
        for z in &zs {
            s.update(z.clone());
        }
        let (gm, gs) = goal(&endpoints.layers[i], alpha);
        let (scale, shift) = correction(&s.mean, &s.std(), &gm, &gs);
        fold(&mut params, (&point.scale, &point.shift), &scale, &shift);
        let (st, sh) = (channel_tensor(&scale, &device), channel_tensor(&shift, &device));
        inputs = zs.into_iter().map(|z| net.pool_if_after(i, relu(z * st.clone() + sh.clone()))).collect();
        progress.inc(1);
    }
    params
}

/// REPAIR with the closed-form prediction of the merged statistics (no pass over the merged net).
pub fn repair_closed_form<N: Network>(merged: &N, endpoints: &RepairStats, alpha: f64) -> Result<N, MergeError> {
    check_plain(merged)?;
    let points = repair_points(merged)?;
    if points.len() != endpoints.layers.len() {
        return Err(MergeError::Mismatch(format!("{} endpoint statistics for {} repair points", endpoints.layers.len(), points.len())));
    }
    let mut params = merged.to_params();
    for (i, st) in endpoints.layers.iter().enumerate() {
        let (gm, gs) = goal(st, alpha);
        let (sa, sb) = (st.a.std(), st.b.std());
        let cov = st.cov();
        let pred_std: Array1<f64> = (0..sa.len())
            .map(|k| {
                let v = (1.0 - alpha).powi(2) * sa[k] * sa[k] + alpha * alpha * sb[k] * sb[k] + 2.0 * alpha * (1.0 - alpha) * cov[[k, k]];
                v.max(0.0).sqrt()
            })
            .collect();
        let (scale, shift) = correction(&gm, &pred_std, &gm, &gs);
        fold(&mut params, (&points[i].scale, &points[i].shift), &scale, &shift);
    }
    Ok(merged.with_params(&params))
}
