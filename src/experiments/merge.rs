//! The paper's merging experiment, one code path for the GCNN barrier and the ordinary barrier.
//!
//! 1. The partner: the flipped network `x ↦ f(hflip x)` (GCNN barrier) or a twin trained from
//!    another seed (ordinary barrier).
//! 2. Align the partner to the network: activation matching (REPAIR), weight matching (Git
//!    Re-Basin) from the identity, or weight matching started from activation matching's
//!    permutations. One activation-statistics pass is made in every case: it finds the dead
//!    channels that the live-channel measures leave out. For a VGG the same pass also gives the
//!    endpoints' statistics at the repair points (REPAIR's goals, the variance ratios' baseline),
//!    read with the partner's channels permuted; other networks take one more pass for them.
//! 3. For each α on the grid: interpolate, repair (none, BN reset, REPAIR, closed-form REPAIR),
//!    evaluate on the test set. Endpoints are evaluated as they are. Several repair modes share
//!    one alignment and the endpoint evaluations ([`merge_experiments`]).
//! 4. Barriers, per-layer equivariance errors (flip partner), variance collapse at α = ½.
//!
//! Every step is generic over [`Network`]: VGGs and ResNets (and a checkpoint's
//! [`crate::nets::Net`], either of them) take the same path.

use std::time::Instant;

use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::align::{LayerStats, PermSet, PermSpec, WeightMatchingOptions, activation_stats, perms_from_stats, weight_matching, weight_matching_from};
use crate::batches::{Loader, choose_layout};
use crate::data::{Augment, Splits};
use crate::merge::{
    MergeError, RepairMode, RepairStats, endpoint_pre_stats, interpolate, permute_model, pre_activation_stats, repair, repair_closed_form, reset_batch_norm,
};
use crate::metrics::{Barriers, CurvePoint, LayerEquivariance, barriers, layerwise_equivariance, variance_ratios};
use crate::nets::Network;
use crate::stats::PairStats;
use crate::train::{EvalMetrics, accuracy_and_loss, evaluate_on};

/// How to find the permutations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Correlation of activations (REPAIR).
    Activation,
    /// Inner products of weights (Git Re-Basin), coordinate descent from the identity.
    Weight,
    /// Weight matching started from activation matching's permutations.
    #[value(name = "weight-warm")]
    #[serde(rename = "weight-warm")]
    WeightWarm,
}

impl Method {
    /// Every method, in table order.
    pub const ALL: [Method; 3] = [Method::Activation, Method::Weight, Method::WeightWarm];

    /// Short name used in file names and tables.
    pub fn name(self) -> &'static str {
        match self {
            Method::Activation => "activation",
            Method::Weight => "weight",
            Method::WeightWarm => "weight-warm",
        }
    }
}

/// Settings of an alignment / merge run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergeConfig {
    /// Matching method.
    pub method: Method,
    /// Repair of the merged nets.
    pub repair: RepairMode,
    /// α grid (must contain 0 and 1; ½ for the midpoint barrier).
    pub alphas: Vec<f64>,
    /// Training images streamed for activation statistics, BN reset and REPAIR. Default 5000.
    pub stats_images: usize,
    /// Whether that stream is augmented (crop + flip, as REPAIR's training loader). Default true.
    pub stats_augmented: bool,
    /// Test images evaluated per α (default all); fewer are a class-stratified sample.
    pub eval_images: Option<usize>,
    /// Batch size of every pass. Default 500.
    pub batch_size: usize,
    /// Seed of the statistics stream and of weight matching's sweep order. Default 0.
    pub seed: u64,
    /// Measure the variance collapse at α = ½ ([`MergeOutcome::variance_ratio_before`] and
    /// `_after`): two more passes of the statistics stream, through the merged net before and
    /// after repair. Default true; results written before this setting existed measured it.
    #[serde(default = "measured")]
    pub variance_ratios: bool,
}

fn measured() -> bool {
    true
}

