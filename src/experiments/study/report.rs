//! The study's results as one typed value ([`StudyReport`]) built from the trained runs and the
//! cached measurement files, and its renderings: Markdown tables (each narrow enough for a book
//! page; the CSV files hold every column) and figures.
//!
//! Statistics over seeds are the mean and the sample standard deviation ("spread", n − 1 in the
//! denominator); GCNN barriers are over nets, ordinary barriers over pairs of nets. The
//! separation of GCNN and ordinary barrier is `(ordinary − GCNN) / √((s_G² + s_O²) / 2)`: how
//! many seed-spreads the GCNN barrier lies below the ordinary one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::figures::{
    CurveMetric, TrainingCurve, TrendAxis, curves_figure, filter_panels, filters_figure, headline_figure, structure_figure, training_figure, trend_figure,
};
use super::run::{PairResult, is_trained};
use super::{BarrierKind, Group, MergeJob, NetSpec, Role, StudySpec, Variant};
use crate::experiments::merge::MergeOutcome;
use crate::experiments::merge::Method;
use crate::merge::RepairMode;
use crate::plots::{FilterPanel, PlotError, placeholder};
use crate::provenance::write_atomic;
use crate::tables::{Table, TableError, Values};
use crate::train::{Checkpoint, TrainError};

/// Errors building the report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A figure failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// A table failed.
    #[error(transparent)]
    Table(#[from] TableError),
    /// A checkpoint could not be read.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A result file could not be read.
    #[error(transparent)]
    Study(#[from] super::StudyError),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Another result file could not be read.
    #[error(transparent)]
    Result(#[from] crate::experiments::results::ResultFileError),
}

/// Mean, spread and count of a sample.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (`None` for fewer than two values).
    pub sd: Option<f64>,
    /// Number of values.
    pub n: usize,
}

impl Stat {
    /// The statistics of `values` (`None` if empty).
    pub fn of(values: &[f64]) -> Option<Stat> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = (n > 1).then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
        Some(Stat { mean, sd, n })
    }

    /// `mean ± sd (n)` with `scale` applied and `digits` decimals.
    pub fn show(&self, scale: f64, digits: usize) -> String {
        match self.sd {
            Some(sd) => format!("{:.d$} ± {:.d$} ({})", self.mean * scale, sd * scale, self.n, d = digits),
            None => format!("{:.d$} (1)", self.mean * scale, d = digits),
        }
    }
}

fn show(s: &Option<Stat>, scale: f64, digits: usize) -> String {
    s.as_ref().map_or("–".into(), |s| s.show(scale, digits))
}

/// One trained net.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetRow {
    /// Run name.
    pub name: String,
    /// Training variant.
    pub variant: Variant,
    /// Role in the study.
    pub role: Role,
    /// Model kind, width, epochs, seed: the setting in words, e.g. `VGG11-BN ×0.25, 40 epochs`.
    pub setting: String,
    /// Seed.
    pub seed: u64,
    /// Width multiplier.
    pub width: f64,
    /// Test accuracy (fraction).
    pub test_accuracy: f64,
    /// Test cross-entropy.
    pub test_loss: f64,
    /// Share of test images whose prediction survives a horizontal flip.
    pub flip_agreement: f64,
    /// Mean ‖f(x) − f(hflip x)‖ / ‖f(x)‖ over test images.
    pub relative_logit_change: f64,
    /// Wall-clock minutes of training and evaluation (inflated when other jobs shared the
    /// machine).
    pub minutes: f64,
    /// Median training throughput over the evaluated epochs (images/s).
    pub train_images_per_s: f64,
    /// Minutes of training at the median throughput, without evaluation: what the run costs on
    /// a quiet machine when most of its epochs ran on one (a run's slowest epochs are the ones
    /// that shared the cores); a run that shared them throughout overstates it.
    pub quiet_minutes: f64,
    /// Flip agreement on training images (un-augmented), once measured.
    pub train_flip_agreement: Option<f64>,
    /// Relative logit change on training images, once measured.
    pub train_relative_logit_change: Option<f64>,
}

/// The pilot's two conditions on the chosen setting, as measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PremiseCheck {
    /// Mean test accuracy of the flip-augmented matrix nets (fraction).
    pub flip_accuracy: Option<f64>,
    /// (a) flip-augmented nets reach ≥ 85 %.
    pub accuracy_met: Option<bool>,
    /// Relative logit change of the no-flip, flip and flip + invariance-loss nets (means).
    pub relative_logit_change: [Option<f64>; 3],
    /// Flip agreement of the same three (means, fractions).
    pub flip_agreement: [Option<f64>; 3],
    /// (b) by flip augmentation alone: logit change ≤ ½ of no-flip's and agreement ≥ +5 points.
    pub invariance_met_by_flip: Option<bool>,
    /// (b) with the invariance loss.
    pub invariance_met_by_loss: Option<bool>,
    /// The same three relative logit changes on training images.
    pub train_relative_logit_change: [Option<f64>; 3],
    /// The same three flip agreements on training images.
    pub train_flip_agreement: [Option<f64>; 3],
}

