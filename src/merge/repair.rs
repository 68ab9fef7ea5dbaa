//! REPAIR (Jordan et al., ICLR 2023).
//!
//! Interpolating two aligned networks shrinks the variance of hidden units (their weights
//! partially cancel). REPAIR resets, for every channel of every conv, the merged network's
//! pre-activation statistics to the interpolation of the endpoints':
//!
//! ```text
//! goal mean μ* = (1−α) μ_a + α μ_b,   goal std σ* = (1−α) σ_a + α σ_b,
//! ```
//!
//! and folds the affine correction `z ↦ (z − μ) σ*/σ + μ*` into the conv: `W ← W σ*/σ`,
//! `b ← (b − μ) σ*/σ + μ*`.
//!
//! * [`repair`] measures the merged network's μ, σ layer by layer, front to back, each layer
//!   seeing the already-corrected earlier layers (exact statistics, one forward pass in all).
//!   For a network with BatchNorm the pre-activation is the BatchNorm's output: the merged net's
//!   BatchNorm statistics are first reset ([`super::reset_batch_norm`]), then the correction is
//!   folded into the BatchNorm's affine parameters, `γ ← γ·σ*/σ`, `β ← (β − μ)·σ*/σ + μ*` — REPAIR
//!   on top of BN reset, as REPAIR's BatchNorm experiments do.
//! * [`repair_closed_form`] predicts them without touching the merged network: the merged
//!   pre-activation is approximated by (1−α) z_a + α z_b, whose std is
//!   √((1−α)²σ_a² + α²σ_b² + 2α(1−α) ρ σ_a σ_b) with ρ the correlation of the matched channels
//!   (and whose mean is already μ*).

use crate::activations::{Tap, channel_stats, pair_stats};
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::ProgressBar;
use ndarray::Array1;
use serde::{Deserialize, Serialize};

use super::MergeError;
use crate::batches::Loader;
use crate::nets::{ParamMap, Structure, Vgg};
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

/// Per-layer pre-activation statistics of the two (aligned) endpoints.
#[derive(Clone, Debug)]
pub struct RepairStats {
    /// Joint statistics of endpoint a's and aligned endpoint b's pre-activations, per conv.
    pub layers: Vec<PairStats>,
}

/// Pre-activation statistics of `a` and aligned `b` over one pass (used for REPAIR's goals and
/// for the variance-collapse measurement).
pub fn endpoint_pre_stats(a: &Vgg, b: &Vgg, loader: &Loader, device: &Device, progress: &ProgressBar) -> RepairStats {
    RepairStats { layers: pair_stats(a, b, &[Tap::Pre], loader, device, progress).into_iter().map(|mut t| t.remove(0)).collect() }
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

/// Fold `z ↦ z·scale + shift` into hidden space `s`'s last affine map before its ReLU (the
/// BatchNorm's `γ, β`, or the conv's `W, b`: [`Structure::output_affine`]).
fn fold(params: &mut ParamMap, structure: &Structure, s: usize, scale: &Array1<f64>, shift: &Array1<f64>) {
    let (wn, bn) = structure.output_affine(s).expect("every hidden space has an affine map before its ReLU");
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

fn check_plain(net: &Vgg) -> Result<(), MergeError> {
    if net.has_batch_norm() {
        return Err(MergeError::NotApplicable("closed-form REPAIR applies to nets without BatchNorm; use bn-reset or repair for BatchNorm nets".into()));
    }
    Ok(())
}

/// Pre-activation statistics of one network over one pass.
pub fn pre_activation_stats(net: &Vgg, loader: &Loader, device: &Device) -> Vec<ChannelStats> {
    channel_stats(net, Tap::Pre, loader, device, &ProgressBar::hidden())
}

/// REPAIR with measured statistics, front to back: the stream's images are kept on the device
/// and pushed through one layer at a time, so each layer's statistics are measured exactly on the
/// already-corrected earlier layers in a single forward pass overall. A BatchNorm net has its
/// BatchNorm statistics reset first and the correction folded into the BatchNorm affine maps.
pub fn repair(merged: &Vgg, endpoints: &RepairStats, alpha: f64, loader: &Loader, device: &Device, progress: &ProgressBar) -> Result<Vgg, MergeError> {
    let merged = &super::reset_batch_norm(merged, loader, device, &ProgressBar::hidden());
    let structure = merged.structure();
    let device = device.clone().inner();
    let net = merged.valid();
    let mut params = net.to_params();
    let mut inputs: Vec<Tensor<4>> = loader.iter(0, &device).map(|(x, _)| x).collect();
    for i in 0..net.convs.len() {
        let zs: Vec<Tensor<4>> = inputs.drain(..).map(|x| net.pre_activation(i, x)).collect();
        let mut s = ChannelStats::new(net.conv_channels()[i]);
        for z in &zs {
            s.update(z.clone());
        }
        let (gm, gs) = goal(&endpoints.layers[i], alpha);
        let (scale, shift) = correction(&s.mean, &s.std(), &gm, &gs);
        fold(&mut params, &structure, i, &scale, &shift);
        let c = scale.len();
        let to_t =
            |v: &Array1<f64>| Tensor::<1>::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), [c]), &device).reshape([1, c, 1, 1]);
        let (st, sh) = (to_t(&scale), to_t(&shift));
        inputs = zs.into_iter().map(|z| net.pool_if_after(i, relu(z * st.clone() + sh.clone()))).collect();
        progress.inc(1);
    }
    Ok(merged.with_params(&params))
}

/// REPAIR with the closed-form prediction of the merged statistics (no pass over the merged net).
pub fn repair_closed_form(merged: &Vgg, endpoints: &RepairStats, alpha: f64) -> Result<Vgg, MergeError> {
    check_plain(merged)?;
    let mut params = merged.to_params();
    let structure = merged.structure();
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
        fold(&mut params, &structure, i, &scale, &shift);
    }
    Ok(merged.with_params(&params))
}