impl Default for MergeConfig {
    fn default() -> Self {
        Self {
            method: Method::Activation,
            repair: RepairMode::None,
            alphas: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            stats_images: 5000,
            stats_augmented: true,
            eval_images: None,
            batch_size: 500,
            seed: 0,
            variance_ratios: true,
        }
    }
}

/// Alignment of a partner network to the reference network.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Alignment {
    /// Method used.
    pub method: Method,
    /// One permutation per hidden space, applied to the partner.
    pub perms: PermSet,
    /// Per hidden space: mean correlation of matched live channels (activation matching only).
    pub matched_corr: Option<Vec<f64>>,
    /// Per hidden space: which channels of the reference are live over the statistics stream.
    pub live_a: Vec<Vec<bool>>,
    /// Per hidden space: which channels of the (unaligned) partner are live.
    pub live_b: Vec<Vec<bool>>,
    /// Weight-matching objective `Σ ⟨θ_a, P·θ_b⟩` at the start of the descent (weight methods).
    pub initial_objective: Option<f64>,
    /// Weight-matching objective after each sweep (weight methods).
    pub objective_per_sweep: Option<Vec<f64>>,
    /// The weight-matching objective of the final permutations (every method, so that methods
    /// can be compared on it).
    pub weight_objective: f64,
    /// Images streamed (activation matching).
    pub images: usize,
    /// Whether the stream was augmented.
    pub augmented: bool,
    /// Seconds spent.
    pub seconds: f64,
}

/// A progress bar of `len` items labelled `what` (hidden unless `show`).
pub(crate) fn bar(len: u64, show: bool, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template(&format!("{what:>12} {{bar:30}} {{pos}}/{{len}} [{{elapsed}}<{{eta}}]")).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

/// The loader used for statistics (activation matching, BN reset, REPAIR).
pub fn stats_loader<'a>(splits: &'a Splits, cfg: &MergeConfig) -> Loader<'a> {
    let l = if cfg.stats_augmented {
        Loader::augmented(&splits.train, cfg.batch_size, Augment::default(), cfg.seed)
    } else {
        Loader::ordered(&splits.train, cfg.batch_size)
    };
    l.limit(Some(cfg.stats_images))
}

/// Align `partner` to `reference`.
pub fn align<N: Network>(reference: &N, partner: &N, cfg: &MergeConfig, splits: &Splits, device: &Device, show: bool) -> Result<Alignment, MergeError> {
    Ok(align_with_stats(reference, partner, cfg, &stats_loader(splits, cfg), device, show)?.0)
}

/// [`align`] over the statistics stream `loader`, also returning the activation statistics of
/// its pass (per hidden space, of the reference and the unaligned partner).
fn align_with_stats<N: Network>(
    reference: &N,
    partner: &N,
    cfg: &MergeConfig,
    loader: &Loader,
    device: &Device,
    show: bool,
) -> Result<(Alignment, Vec<LayerStats>), MergeError> {
    let t = Instant::now();
    let pb = bar(loader.images() as u64, show, "statistics");
    let stats = activation_stats(reference, partner, loader, device, &pb);
    let act = perms_from_stats(&stats);
    pb.finish_and_clear();
    let spec = PermSpec::from_structure(&reference.structure())?;
    let (pa, pb) = (reference.to_params(), partner.to_params());
    let opts = WeightMatchingOptions { seed: cfg.seed, ..WeightMatchingOptions::default() };
    let (perms, matched_corr, initial_objective, objective_per_sweep) = match cfg.method {
        Method::Activation => (act.perms.clone(), Some(act.matched_corr.clone()), None, None),
        Method::Weight | Method::WeightWarm => {
            let m = if cfg.method == Method::Weight {
                weight_matching(&pa, &pb, &spec, &opts)?
            } else {
                weight_matching_from(&pa, &pb, &spec, &opts, act.perms.clone())?
            };
            (m.perms, None, Some(m.initial_objective), Some(m.objective_per_sweep))
        }
    };
    let at = WeightMatchingOptions { max_sweeps: 0, ..opts };
    let weight_objective = weight_matching_from(&pa, &pb, &spec, &at, perms.clone())?.initial_objective;
    let alignment = Alignment {
        method: cfg.method,
        perms,
        matched_corr,
        live_a: act.live_a,
        live_b: act.live_b,
        initial_objective,
        objective_per_sweep,
        weight_objective,
        images: loader.images(),
        augmented: loader.is_augmented(),
        seconds: t.elapsed().as_secs_f64(),
    };
    Ok((alignment, stats))
}