/// One row of the headline: a variant, a method and a repair.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeadlineRow {
    /// Variant.
    pub variant: Variant,
    /// Matching method.
    pub method: Method,
    /// Repair.
    pub repair: RepairMode,
    /// Test accuracy of the nets (fraction).
    pub endpoint_accuracy: Option<Stat>,
    /// GCNN barrier: midpoint accuracy barrier (fraction).
    pub gcnn_accuracy: Option<Stat>,
    /// Ordinary barrier: midpoint accuracy barrier (fraction).
    pub ordinary_accuracy: Option<Stat>,
    /// GCNN midpoint loss barrier (nats).
    pub gcnn_loss: Option<Stat>,
    /// Ordinary midpoint loss barrier (nats).
    pub ordinary_loss: Option<Stat>,
    /// GCNN sup-over-α loss barrier (Entezari et al.).
    pub gcnn_sup_loss: Option<Stat>,
    /// Ordinary sup loss barrier.
    pub ordinary_sup_loss: Option<Stat>,
    /// Mean share of live channels the GCNN alignment moves (near 0: identity, not a match).
    pub gcnn_moved_share: Option<Stat>,
    /// (ordinary − GCNN) accuracy barrier in pooled seed-spreads (needs both spreads).
    pub separation: Option<f64>,
}

/// One point of the emergence or width measurements.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrendRow {
    /// Epoch (emergence) or `None` (final weights).
    pub epoch: Option<usize>,
    /// Width of the nets.
    pub width: f64,
    /// Method.
    pub method: Method,
    /// Repair.
    pub repair: RepairMode,
    /// Test accuracy of the reference nets at that point.
    pub endpoint_accuracy: Option<Stat>,
    /// GCNN midpoint accuracy barrier.
    pub gcnn_accuracy: Option<Stat>,
    /// Ordinary midpoint accuracy barrier.
    pub ordinary_accuracy: Option<Stat>,
    /// Mean over conv layers of the live off-centre equivariance error (GCNN alignment).
    pub off_centre_error: Option<Stat>,
}

/// Per-layer structure of one alignment of a net with its flipped self.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StructureRow {
    /// Run name.
    pub net: String,
    /// Kept epoch, if not final.
    pub epoch: Option<usize>,
    /// Method.
    pub method: Method,
    /// Layer.
    pub layer: String,
    /// Live channels.
    pub live: Option<usize>,
    /// Dead channels.
    pub dead: Option<usize>,
    /// Live self-symmetric channels (fixed points).
    pub self_symmetric: Option<usize>,
    /// Live mirror pairs (2-cycles).
    pub mirror_pairs: Option<usize>,
    /// Live longer cycles.
    pub longer_cycles: Option<usize>,
    /// Share of live channels moved.
    pub moved_share: Option<f64>,
    /// Off-centre error after alignment.
    pub off_centre_error: f64,
    /// Off-centre error of P = I.
    pub unaligned_off_centre_error: f64,
    /// Plain error after alignment.
    pub plain_error: f64,
    /// Plain error of P = I.
    pub unaligned_plain_error: f64,
}

/// Weight matching from the identity vs from activation matching's permutations.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WarmRow {
    /// The job's name (without method).
    pub pair: String,
    /// Objective at the identity.
    pub identity: f64,
    /// Final objective of weight matching started at the identity.
    pub from_identity: f64,
    /// Objective of activation matching's permutations.
    pub activation: f64,
    /// Final objective of weight matching started there.
    pub from_activation: f64,
}

/// Everything the study measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StudyReport {
    /// The design.
    pub spec: StudySpec,
    /// Every trained net.
    pub nets: Vec<NetRow>,
    /// Nets of the design not trained yet.
    pub untrained: Vec<String>,
    /// Measurement jobs not run yet.
    pub unmeasured: Vec<String>,
    /// The pilot's conditions.
    pub premise: PremiseCheck,
    /// The headline.
    pub headline: Vec<HeadlineRow>,
    /// Barriers over training.
    pub emergence: Vec<TrendRow>,
    /// Barriers over width.
    pub width: Vec<TrendRow>,
    /// Per-layer structure of the first net of every variant (the GCNN control included), final
    /// weights.
    pub structure: Vec<StructureRow>,
    /// Weight matching's two starts.
    pub warm: Vec<WarmRow>,
}

fn setting_words(t: &crate::train::TrainConfig) -> String {
    let model = match t.model {
        crate::train::ModelKind::Vgg11 => "VGG11",
        crate::train::ModelKind::Vgg11Bn => "VGG11-BN",
        crate::train::ModelKind::Gcnn => "GCNN-VGG11",
        crate::train::ModelKind::GcnnBn => "GCNN-VGG11-BN",
        crate::train::ModelKind::Resnet20 => "ResNet-20",
    };
    let mut s = format!("{model} ×{}, {} ep., batch {}, lr {}", t.width, t.epochs, t.batch_size, t.lr);
    if t.invariance_loss > 0.0 {
        write!(s, ", λ = {}", t.invariance_loss).expect("string write");
    }
    if t.label_smoothing > 0.0 {
        write!(s, ", label smoothing {}", t.label_smoothing).expect("string write");
    }
    s
}

fn net_row(net: &NetSpec, runs: &Path, results: &Path) -> Option<NetRow> {
    let dir = runs.join(&net.name);
    if !is_trained(&dir, net) {
        return None;
    }
    let ck = Checkpoint::open(&dir).ok()?;
    let m = ck.metrics().ok()?;
    let last = m.last()?;
    let train_inv: Option<super::TrainSetInvariance> =
        std::fs::read_to_string(results.join("nets").join(format!("{}.json", net.name))).ok().and_then(|t| serde_json::from_str(&t).ok());
    let mut speeds: Vec<f64> = m.iter().map(|r| r.train_images_per_s).collect();
    speeds.sort_by(f64::total_cmp);
    Some(NetRow {
        name: net.name.clone(),
        variant: net.variant,
        role: net.role,
        setting: setting_words(&net.train),
        seed: net.train.seed,
        width: net.train.width,
        test_accuracy: last.test_accuracy,
        test_loss: last.test_loss,
        flip_agreement: last.flip_agreement,
        relative_logit_change: last.relative_logit_change,
        minutes: last.elapsed_s / 60.0,
        train_images_per_s: speeds[speeds.len() / 2],
        quiet_minutes: (net.train.epochs * ck.meta.dataset.train_len) as f64 / speeds[speeds.len() / 2].max(1e-9) / 60.0,
        train_flip_agreement: train_inv.as_ref().map(|t| t.metrics.flip_agreement),
        train_relative_logit_change: train_inv.as_ref().map(|t| t.metrics.relative_logit_change),
    })
}