/// Per-layer equivariance of `net` given an alignment of its flipped copy to it (live-channel
/// measures over the channels live in `net`).
pub fn equivariance_report<N: Network>(net: &N, alignment: &Alignment) -> Result<Vec<LayerEquivariance>, MergeError> {
    layerwise_equivariance(&net.to_params(), &net.structure(), &alignment.perms, Some(&alignment.live_a))
}

/// One evaluated merge point.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "MergePointFile")]
pub struct MergePoint {
    /// α.
    pub alpha: f64,
    /// Test accuracy of the (repaired) merged net (fraction).
    pub accuracy: f64,
    /// Its mean test cross-entropy.
    pub loss: f64,
    /// The full metrics, flip invariance included (endpoints only; interior points are evaluated
    /// without the flipped pass).
    pub full: Option<EvalMetrics>,
}

/// A merge point as stored: the current layout, or the one written before points carried their
/// accuracy and loss themselves (`{alpha, metrics: {…}}`, e.g. `results/cpu/merge-*.json`).
#[derive(Deserialize)]
#[serde(untagged)]
enum MergePointFile {
    Current {
        alpha: f64,
        accuracy: f64,
        loss: f64,
        #[serde(default)]
        full: Option<EvalMetrics>,
    },
    Legacy {
        alpha: f64,
        metrics: EvalMetrics,
    },
}

impl From<MergePointFile> for MergePoint {
    fn from(p: MergePointFile) -> Self {
        match p {
            MergePointFile::Current { alpha, accuracy, loss, full } => MergePoint { alpha, accuracy, loss, full },
            MergePointFile::Legacy { alpha, metrics } => MergePoint { alpha, accuracy: metrics.accuracy, loss: metrics.loss, full: Some(metrics) },
        }
    }
}

/// Everything a merge run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MergeOutcome {
    /// The settings.
    pub config: MergeConfig,
    /// The alignment.
    pub alignment: Alignment,
    /// Per α (endpoints as they are, interior points repaired).
    pub curve: Vec<MergePoint>,
    /// Barriers of the curve.
    pub barriers: Barriers,
    /// Accuracy at α = ½ without alignment and without repair (for contrast).
    pub unaligned_midpoint_accuracy: Option<f64>,
    /// Per layer: merged/endpoint pre-activation variance at α = ½, before repair (empty when
    /// the grid has no ½ or [`MergeConfig::variance_ratios`] is off).
    pub variance_ratio_before: Vec<f64>,
    /// The same after repair (equal to `before` when no repair).
    pub variance_ratio_after: Vec<f64>,
    /// Seconds: alignment, endpoint statistics, merging + repair, evaluation, total.
    pub seconds: Timings,
}

impl MergeOutcome {
    /// The curve as a table: α, test accuracy (%) and test cross-entropy of the merged net.
    pub fn curve_table(&self) -> crate::tables::Table {
        use crate::tables::{Table, Values};
        Table::new()
            .col("alpha", "", Values::F64(self.curve.iter().map(|p| p.alpha).collect()))
            .col("test accuracy", "%", Values::F64(self.curve.iter().map(|p| 100.0 * p.accuracy).collect()))
            .col("test loss", "nats", Values::F64(self.curve.iter().map(|p| p.loss).collect()))
    }
}

/// Wall-clock breakdown.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Finding the permutations.
    pub align: f64,
    /// Endpoint statistics (REPAIR goals and variance ratios): a pass of its own for a ResNet,
    /// next to nothing for a VGG (read off the alignment's pass).
    pub stats: f64,
    /// Interpolation and repair over the grid, and the variance-collapse passes when measured
    /// ([`MergeConfig::variance_ratios`]).
    pub merge_repair: f64,
    /// Test-set evaluation over the grid.
    pub evaluate: f64,
    /// Everything, with (on LibTorch) measuring which batch layout is faster
    /// ([`crate::batches::choose_layout`]).
    pub total: f64,
}

/// The network merged with the reference.
#[derive(Debug)]
pub enum Partner<'a, N> {
    /// The reference's own flipped copy x ↦ f(hflip x): the GCNN barrier.
    Flip,
    /// An independently trained twin: the ordinary barrier.
    Twin(&'a N),
}

impl<N> Clone for Partner<'_, N> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<N> Copy for Partner<'_, N> {}

/// Align, merge along the α grid, repair and evaluate.
///
/// For the flip partner, the α = 1 endpoint (the aligned flipped net, which computes
/// x ↦ f(hflip x) exactly) is read off the α = 0 evaluation, which already computes f(hflip x).
pub fn merge_experiment<N: Network>(
    a: &N,
    partner: Partner<'_, N>,
    cfg: &MergeConfig,
    splits: &Splits,
    device: &Device,
    show: bool,
) -> Result<MergeOutcome, MergeError> {
    let mut all = merge_experiments(a, partner, cfg, &[cfg.repair], splits, device, show)?;
    Ok(all.remove(0))
}

fn check_repair(repair: RepairMode, batch_norm: bool) -> Result<(), MergeError> {
    match (repair, batch_norm) {
        (RepairMode::BnReset, false) => Err(MergeError::NotApplicable("bn-reset needs a network with BatchNorm; use repair or closed-form".into())),
        (RepairMode::ClosedForm, true) => Err(MergeError::NotApplicable("closed-form REPAIR applies to nets without BatchNorm; use bn-reset or repair".into())),
        _ => Ok(()),
    }
}