/// The measured results of `jobs`, by job, for those that have a result file.
fn load_results(jobs: &[MergeJob], results: &Path) -> Result<Vec<PairResult>, ReportError> {
    let mut out = Vec::new();
    for j in jobs {
        let p = results.join("pairs").join(j.file_name());
        if p.exists() {
            out.push(PairResult::read(&p)?);
        }
    }
    Ok(out)
}

fn midpoint(r: &PairResult, repair: RepairMode) -> Option<(f64, f64, f64)> {
    let o = r.outcome(repair)?;
    Some((o.barriers.midpoint_accuracy?, o.barriers.midpoint_loss?, o.barriers.loss_barrier))
}

fn separation(g: &Option<Stat>, o: &Option<Stat>) -> Option<f64> {
    let (g, o) = (g.as_ref()?, o.as_ref()?);
    let pooled = ((g.sd?.powi(2) + o.sd?.powi(2)) / 2.0).sqrt();
    (pooled > 0.0).then(|| (o.mean - g.mean) / pooled)
}

fn mean_conv_off_centre(r: &PairResult) -> Option<f64> {
    let e = r.equivariance.as_ref()?;
    let v: Vec<f64> = e.iter().filter(|l| l.layer.starts_with("convs.")).map(|l| l.off_centre_error).collect();
    Stat::of(&v).map(|s| s.mean)
}

/// The strongest repair of the setting: REPAIR (on top of BN reset for BatchNorm nets).
pub fn strongest_repair() -> RepairMode {
    RepairMode::Repair
}