/// [`merge_experiment`] for several repair modes at once: one alignment, one set of endpoint
/// statistics and one evaluation of each endpoint serve every mode (`cfg.repair` is ignored).
pub fn merge_experiments<N: Network>(
    a: &N,
    partner: Partner<'_, N>,
    cfg: &MergeConfig,
    repairs: &[RepairMode],
    splits: &Splits,
    device: &Device,
    show: bool,
) -> Result<Vec<MergeOutcome>, MergeError> {
    let is_flip = matches!(partner, Partner::Flip);
    let flipped;
    let partner = match partner {
        Partner::Flip => {
            flipped = a.flipped();
            &flipped
        }
        Partner::Twin(b) => b,
    };
    if !cfg.alphas.contains(&0.0) || !cfg.alphas.contains(&1.0) {
        return Err(MergeError::NotApplicable("the α grid must contain 0 and 1".into()));
    }
    for &r in repairs {
        check_repair(r, a.has_batch_norm())?;
    }
    let t = Instant::now();
    let probe = a.for_evaluation();
    let layout = choose_layout(device, [cfg.batch_size, splits.test.channels, splits.test.height, splits.test.width], |x| {
        let _ = probe.forward(x).sum().into_scalar::<f32>();
    });
    let layout_seconds = t.elapsed().as_secs_f64();
    if show && layout.probe_s.is_some() {
        eprintln!("batches laid out {layout}");
    }
    // Every pass below streams the same statistics images, and the evaluations the same test
    // images: each stream's batches are built by its first pass and kept for the others.
    let loader = stats_loader(splits, cfg).cached();
    let (alignment, pass) = align_with_stats(a, partner, cfg, &loader, device, show)?;
    let b = permute_model(partner, &alignment.perms)?;
    let (pa, pb) = (a.to_params(), b.to_params());
    let eval_set = splits.test.evaluation_subset(cfg.eval_images);
    let eval_loader = Loader::ordered(&eval_set, cfg.batch_size).cached();

    // The endpoints' statistics at the repair points: read off the alignment's pass where the
    // repair points are its taps (VGG), else one more pass of a and the aligned partner.
    let t = Instant::now();
    let taps: Vec<PairStats> = pass.into_iter().flat_map(|s| s.pre).collect();
    let endpoints = match RepairStats::from_unaligned_pass(a, &taps, &alignment.perms) {
        Some(e) => e,
        None => endpoint_pre_stats(a, &b, &loader, device, &bar(loader.images() as u64, show, "statistics")),
    };
    let stats_seconds = t.elapsed().as_secs_f64();

    let mut alphas = cfg.alphas.clone();
    alphas.sort_by(f64::total_cmp);
    alphas.dedup();
    let interior = alphas.iter().filter(|&&x| x != 0.0 && x != 1.0).count();
    let eb = bar(((2 + interior * repairs.len()) * eval_loader.images()) as u64, show, "evaluate");

    // Endpoints, shared by every mode.
    let t = Instant::now();
    let full_a = evaluate_on(a, &eval_loader, device, &eb);
    let full_b = if is_flip { full_a.of_flipped() } else { evaluate_on(&b, &eval_loader, device, &eb) };
    let unaligned_midpoint_accuracy = if alphas.contains(&0.5) {
        let merged = a.with_params(&interpolate(&pa, &partner.to_params(), 0.5)?);
        Some(accuracy_and_loss(&merged, &eval_loader, device, &ProgressBar::hidden()).0)
    } else {
        None
    };
    let endpoint_seconds = t.elapsed().as_secs_f64();
    let endpoint = |alpha: f64, m: &EvalMetrics| MergePoint { alpha, accuracy: m.accuracy, loss: m.loss, full: Some(m.clone()) };

    let mut outcomes = Vec::new();
    for &mode in repairs {
        let mut timings = Timings { align: alignment.seconds, stats: stats_seconds, evaluate: endpoint_seconds, ..Timings::default() };
        let mode_start = Instant::now();
        let mut curve: Vec<MergePoint> = Vec::new();
        let (mut ratio_before, mut ratio_after) = (Vec::new(), Vec::new());
        for &alpha in &alphas {
            if alpha == 0.0 {
                curve.push(endpoint(alpha, &full_a));
                continue;
            }
            if alpha == 1.0 {
                curve.push(endpoint(alpha, &full_b));
                continue;
            }
            let t = Instant::now();
            let merged = a.with_params(&interpolate(&pa, &pb, alpha)?);
            let repaired = match mode {
                RepairMode::None => merged.clone(),
                RepairMode::BnReset => reset_batch_norm(&merged, &loader, device, &ProgressBar::hidden()),
                RepairMode::Repair => repair(&merged, &endpoints, alpha, &loader, device, &ProgressBar::hidden())?,
                RepairMode::ClosedForm => repair_closed_form(&merged, &endpoints, alpha)?,
            };
            if cfg.variance_ratios && (alpha - 0.5).abs() < 1e-9 {
                ratio_before = variance_ratios(&pre_activation_stats(&merged, &loader, device), &endpoints.layers);
                ratio_after = if mode == RepairMode::None {
                    ratio_before.clone()
                } else {
                    variance_ratios(&pre_activation_stats(&repaired, &loader, device), &endpoints.layers)
                };
            }
            timings.merge_repair += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let (accuracy, loss) = accuracy_and_loss(&repaired, &eval_loader, device, &eb);
            timings.evaluate += t.elapsed().as_secs_f64();
            curve.push(MergePoint { alpha, accuracy, loss, full: None });
        }
        let points: Vec<CurvePoint> = curve.iter().map(|p| CurvePoint { alpha: p.alpha, accuracy: p.accuracy, loss: p.loss }).collect();
        timings.total = layout_seconds + alignment.seconds + stats_seconds + endpoint_seconds + mode_start.elapsed().as_secs_f64();
        outcomes.push(MergeOutcome {
            config: MergeConfig { repair: mode, ..cfg.clone() },
            barriers: barriers(&points),
            alignment: alignment.clone(),
            curve,
            unaligned_midpoint_accuracy,
            variance_ratio_before: ratio_before,
            variance_ratio_after: ratio_after,
            seconds: timings,
        });
    }
    eb.finish_and_clear();
    Ok(outcomes)
}