impl StudyReport {
    /// Build the report from the runs under `runs` and the results under `results`.
    pub fn build(spec: &StudySpec, runs: &Path, results: &Path) -> Result<Self, ReportError> {
        let nets = spec.nets();
        let rows: Vec<NetRow> = nets.iter().filter_map(|n| net_row(n, runs, results)).collect();
        let untrained: Vec<String> = nets.iter().filter(|n| !rows.iter().any(|r| r.name == n.name)).map(|n| n.name.clone()).collect();
        let jobs = spec.merge_jobs();
        let done = load_results(&jobs, results)?;
        let unmeasured: Vec<String> =
            jobs.iter().filter(|j| !done.iter().any(|r| r.job == **j)).map(|j| j.file_name().trim_end_matches(".json").to_string()).collect();
        let variant_of = |name: &str| spec.net(name).map(|n| n.variant);

        // The premise.
        let matrix_stat = |v: Variant, f: fn(&NetRow) -> f64| {
            let xs: Vec<f64> = rows.iter().filter(|r| r.role == Role::Matrix && r.variant == v).map(f).filter(|x| x.is_finite()).collect();
            Stat::of(&xs).map(|s| s.mean)
        };
        let variants3 = [Variant::NoFlip, Variant::Flip, Variant::FlipInv];
        let rlc = variants3.map(|v| matrix_stat(v, |r| r.relative_logit_change));
        let agr = variants3.map(|v| matrix_stat(v, |r| r.flip_agreement));
        let flip_accuracy = matrix_stat(Variant::Flip, |r| r.test_accuracy);
        let met = |i: usize| match (rlc[0], rlc[i], agr[0], agr[i]) {
            (Some(r0), Some(ri), Some(a0), Some(ai)) => Some(ri <= 0.5 * r0 && ai >= a0 + 0.05),
            _ => None,
        };
        let premise = PremiseCheck {
            flip_accuracy,
            accuracy_met: flip_accuracy.map(|a| a >= 0.85),
            relative_logit_change: rlc,
            flip_agreement: agr,
            invariance_met_by_flip: met(1),
            invariance_met_by_loss: met(2),
            train_relative_logit_change: variants3.map(|v| matrix_stat(v, |r| r.train_relative_logit_change.unwrap_or(f64::NAN))),
            train_flip_agreement: variants3.map(|v| matrix_stat(v, |r| r.train_flip_agreement.unwrap_or(f64::NAN))),
        };

        // The headline.
        let repairs = spec.repairs();
        let mut headline = Vec::new();
        for &method in &spec.methods {
            for variant in Variant::ALL {
                for &repair in &repairs {
                    let of = |kind: BarrierKind| -> Vec<&PairResult> {
                        done.iter()
                            .filter(|r| r.job.group == Group::Matrix && r.job.method == method && r.job.kind == kind)
                            .filter(|r| variant_of(&r.job.a) == Some(variant))
                            .collect()
                    };
                    let (g, o) = (of(BarrierKind::Gcnn), of(BarrierKind::Ordinary));
                    let pick = |rs: &[&PairResult], k: usize| -> Option<Stat> {
                        let v: Vec<f64> = rs.iter().filter_map(|r| midpoint(r, repair)).map(|m| [m.0, m.1, m.2][k]).collect();
                        Stat::of(&v)
                    };
                    let acc: Vec<f64> = rows.iter().filter(|r| r.role == Role::Matrix && r.variant == variant).map(|r| r.test_accuracy).collect();
                    let moved: Vec<f64> = g
                        .iter()
                        .filter_map(|r| {
                            let e = r.equivariance.as_ref()?;
                            Stat::of(&e.iter().filter_map(|l| l.moved_share).collect::<Vec<_>>()).map(|s| s.mean)
                        })
                        .collect();
                    let (gcnn_accuracy, ordinary_accuracy) = (pick(&g, 0), pick(&o, 0));
                    if gcnn_accuracy.is_none() && ordinary_accuracy.is_none() {
                        continue;
                    }
                    headline.push(HeadlineRow {
                        variant,
                        method,
                        repair,
                        endpoint_accuracy: Stat::of(&acc),
                        separation: separation(&gcnn_accuracy, &ordinary_accuracy),
                        gcnn_accuracy,
                        ordinary_accuracy,
                        gcnn_loss: pick(&g, 1),
                        ordinary_loss: pick(&o, 1),
                        gcnn_sup_loss: pick(&g, 2),
                        ordinary_sup_loss: pick(&o, 2),
                        gcnn_moved_share: Stat::of(&moved),
                    });
                }
            }
        }

        // Emergence and width.
        let trend = |group: Group, key: &dyn Fn(&PairResult) -> (Option<usize>, f64)| -> Vec<TrendRow> {
            let mut keys: Vec<(Option<usize>, u64, Method, RepairMode)> = Vec::new();
            for r in done.iter().filter(|r| r.job.group == group) {
                let (e, w) = key(r);
                for &rep in &repairs {
                    let k = (e, w.to_bits(), r.job.method, rep);
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
            keys.sort_by(|a, b| a.0.cmp(&b.0).then(f64::from_bits(a.1).total_cmp(&f64::from_bits(b.1))));
            keys.into_iter()
                .map(|(epoch, wb, method, repair)| {
                    let width = f64::from_bits(wb);
                    let sel: Vec<&PairResult> = done.iter().filter(|r| r.job.group == group && r.job.method == method && key(r) == (epoch, width)).collect();
                    let acc_of = |kind: BarrierKind| {
                        let v: Vec<f64> = sel.iter().filter(|r| r.job.kind == kind).filter_map(|r| midpoint(r, repair)).map(|m| m.0).collect();
                        Stat::of(&v)
                    };
                    let endpoints: Vec<f64> =
                        sel.iter().filter(|r| r.job.kind == BarrierKind::Gcnn).filter_map(|r| r.outcomes.first()?.curve.first().map(|p| p.accuracy)).collect();
                    let eq: Vec<f64> = sel.iter().filter(|r| r.job.kind == BarrierKind::Gcnn).filter_map(|r| mean_conv_off_centre(r)).collect();
                    TrendRow {
                        epoch,
                        width,
                        method,
                        repair,
                        endpoint_accuracy: Stat::of(&endpoints),
                        gcnn_accuracy: acc_of(BarrierKind::Gcnn),
                        ordinary_accuracy: acc_of(BarrierKind::Ordinary),
                        off_centre_error: Stat::of(&eq),
                    }
                })
                .collect()
        };
        let width_of = |name: &str| spec.net(name).map_or(f64::NAN, |n| n.train.width);
        let emergence = trend(Group::Emergence, &|r| (r.job.epoch, width_of(&r.job.a)));
        let mut width = trend(Group::Width, &|r| (None, width_of(&r.job.a)));
        // the matrix's flip-augmented nets are the widest point of the width trend
        let flip_matrix = trend(Group::Matrix, &|r| {
            let w = if variant_of(&r.job.a) == Some(Variant::Flip) { width_of(&r.job.a) } else { f64::NAN };
            (None, w)
        });
        width.extend(flip_matrix.into_iter().filter(|t| t.width.is_finite() && spec.secondary_methods.contains(&t.method)));
        width.sort_by(|a, b| a.width.total_cmp(&b.width));

        // Structure of the first net of every variant (the GCNN control included).
        let mut structure = Vec::new();
        let firsts = first_nets(spec);
        for r in done.iter().filter(|r| r.job.group == Group::Matrix && r.job.kind == BarrierKind::Gcnn && firsts.contains(&r.job.a)) {
            for l in r.equivariance.iter().flatten() {
                structure.push(StructureRow {
                    net: r.job.a.clone(),
                    epoch: r.job.epoch,
                    method: r.job.method,
                    layer: l.layer.clone(),
                    live: l.live,
                    dead: l.dead,
                    self_symmetric: l.cycles.as_ref().map(|c| c.fixed),
                    mirror_pairs: l.cycles.as_ref().map(|c| c.two_cycles),
                    longer_cycles: l.cycles.as_ref().map(|c| c.longer),
                    moved_share: l.moved_share,
                    off_centre_error: l.off_centre_error,
                    unaligned_off_centre_error: l.unaligned_off_centre_error,
                    plain_error: l.relative_error,
                    unaligned_plain_error: l.unaligned_error,
                });
            }
        }

        // Weight matching from two starts.
        let mut warm = Vec::new();
        for r in done.iter().filter(|r| r.job.method == Method::Weight) {
            let same = |q: &MergeJob| (q.group, q.kind, &q.a, &q.b, q.epoch) == (r.job.group, r.job.kind, &r.job.a, &r.job.b, r.job.epoch);
            let twin = |m: Method| done.iter().find(|q| q.job.method == m && same(&q.job));
            if let (Some(w), Some(a)) = (twin(Method::WeightWarm), twin(Method::Activation)) {
                warm.push(WarmRow {
                    pair: r.job.file_name().trim_end_matches("-weight.json").to_string(),
                    identity: r.alignment.initial_objective.unwrap_or(f64::NAN),
                    from_identity: r.alignment.weight_objective,
                    activation: a.alignment.weight_objective,
                    from_activation: w.alignment.weight_objective,
                });
            }
        }
        Ok(StudyReport { spec: spec.clone(), nets: rows, untrained, unmeasured, premise, headline, emergence, width, structure, warm })
    }
}

fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

fn opt_pct(x: Option<f64>) -> String {
    x.map_or("–".into(), pct)
}

/// The first seed's net of every shown variant, in [`Variant::ALL`] order (`noflip-s0`,
/// `flip-s0`, `inv-s0`, `gcnn-s0` for the decisive design).
pub fn first_nets(spec: &StudySpec) -> Vec<String> {
    spec.shown_variants()
        .iter()
        .map(|v| {
            let seed = if *v == Variant::Gcnn { spec.gcnn_seeds.first() } else { spec.seeds.first() };
            format!("{}-s{}", v.name(), seed.copied().unwrap_or(0))
        })
        .collect()
}

/// How a repair mode is named in tables and figures.
pub fn repair_name(r: RepairMode) -> &'static str {
    match r {
        RepairMode::None => "none",
        RepairMode::BnReset => "BN reset",
        RepairMode::Repair => "REPAIR",
        RepairMode::ClosedForm => "REPAIR (closed form)",
    }
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "not measured yet",
    }
}

/// The Markdown tables, by file stem.
pub fn markdown_tables(r: &StudyReport) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // Nets.
    let mut t = String::from(
        "| run | setting | test acc. % | test loss | flip agreement % | rel. logit change | wall min. | min. at median speed |\n|---|---|---|---|---|---|---|---|\n",
    );
    for n in &r.nets {
        writeln!(
            t,
            "| `{}` | {} | {} | {:.3} | {} | {:.3} | {:.1} | {:.1} |",
            n.name,
            n.setting,
            pct(n.test_accuracy),
            n.test_loss,
            pct(n.flip_agreement),
            n.relative_logit_change,
            n.minutes,
            n.quiet_minutes
        )
        .expect("string write");
    }
    if !r.untrained.is_empty() {
        writeln!(t, "\nNot trained yet: {}.", r.untrained.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")).expect("string write");
    }
    out.push(("nets".into(), t));

    // Pilot: seed 0 of each variant at the chosen setting, and the settings tried and not chosen.
    let mut t = String::from(
        "| setting | variant | seed | test acc. % | flip agreement % | rel. logit change | min. at median speed |\n|---|---|---|---|---|---|---|\n",
    );
    for n in r.nets.iter().filter(|n| n.role == Role::Pilot || (n.role == Role::Matrix && n.seed == r.spec.seeds[0])) {
        let chosen = if n.role == Role::Matrix { " (chosen)" } else { "" };
        writeln!(
            t,
            "| {}{chosen} | {} | {} | {} | {} | {:.3} | {:.1} |",
            n.setting,
            n.variant.label(),
            n.seed,
            pct(n.test_accuracy),
            pct(n.flip_agreement),
            n.relative_logit_change,
            n.quiet_minutes
        )
        .expect("string write");
    }
    // The pilot and the premise compare the variants with the un-augmented nets: only designs
    // that train those have them.
    let comparative = r.spec.variants.contains(&Variant::NoFlip);
    if comparative {
        out.push(("pilot".into(), t));
    }

    // Premise.
    let p = &r.premise;
    let mut t = String::from("| condition | measured | required | met |\n|---|---|---|---|\n");
    writeln!(t, "| (a) accuracy of the flip-augmented nets | {} % | ≥ 85 % | {} |", opt_pct(p.flip_accuracy), yes_no(p.accuracy_met)).expect("string write");
    for (i, (name, met)) in [("flip augmentation", p.invariance_met_by_flip), ("flip aug. + invariance loss", p.invariance_met_by_loss)].into_iter().enumerate()
    {
        let k = i + 1;
        writeln!(
            t,
            "| (b) {name}: rel. logit change vs no flip aug. | {} vs {} | ≤ ½ | {} |",
            p.relative_logit_change[k].map_or("–".into(), |v| format!("{v:.3}")),
            p.relative_logit_change[0].map_or("–".into(), |v| format!("{v:.3}")),
            yes_no(met)
        )
        .expect("string write");
        writeln!(
            t,
            "| (b) {name}: flip agreement vs no flip aug. | {} % vs {} % | ≥ +5 points | |",
            opt_pct(p.flip_agreement[k]),
            opt_pct(p.flip_agreement[0])
        )
        .expect("string write");
    }
    writeln!(t, "\nOn training images (10,000, class-stratified, un-augmented; not a condition, for comparison):\n\n| variant | flip agreement % | rel. logit change |\n|---|---|---|").expect("string write");
    for (i, v) in [Variant::NoFlip, Variant::Flip, Variant::FlipInv].into_iter().enumerate() {
        writeln!(
            t,
            "| {} | {} | {} |",
            v.label(),
            opt_pct(p.train_flip_agreement[i]),
            p.train_relative_logit_change[i].map_or("–".into(), |x| format!("{x:.3}"))
        )
        .expect("string write");
    }
    if comparative {
        out.push(("premise".into(), t));
    }

    // Headline, accuracy and loss, one table per method.
    for &method in &r.spec.methods {
        let mut t = String::from(
            "| variant | repair | net acc. % | GCNN barrier (points) | ordinary barrier (points) | GCNN below by (spreads) | channels moved % |\n|---|---|---|---|---|---|---|\n",
        );
        let mut l = String::from(
            "| variant | repair | GCNN loss barrier | ordinary loss barrier | GCNN sup loss barrier | ordinary sup loss barrier |\n|---|---|---|---|---|---|\n",
        );
        for h in r.headline.iter().filter(|h| h.method == method) {
            writeln!(
                t,
                "| {} | {} | {} | {} | {} | {} | {} |",
                h.variant.label(),
                repair_name(h.repair),
                show(&h.endpoint_accuracy, 100.0, 2),
                show(&h.gcnn_accuracy, 100.0, 2),
                show(&h.ordinary_accuracy, 100.0, 2),
                h.separation.map_or("–".into(), |s| format!("{s:+.1}")),
                h.gcnn_moved_share.as_ref().map_or("–".into(), |s| format!("{:.0}", 100.0 * s.mean)),
            )
            .expect("string write");
            writeln!(
                l,
                "| {} | {} | {} | {} | {} | {} |",
                h.variant.label(),
                repair_name(h.repair),
                show(&h.gcnn_loss, 1.0, 3),
                show(&h.ordinary_loss, 1.0, 3),
                show(&h.gcnn_sup_loss, 1.0, 3),
                show(&h.ordinary_sup_loss, 1.0, 3),
            )
            .expect("string write");
        }
        out.push((format!("headline-{}", method.name()), t));
        out.push((format!("headline-loss-{}", method.name()), l));
    }

    // Emergence and width.
    for (stem, rows, first) in [("emergence", &r.emergence, "epoch"), ("width", &r.width, "width")] {
        for &method in &r.spec.secondary_methods {
            let mut t = format!(
                "| {first} | net acc. % | GCNN, none | GCNN, {rep} | ordinary, none | ordinary, {rep} | off-centre eq. error |\n|---|---|---|---|---|---|---|\n",
                rep = repair_name(strongest_repair())
            );
            let mut keys: Vec<(Option<usize>, u64)> = Vec::new();
            for x in rows.iter().filter(|x| x.method == method) {
                if !keys.contains(&(x.epoch, x.width.to_bits())) {
                    keys.push((x.epoch, x.width.to_bits()));
                }
            }
            for (epoch, wb) in keys {
                let at = |rep: RepairMode| rows.iter().find(|x| x.method == method && x.epoch == epoch && x.width.to_bits() == wb && x.repair == rep);
                let (none, rep) = (at(RepairMode::None), at(strongest_repair()));
                let key = if stem == "emergence" { epoch.map_or("final".into(), |e| e.to_string()) } else { f64::from_bits(wb).to_string() };
                let g = |x: Option<&TrendRow>, f: fn(&TrendRow) -> &Option<Stat>| x.map_or("–".into(), |x| show(f(x), 100.0, 2));
                writeln!(
                    t,
                    "| {key} | {} | {} | {} | {} | {} | {} |",
                    g(none, |x| &x.endpoint_accuracy),
                    g(none, |x| &x.gcnn_accuracy),
                    g(rep, |x| &x.gcnn_accuracy),
                    g(none, |x| &x.ordinary_accuracy),
                    g(rep, |x| &x.ordinary_accuracy),
                    none.and_then(|x| x.off_centre_error.as_ref()).map_or("–".into(), |s| format!("{:.3}", s.mean)),
                )
                .expect("string write");
            }
            out.push((format!("{stem}-{}", method.name()), t));
        }
    }

    // Structure: one pair of tables per (net, method); the first flip-augmented net and the GCNN
    // control (where the design has one) always have theirs (saying "not measured yet" until they are).
    let mut keys: Vec<(String, Method)> = Vec::new();
    let control = r.spec.gcnn_seeds.first().map(|s| format!("gcnn-s{s}"));
    for net in std::iter::once(format!("flip-s{}", r.spec.seeds[0])).chain(control) {
        for &m in &r.spec.methods {
            keys.push((net.clone(), m));
        }
    }
    for s in &r.structure {
        if !keys.contains(&(s.net.clone(), s.method)) {
            keys.push((s.net.clone(), s.method));
        }
    }
    for (net, method) in keys {
        let mut t = String::from("| layer | live | dead | self-symmetric | mirror pairs | longer cycles | moved % |\n|---|---|---|---|---|---|---|\n");
        let mut e = String::from("| layer | off-centre error, aligned | off-centre, P = I | plain error, aligned | plain, P = I |\n|---|---|---|---|---|\n");
        let o = |x: Option<usize>| x.map_or("–".into(), |v| v.to_string());
        for s in r.structure.iter().filter(|s| s.net == net && s.method == method) {
            writeln!(
                t,
                "| {} | {} | {} | {} | {} | {} | {} |",
                s.layer,
                o(s.live),
                o(s.dead),
                o(s.self_symmetric),
                o(s.mirror_pairs),
                o(s.longer_cycles),
                opt_pct(s.moved_share)
            )
            .expect("string write");
            writeln!(
                e,
                "| {} | {:.3} | {:.3} | {:.3} | {:.3} |",
                s.layer, s.off_centre_error, s.unaligned_off_centre_error, s.plain_error, s.unaligned_plain_error
            )
            .expect("string write");
        }
        if !r.structure.iter().any(|s| s.net == net && s.method == method) {
            t = "Not measured yet.\n".into();
            e = String::new();
        }
        out.push((format!("structure-{net}-{}", method.name()), t));
        out.push((format!("errors-{net}-{}", method.name()), e));
    }

    // Weight matching's starts.
    let mut t = String::from(
        "| pair | J(identity) | weight matching from identity | J(activation matching) | weight matching from activation matching |\n|---|---|---|---|---|\n",
    );
    for w in &r.warm {
        let mark = if w.from_activation > w.from_identity * (1.0 + 1e-9) { " **(higher)**" } else { "" };
        writeln!(t, "| `{}` | {:.1} | {:.1} | {:.1} | {:.1}{mark} |", w.pair, w.identity, w.from_identity, w.activation, w.from_activation)
            .expect("string write");
    }
    if !r.spec.warm_alphas.is_empty() {
        out.push(("warm-start".into(), t));
    }
    out
}

fn figure_pair(out: &Path, stem: &str, written: &mut Vec<PathBuf>, draw: impl Fn(&Path) -> Result<(), PlotError>) -> Result<(), ReportError> {
    for ext in ["svg", "png"] {
        let p = out.join(format!("{stem}.{ext}"));
        draw(&p)?;
        written.push(p);
    }
    Ok(())
}

/// Write every table (Markdown + CSV for the headline and the nets) and figure into `out`, and
/// the report itself as `study.json` into `results`; returns the files written.
pub fn write_report(r: &StudyReport, runs: &Path, results: &Path, out: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    std::fs::create_dir_all(out).map_err(|source| ReportError::Io { path: out.to_path_buf(), source })?;
    let put = |path: PathBuf, text: &str, written: &mut Vec<PathBuf>| -> Result<(), ReportError> {
        write_atomic(&path, text.as_bytes()).map_err(|source| ReportError::Io { path: path.clone(), source })?;
        written.push(path);
        Ok(())
    };
    put(results.join("study.json"), &serde_json::to_string_pretty(r).expect("plain data serialises"), &mut written)?;
    for (stem, text) in markdown_tables(r) {
        put(out.join(format!("{stem}.md")), &text, &mut written)?;
    }
    // CSV/Parquet of the headline (every column).
    let h = &r.headline;
    let f = |g: fn(&HeadlineRow) -> Option<Stat>, part: fn(&Stat) -> f64| Values::F64(h.iter().map(|x| g(x).map_or(f64::NAN, |s| part(&s))).collect());
    let mean = |s: &Stat| s.mean;
    let sd = |s: &Stat| s.sd.unwrap_or(f64::NAN);
    let table = Table::new()
        .col("variant", "", Values::Str(h.iter().map(|x| x.variant.name().to_string()).collect()))
        .col("method", "", Values::Str(h.iter().map(|x| x.method.name().to_string()).collect()))
        .col("repair", "", Values::Str(h.iter().map(|x| repair_name(x.repair).to_string()).collect()))
        .col("endpoint_accuracy_mean", "fraction", f(|x| x.endpoint_accuracy, mean))
        .col("gcnn_accuracy_barrier_mean", "fraction", f(|x| x.gcnn_accuracy, mean))
        .col("gcnn_accuracy_barrier_sd", "fraction", f(|x| x.gcnn_accuracy, sd))
        .col("ordinary_accuracy_barrier_mean", "fraction", f(|x| x.ordinary_accuracy, mean))
        .col("ordinary_accuracy_barrier_sd", "fraction", f(|x| x.ordinary_accuracy, sd))
        .col("gcnn_loss_barrier_mean", "nats", f(|x| x.gcnn_loss, mean))
        .col("ordinary_loss_barrier_mean", "nats", f(|x| x.ordinary_loss, mean))
        .col("gcnn_sup_loss_barrier_mean", "nats", f(|x| x.gcnn_sup_loss, mean))
        .col("ordinary_sup_loss_barrier_mean", "nats", f(|x| x.ordinary_sup_loss, mean))
        .col("separation", "pooled spreads", Values::F64(h.iter().map(|x| x.separation.unwrap_or(f64::NAN)).collect()));
    written.extend(table.write(results, "headline", &serde_json::json!({ "spec": r.spec }))?);

    // Headline figures: per method, barriers by variant, without and with the strongest repair.
    let rep = strongest_repair();
    for &method in &r.spec.methods {
        figure_pair(out, &format!("headline-{}", method.name()), &mut written, |p| headline_figure(r, method, p))?;
    }

    // Interpolation curves of the first flip-augmented net (GCNN) and its first twin (ordinary).
    let results_dir = results.join("pairs");
    let flip0 = format!("flip-s{}", r.spec.seeds[0]);
    let twin = r.spec.seeds.get(1).map(|s| format!("flip-s{s}"));
    for &method in &r.spec.methods {
        let g = MergeJob {
            group: Group::Matrix,
            kind: BarrierKind::Gcnn,
            a: flip0.clone(),
            b: None,
            epoch: None,
            method,
            alphas: r.spec.merge.alphas.clone(),
            repairs: r.spec.repairs(),
        };
        let o = MergeJob { kind: BarrierKind::Ordinary, b: twin.clone(), ..g.clone() };
        let (gp, op) = (results_dir.join(g.file_name()), results_dir.join(o.file_name()));
        if !gp.exists() || !op.exists() {
            continue;
        }
        let (gr, or) = (PairResult::read(&gp)?, PairResult::read(&op)?);
        let shown = |res: &PairResult| -> Vec<MergeOutcome> { [RepairMode::None, rep].iter().filter_map(|&m| res.outcome(m).cloned()).collect() };
        let (go, oo) = (shown(&gr), shown(&or));
        for metric in [CurveMetric::Accuracy, CurveMetric::Loss] {
            figure_pair(out, &format!("curves-{}-{}", method.name(), metric.name()), &mut written, |p| {
                curves_figure(&flip0, method, &go.iter().collect::<Vec<_>>(), &oo.iter().collect::<Vec<_>>(), metric, p)
            })?;
        }
    }

    // Emergence and width figures.
    for (stem, rows, axis) in [("emergence", &r.emergence, TrendAxis::Epoch), ("width", &r.width, TrendAxis::Width)] {
        for &method in &r.spec.secondary_methods {
            let stem = format!("{stem}-{}", method.name());
            let svg = out.join(format!("{stem}.svg"));
            if trend_figure(rows, axis, method, &svg)? {
                written.push(svg);
                let png = out.join(format!("{stem}.png"));
                trend_figure(rows, axis, method, &png)?;
                written.push(png);
            }
        }
    }

    // Per-layer structure of flip-s0 (activation matching): shares of channels.
    for (net, method) in
        r.structure.iter().map(|s| (s.net.clone(), s.method)).collect::<std::collections::BTreeSet<_>>().into_iter().filter(|(_, m)| *m == Method::Activation)
    {
        figure_pair(out, &format!("structure-{net}"), &mut written, |p| structure_figure(&r.structure, &net, method, p))?;
    }

    // Training curves of the first seed of every matrix variant: test accuracy and flip invariance.
    let first: Vec<(String, Vec<crate::train::EpochRecord>)> = r
        .spec
        .nets()
        .into_iter()
        .filter(|n| n.role == Role::Matrix && n.train.seed == r.spec.seeds[0])
        .filter_map(|n| Some((n.variant.label().to_string(), Checkpoint::open(&runs.join(&n.name)).ok()?.metrics().ok()?)))
        .filter(|(_, m)| !m.is_empty())
        .collect();
    if !first.is_empty() {
        for curve in [TrainingCurve::Accuracy, TrainingCurve::Loss, TrainingCurve::FlipAgreement, TrainingCurve::LogitChange] {
            figure_pair(out, curve.stem(), &mut written, |p| training_figure(&first, curve, p))?;
        }
    }

    // First-layer filters next to their flipped, permuted partners.
    let mut panels: Vec<FilterPanel> = Vec::new();
    for net in &first_nets(&r.spec) {
        let job = MergeJob {
            group: Group::Matrix,
            kind: BarrierKind::Gcnn,
            a: net.clone(),
            b: None,
            epoch: None,
            method: Method::Activation,
            alphas: r.spec.merge.alphas.clone(),
            repairs: r.spec.repairs(),
        };
        let p = results_dir.join(job.file_name());
        if !p.exists() || !runs.join(net).join("model.bpk").exists() {
            continue;
        }
        let res = PairResult::read(&p)?;
        let model = Checkpoint::open(&runs.join(net))?.load_model(&Device::flex())?;
        panels.extend(filter_panels(net, &model, &res.alignment));
    }
    if !panels.is_empty() {
        figure_pair(out, "filters", &mut written, |p| filters_figure(&panels, p))?;
    }

    // The flipped-ResNet probe (`relusym resnet-flip --out RESULTS`), where the design has one.
    if let Some(probe) = crate::experiments::results::read_result::<crate::experiments::resnet_flip::FlipProbe>(&results.join("resnet-flip.json"))? {
        put(out.join("resnet-flip.md"), &probe.markdown(), &mut written)?;
    }

    // Every figure the book shows exists, if only to say that its data is not there yet.
    let mut expected: Vec<String> = vec!["filters".into()];
    expected.extend([TrainingCurve::Accuracy, TrainingCurve::Loss, TrainingCurve::FlipAgreement, TrainingCurve::LogitChange].map(|c| c.stem().to_string()));
    expected.push(format!("structure-{flip0}"));
    for &m in &r.spec.methods {
        expected.push(format!("headline-{}", m.name()));
        expected.push(format!("curves-{}-accuracy", m.name()));
        expected.push(format!("curves-{}-loss", m.name()));
    }
    for &m in &r.spec.secondary_methods {
        expected.push(format!("emergence-{}", m.name()));
        expected.push(format!("width-{}", m.name()));
    }
    for stem in expected {
        if !written.iter().any(|p| p.file_stem().is_some_and(|s| s == stem.as_str())) {
            figure_pair(out, &stem, &mut written, |p| placeholder(p, &stem, "not measured yet"))?;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_uses_the_sample_spread_and_needs_two_values_for_it() {
        let s = Stat::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((s.mean, s.n), (2.0, 3));
        assert!((s.sd.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(Stat::of(&[4.0]).unwrap().sd, None);
        assert!(Stat::of(&[]).is_none());
        assert_eq!(Stat::of(&[0.5, 0.7]).unwrap().show(100.0, 1), "60.0 ± 14.1 (2)");
    }

    #[test]
    fn separation_is_positive_when_the_gcnn_barrier_is_lower() {
        let g = Stat::of(&[0.10, 0.12, 0.14]);
        let o = Stat::of(&[0.20, 0.22, 0.24]);
        let s = separation(&g, &o).unwrap();
        assert!((s - 5.0).abs() < 1e-9, "{s}");
        assert!(separation(&o, &g).unwrap() < 0.0);
        assert!(separation(&Stat::of(&[0.1]), &o).is_none(), "one value has no spread");
    }
}
