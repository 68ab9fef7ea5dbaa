//! The result of every `relusym` command as one typed value.
//!
//! Each command builds one of these values; the binary prints it (as JSON with `--json`, else
//! as text through its `Display`), writes its [`Table`] with `--out`, and the book's report
//! reads the JSON back into the same type ([`read_result`]). A field renamed here is renamed
//! everywhere, and a result file that does not parse is an error naming the file — never a
//! silent blank in the book.
//!
//! | command | value |
//! |---|---|
//! | `train` | [`crate::train::TrainSummary`] |
//! | `eval` | [`EvalReport`] |
//! | `bench` | [`BenchReport`] |
//! | `align` | [`AlignReport`] |
//! | `merge` | [`MergeReport`] |
//! | `theory` | [`crate::theory::TheoryReport`] |
//! | `mlp-conjecture` | [`crate::experiments::mlp_conjecture::MlpConjectureReport`] |
//! | `imagenet` | [`crate::experiments::imagenet::ImagenetReport`] |
//! | `study …` | [`crate::experiments::study::PairResult`], [`crate::experiments::study::report::StudyReport`] |

use std::fmt;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::allocator::HeapPolicy;
use crate::bench::BenchRow;
use crate::device::DeviceChoice;
use crate::experiments::merge::{Alignment, MergeOutcome, MergePoint, Method, Timings};
use crate::merge::RepairMode;
use crate::metrics::{Barriers, LayerEquivariance};
use crate::tables::{Table, Values};
use crate::train::EvalMetrics;

/// A result file that exists but cannot be read as the result it should hold.
#[derive(Debug, thiserror::Error)]
pub enum ResultFileError {
    /// Reading failed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The file is not the expected JSON value.
    #[error("{path}: not a valid {what} result: {source}")]
    Parse { path: PathBuf, what: &'static str, source: serde_json::Error },
}

/// Read a result file written by a `relusym` command: `Ok(None)` if it does not exist, an error
/// naming the file if it exists but does not parse as `T`.
pub fn read_result<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ResultFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ResultFileError::Io { path: path.to_path_buf(), source }),
    };
    let what = std::any::type_name::<T>().rsplit("::").next().unwrap_or("result");
    serde_json::from_str(&text).map(Some).map_err(|source| ResultFileError::Parse { path: path.to_path_buf(), what, source })
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{:.2}", 100.0 * x))
}

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.3}"))
}

/// `relusym eval`: a checkpoint evaluated on a test set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Checkpoint directory.
    pub checkpoint: PathBuf,
    /// Dataset name.
    pub dataset: String,
    /// Device description.
    pub device: String,
    /// The metrics.
    pub metrics: EvalMetrics,
    /// Seconds spent evaluating.
    pub wall_s: f64,
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.metrics;
        writeln!(f, "checkpoint   {}", self.checkpoint.display())?;
        writeln!(f, "dataset      {} ({} test images)", self.dataset, m.images)?;
        writeln!(f, "device       {}", self.device)?;
        writeln!(f, "accuracy     {:.4}", m.accuracy)?;
        writeln!(f, "loss         {:.4}", m.loss)?;
        writeln!(f, "flip agree   {:.4}", m.flip_agreement)?;
        write!(f, "rel. change  {:.4}", m.relative_logit_change)
    }
}

/// `relusym bench`: throughput per width on one device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchReport {
    /// Device description.
    pub device: String,
    /// How the process's allocator treated freed memory (files written before the setting
    /// existed read as glibc's defaults).
    #[serde(default)]
    pub heap: HeapPolicy,
    /// One row per width.
    pub rows: Vec<BenchRow>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "device {}", self.device)?;
        writeln!(f, "heap   {}", self.heap.describe())?;
        for r in &self.rows {
            writeln!(
                f,
                "width {:<6} train {:>8.1} img/s   inference {:>8.1} img/s   ({} params)",
                r.width, r.train_images_per_s, r.infer_images_per_s, r.params
            )?;
            if let Some(layout) = &r.layout {
                writeln!(f, "             inputs {layout}")?;
            }
        }
        Ok(())
    }
}

/// One hidden space of an alignment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AlignLayer {
    /// Space name (`conv0`, …).
    pub space: String,
    /// Channels.
    pub channels: usize,
    /// The permutation applied to the partner.
    pub perm: Vec<usize>,
    /// Fixed points (over every channel).
    pub fixed_points: usize,
    /// 2-cycles.
    pub two_cycles: usize,
    /// Cycles longer than 2.
    pub longer_cycles: usize,
    /// Channels in cycles longer than 2.
    pub in_longer_cycles: usize,
    /// Whether the permutation is an involution.
    pub involution: bool,
    /// Channels moved.
    pub moved: usize,
    /// Mean correlation of matched live channels (activation matching).
    #[serde(default)]
    pub matched_corr: Option<f64>,
    /// Plain equivariance error (flip partner only).
    #[serde(default)]
    pub equivariance_error: Option<f64>,
    /// Plain error with P = I.
    #[serde(default)]
    pub unaligned_error: Option<f64>,
    /// Error over live channels and off-centre kernel columns.
    #[serde(default)]
    pub off_centre_error: Option<f64>,
    /// The off-centre error with P = I.
    #[serde(default)]
    pub unaligned_off_centre_error: Option<f64>,
    /// Dead channels.
    #[serde(default)]
    pub dead: Option<usize>,
    /// Share of live channels moved.
    #[serde(default)]
    pub moved_share: Option<f64>,
}

/// `relusym align`: the permutations aligning a partner to a network, their cycle structure and
/// (for the flip partner) the layerwise equivariance errors.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AlignReport {
    /// The reference network's checkpoint.
    pub a: PathBuf,
    /// The partner: `flip` or the twin's checkpoint.
    pub partner: String,
    /// Matching method.
    pub method: Method,
    /// Device description.
    pub device: String,
    /// Statistics images streamed.
    pub images: usize,
    /// Whether the stream was augmented.
    pub augmented: bool,
    /// Seconds spent aligning.
    pub seconds: f64,
    /// Weight-matching objective after each sweep (weight methods).
    #[serde(default)]
    pub objective_per_sweep: Option<Vec<f64>>,
    /// One entry per hidden space.
    pub layers: Vec<AlignLayer>,
    /// The classifier's plain equivariance error (flip partner only).
    #[serde(default)]
    pub head_equivariance_error: Option<f64>,
}

impl AlignReport {
    /// Assemble the report of `alignment`; `equivariance` (flip partner) has one entry per weight
    /// of the network, as [`crate::metrics::layerwise_equivariance`] gives it: the producers of the
    /// hidden spaces (the entries with a live count, in the order of the spaces), other weights
    /// writing into a space (a ResNet block's second conv), and the classifier last.
    pub fn new(a: PathBuf, partner: String, device: String, spaces: &[String], alignment: &Alignment, equivariance: Option<&[LayerEquivariance]>) -> Self {
        let producers: Option<Vec<&LayerEquivariance>> = equivariance.map(|e| e.iter().filter(|l| l.live.is_some()).collect());
        let layers = alignment
            .perms
            .iter()
            .enumerate()
            .map(|(i, perm)| {
                let c = perm.cycle_counts();
                let e = producers.as_ref().and_then(|e| e.get(i).copied());
                AlignLayer {
                    space: spaces.get(i).cloned().unwrap_or_else(|| format!("space{i}")),
                    channels: perm.len(),
                    perm: perm.as_slice().to_vec(),
                    fixed_points: c.fixed,
                    two_cycles: c.two_cycles,
                    longer_cycles: c.longer,
                    in_longer_cycles: c.in_longer,
                    involution: perm.is_involution(),
                    moved: perm.moved(),
                    matched_corr: alignment.matched_corr.as_ref().and_then(|m| m.get(i).copied()),
                    equivariance_error: e.map(|e| e.relative_error),
                    unaligned_error: e.map(|e| e.unaligned_error),
                    off_centre_error: e.map(|e| e.off_centre_error),
                    unaligned_off_centre_error: e.map(|e| e.unaligned_off_centre_error),
                    dead: e.and_then(|e| e.dead),
                    moved_share: e.and_then(|e| e.moved_share),
                }
            })
            .collect();
        let head = equivariance.filter(|e| e.len() > alignment.perms.len()).and_then(|e| e.last()).map(|l| l.relative_error);
        AlignReport {
            a,
            partner,
            method: alignment.method,
            device,
            images: alignment.images,
            augmented: alignment.augmented,
            seconds: alignment.seconds,
            objective_per_sweep: alignment.objective_per_sweep.clone(),
            layers,
            head_equivariance_error: head,
        }
    }

    /// The per-layer table (`align.csv` / `align.parquet`).
    pub fn table(&self) -> Table {
        let l = &self.layers;
        let opt = |f: fn(&AlignLayer) -> Option<f64>| Values::F64(l.iter().map(|x| f(x).unwrap_or(f64::NAN)).collect());
        let mut t = Table::new()
            .col("space", "", Values::Str(l.iter().map(|x| x.space.clone()).collect()))
            .col("channels", "", Values::I64(l.iter().map(|x| x.channels as i64).collect()))
            .col("fixed_points", "channels", Values::I64(l.iter().map(|x| x.fixed_points as i64).collect()))
            .col("two_cycles", "pairs", Values::I64(l.iter().map(|x| x.two_cycles as i64).collect()))
            .col("longer_cycles", "cycles", Values::I64(l.iter().map(|x| x.longer_cycles as i64).collect()))
            .col("involution", "", Values::Bool(l.iter().map(|x| x.involution).collect()));
        if l.iter().any(|x| x.matched_corr.is_some()) {
            t = t.col("matched_corr", "Pearson r", opt(|x| x.matched_corr));
        }
        if l.iter().any(|x| x.equivariance_error.is_some()) {
            t = t
                .col("equivariance_error", "relative Frobenius", opt(|x| x.equivariance_error))
                .col("unaligned_error", "relative Frobenius", opt(|x| x.unaligned_error))
                .col("off_centre_error", "relative Frobenius", opt(|x| x.off_centre_error))
                .col("unaligned_off_centre_error", "relative Frobenius", opt(|x| x.unaligned_off_centre_error));
        }
        t
    }
}

impl fmt::Display for AlignReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "aligned {} to {} by {} matching in {:.1} s ({})", self.partner, self.a.display(), self.method.name(), self.seconds, self.device)?;
        writeln!(
            f,
            "{:<8} {:>8} {:>6} {:>7} {:>7} {:>6} {:>9} {:>9} {:>9}",
            "space", "channels", "fixed", "2-cyc", "longer", "invol", "corr", "equiv.err", "off-ctr"
        )?;
        for l in &self.layers {
            writeln!(
                f,
                "{:<8} {:>8} {:>6} {:>7} {:>7} {:>6} {:>9} {:>9} {:>9}",
                l.space,
                l.channels,
                l.fixed_points,
                l.two_cycles,
                l.longer_cycles,
                l.involution,
                num(l.matched_corr),
                num(l.equivariance_error),
                num(l.off_centre_error)
            )?;
        }
        if let Some(h) = self.head_equivariance_error {
            writeln!(f, "classifier equivariance error {h:.3}")?;
        }
        Ok(())
    }
}

/// What a merge report keeps of its alignment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AlignmentSummary {
    /// Per hidden space: whether the permutation is an involution.
    pub perms_involutions: Vec<bool>,
    /// Per hidden space: mean matched correlation (activation matching).
    #[serde(default)]
    pub matched_corr: Option<Vec<f64>>,
    /// Weight-matching objective after each sweep.
    #[serde(default)]
    pub objective_per_sweep: Option<Vec<f64>>,
}

/// Which barrier a merge measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeKind {
    /// The network against its aligned flipped self.
    Gcnn,
    /// The network against an independently trained twin.
    Ordinary,
}

/// `relusym merge`: the interpolation curve of a network and its aligned partner, and barriers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MergeReport {
    /// The reference network's checkpoint.
    pub a: PathBuf,
    /// The partner: `flip` or the twin's checkpoint.
    pub partner: String,
    /// Which barrier.
    pub barrier: MergeKind,
    /// Matching method.
    pub method: Method,
    /// Repair of the merged nets.
    pub repair: RepairMode,
    /// Device description.
    pub device: String,
    /// Full metrics (flip invariance included) of the two endpoints.
    pub endpoints: [Option<EvalMetrics>; 2],
    /// The curve.
    pub curve: Vec<MergePoint>,
    /// Its barriers.
    pub barriers: Barriers,
    /// Accuracy at α = ½ without alignment and repair.
    #[serde(default)]
    pub unaligned_midpoint_accuracy: Option<f64>,
    /// Per layer: merged/endpoint pre-activation variance at α = ½ before repair.
    #[serde(default)]
    pub variance_ratio_before: Vec<f64>,
    /// The same after repair.
    #[serde(default)]
    pub variance_ratio_after: Vec<f64>,
    /// The alignment, summarised.
    pub alignment: AlignmentSummary,
    /// Wall-clock breakdown.
    pub seconds: Timings,
}

impl MergeReport {
    /// The report of one merge outcome.
    pub fn new(a: PathBuf, partner: String, barrier: MergeKind, device: String, outcome: &MergeOutcome) -> Self {
        MergeReport {
            a,
            partner,
            barrier,
            method: outcome.config.method,
            repair: outcome.config.repair,
            device,
            endpoints: [outcome.curve.first().and_then(|c| c.full.clone()), outcome.curve.last().and_then(|c| c.full.clone())],
            curve: outcome.curve.clone(),
            barriers: outcome.barriers.clone(),
            unaligned_midpoint_accuracy: outcome.unaligned_midpoint_accuracy,
            variance_ratio_before: outcome.variance_ratio_before.clone(),
            variance_ratio_after: outcome.variance_ratio_after.clone(),
            alignment: AlignmentSummary {
                perms_involutions: outcome.alignment.perms.iter().map(|q| q.is_involution()).collect(),
                matched_corr: outcome.alignment.matched_corr.clone(),
                objective_per_sweep: outcome.alignment.objective_per_sweep.clone(),
            },
            seconds: outcome.seconds.clone(),
        }
    }

    /// The curve point at `alpha`, if on the grid.
    pub fn at(&self, alpha: f64) -> Option<&MergePoint> {
        self.curve.iter().find(|c| (c.alpha - alpha).abs() < 1e-9)
    }

    /// The curve as a table (`merge.csv` / `merge.parquet`).
    pub fn table(&self) -> Table {
        let n = self.curve.len();
        let kind = match self.barrier {
            MergeKind::Gcnn => "gcnn",
            MergeKind::Ordinary => "ordinary",
        };
        Table::new()
            .col("barrier", "", Values::Str(vec![kind.into(); n]))
            .col("method", "", Values::Str(vec![self.method.name().into(); n]))
            .col("repair", "", Values::Str(vec![self.repair.name().into(); n]))
            .col("alpha", "", Values::F64(self.curve.iter().map(|c| c.alpha).collect()))
            .col("test_accuracy", "fraction", Values::F64(self.curve.iter().map(|c| c.accuracy).collect()))
            .col("test_loss", "nats", Values::F64(self.curve.iter().map(|c| c.loss).collect()))
    }
}

impl fmt::Display for MergeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.barrier {
            MergeKind::Gcnn => "GCNN",
            MergeKind::Ordinary => "ordinary",
        };
        writeln!(
            f,
            "{kind} barrier: {} vs {} ({} matching, repair {}, {})",
            self.a.display(),
            self.partner,
            self.method.name(),
            self.repair.name(),
            self.device
        )?;
        writeln!(f, "{:>6} {:>9} {:>9}", "alpha", "accuracy", "loss")?;
        for c in &self.curve {
            writeln!(f, "{:>6.3} {:>9.4} {:>9.4}", c.alpha, c.accuracy, c.loss)?;
        }
        let b = &self.barriers;
        writeln!(
            f,
            "midpoint barrier: accuracy {} points, loss {}; sup barrier: loss {:.4}, accuracy {:.2} points",
            pct(b.midpoint_accuracy),
            num(b.midpoint_loss),
            b.loss_barrier,
            100.0 * b.accuracy_barrier
        )?;
        if let Some(u) = self.unaligned_midpoint_accuracy {
            writeln!(f, "unaligned, unrepaired midpoint accuracy {:.2} %", 100.0 * u)?;
        }
        if !self.variance_ratio_before.is_empty() {
            let j = |v: &[f64]| v.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(" ");
            writeln!(
                f,
                "variance ratio merged/endpoints at α=½, per layer: before {} | after {}",
                j(&self.variance_ratio_before),
                j(&self.variance_ratio_after)
            )?;
        }
        let s = &self.seconds;
        write!(
            f,
            "time: align {:.1} s, stats {:.1} s, merge+repair {:.1} s, evaluate {:.1} s, total {:.1} s",
            s.align, s.stats, s.merge_repair, s.evaluate, s.total
        )
    }
}

/// The PyTorch port's timing of the same merge (`results/cpu/timing-torch.json`, written by the
/// Python script in `scripts/`): per result `[accuracy, loss, flip agreement]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TorchTiming {
    /// PyTorch version.
    pub torch: String,
    /// Threads PyTorch used.
    pub threads: usize,
    /// `alpha0`, `alpha0.5_repaired`, `alpha1`, `unaligned_midpoint` → `[accuracy, loss, flip agreement]`.
    pub results: std::collections::BTreeMap<String, Vec<f64>>,
    /// Seconds per step (`align`, `merge_repair`, `evaluate`, `total`).
    pub seconds: std::collections::BTreeMap<String, f64>,
}

/// The paired benchmark (`bench/paired.py`, `just bench-paired`): relusym and PyTorch on identical
/// work, run one after the other in alternating order, several rounds
/// (`results/cpu/bench-paired.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairedBench {
    /// When it ran (UTC, ISO 8601).
    pub date: String,
    /// The CPU model.
    pub cpu: String,
    /// Logical cores of the machine.
    pub cores: usize,
    /// Threads each side was given.
    pub threads: usize,
    /// PyTorch version.
    pub pytorch: String,
    /// The relusym binary that ran.
    pub relusym: String,
    /// relusym's `--device`: `cpu` (flex) or `libtorch` (files from before the option say nothing: cpu).
    #[serde(default = "cpu_device")]
    pub relusym_device: DeviceChoice,
    /// Whether relusym's inputs were laid out channels-last in memory (its batches are on
    /// LibTorch since 2026-12-06; files written before say nothing: they were not).
    #[serde(default)]
    pub relusym_channels_last: bool,
    /// relusym's `RELUSYM_LAYOUT` on LibTorch (`auto`: measured per model, each row records the
    /// outcome in [`PairedRow::relusym_channels_last`]); absent in files written before it existed.
    #[serde(default)]
    pub relusym_layout: Option<String>,
    /// How relusym's process treated freed memory ([`crate::allocator`]; files written before
    /// the setting existed: glibc's defaults).
    #[serde(default)]
    pub relusym_heap: HeapPolicy,
    /// How PyTorch's processes did: glibc's defaults, or the same settings as relusym's through
    /// glibc's environment variables (`bench/paired.py --pytorch-heap keep-freed`).
    #[serde(default)]
    pub pytorch_heap: HeapPolicy,
    /// Rounds (each row has one value per side per round).
    pub rounds: usize,
    /// Batch size of the throughput rows.
    pub batch: usize,
    /// Wall seconds of the whole benchmark.
    pub seconds: f64,
    /// One row per task and setting.
    pub rows: Vec<PairedRow>,
}

/// One row of a [`PairedBench`]: a task at one setting, measured on both sides every round.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairedRow {
    /// `training`, `inference` or `pipeline`.
    pub task: String,
    /// E.g. `width 0.25, BN`.
    pub setting: String,
    /// Unit of the values (`images/s` or `s`).
    pub unit: String,
    /// Whether larger values are faster (throughput) or slower (seconds).
    pub higher_is_better: bool,
    /// relusym's value per round.
    pub relusym: Vec<f64>,
    /// PyTorch's value per round.
    pub pytorch: Vec<f64>,
    /// Per round, relusym's speed over PyTorch's (> 1: relusym is faster).
    pub ratios: Vec<f64>,
    /// Peak resident memory of relusym's process per round, MiB.
    pub relusym_max_rss_mib: Vec<f64>,
    /// Peak resident memory of PyTorch's process per round, MiB.
    pub pytorch_max_rss_mib: Vec<f64>,
    /// The machine's 1-minute load average before each process of the row.
    pub load_1min_before: Vec<f64>,
    /// Throughput rows: PyTorch's value per round with channels-last inputs (empty in files
    /// written before this was measured, and for the pipeline).
    #[serde(default)]
    pub pytorch_channels_last: Vec<f64>,
    /// Per round, relusym's speed over channels-last PyTorch's.
    #[serde(default)]
    pub ratios_channels_last: Vec<f64>,
    /// Peak resident memory of channels-last PyTorch's process per round, MiB.
    #[serde(default)]
    pub pytorch_channels_last_max_rss_mib: Vec<f64>,
    /// Throughput rows: per round, whether relusym's inputs were channels-last (as it measured or
    /// was told; empty in files written before rows recorded it).
    #[serde(default)]
    pub relusym_channels_last: Vec<bool>,
}

/// The median of `v` (mean of the middle two for an even length); `None` when empty.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 })
}

impl PairedRow {
    /// Median of the per-round ratios.
    pub fn median_ratio(&self) -> Option<f64> {
        median(&self.ratios)
    }

    /// Smallest and largest per-round ratio.
    pub fn ratio_range(&self) -> Option<(f64, f64)> {
        range(&self.ratios)
    }
}

/// Smallest and largest of `v`; `None` when empty.
fn range(v: &[f64]) -> Option<(f64, f64)> {
    let lo = v.iter().copied().reduce(f64::min)?;
    let hi = v.iter().copied().reduce(f64::max)?;
    Some((lo, hi))
}

fn cpu_device() -> DeviceChoice {
    DeviceChoice::Cpu
}

impl PairedBench {
    /// The Speed chapter's tables: throughput (training and inference), and the pipeline with
    /// peak memory, as Markdown, each at most six columns wide.
    pub fn markdown(&self) -> String {
        let f0 = |v: Option<f64>| v.map_or("–".into(), |x| format!("{x:.0}"));
        let f1 = |v: Option<f64>| v.map_or("–".into(), |x| format!("{x:.1}"));
        let ratio_of = |v: &[f64]| match (median(v), range(v)) {
            (Some(m), Some((lo, hi))) => format!("**{m:.2}** ({lo:.2}–{hi:.2})"),
            _ => "–".into(),
        };
        let ratio = |r: &PairedRow| ratio_of(&r.ratios);
        let loads: Vec<f64> = self.rows.iter().flat_map(|r| r.load_1min_before.iter().copied()).collect();
        let load_max = loads.iter().copied().reduce(f64::max);
        let mut t = format!(
            "Paired run of {} on {} ({} cores; each side {} threads), {} rounds in alternating order, {:.0} minutes in all; \
             relusym on its `{}` device ({}{}; heap: {}); PyTorch {} (heap: {}); machine load (1-minute average) before each process: median {}, at most {}.\n\n",
            self.date.get(..10).unwrap_or(&self.date),
            self.cpu,
            self.cores,
            self.threads,
            self.rounds,
            self.seconds / 60.0,
            self.relusym_device.name(),
            match self.relusym_device {
                DeviceChoice::Libtorch => "burn's LibTorch backend, PyTorch's kernels",
                DeviceChoice::Gpu => "burn's wgpu backend",
                DeviceChoice::Cpu | DeviceChoice::Auto => "burn's flex backend",
            },
            match self.relusym_layout.as_deref() {
                Some("auto") => ", batch layout measured per width: the layout column",
                Some("channels-last") => ", inputs laid out channels-last",
                Some(_) => "",
                None if self.relusym_channels_last => ", inputs laid out channels-last",
                None => "",
            },
            self.relusym_heap.short(),
            self.pytorch,
            self.pytorch_heap.short(),
            f1(median(&loads)),
            f1(load_max),
        );
        for task in ["training", "inference"] {
            let rows: Vec<&PairedRow> = self.rows.iter().filter(|r| r.task == task).collect();
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(t, "**VGG11 {task}, batch {}** (images/s, medians; ratio = relusym / PyTorch, median and range over rounds)\n", self.batch);
            let layouts = rows.iter().any(|r| !r.relusym_channels_last.is_empty());
            t.push_str(if layouts {
                "| setting | relusym (layout) | PyTorch | ratio | peak MiB relusym / PyTorch |\n|---|---|---|---|---|\n"
            } else {
                "| setting | relusym | PyTorch | ratio | peak MiB relusym / PyTorch |\n|---|---|---|---|---|\n"
            });
            for &r in &rows {
                let layout = match (r.relusym_channels_last.iter().all(|&c| c), r.relusym_channels_last.iter().any(|&c| c)) {
                    _ if r.relusym_channels_last.is_empty() => "",
                    (true, _) => " (channels-last)",
                    (false, false) => " (plain)",
                    (false, true) => " (mixed)",
                };
                let _ = writeln!(
                    t,
                    "| {} | {}{layout} | {} | {} | {} / {} |",
                    r.setting,
                    f0(median(&r.relusym)),
                    f0(median(&r.pytorch)),
                    ratio(r),
                    f0(median(&r.relusym_max_rss_mib)),
                    f0(median(&r.pytorch_max_rss_mib))
                );
            }
            t.push('\n');
            if rows.iter().any(|r| !r.pytorch_channels_last.is_empty()) {
                let _ = writeln!(
                    t,
                    "**VGG11 {task}, batch {}, against PyTorch with channels-last inputs** ({}; images/s, medians; ratio = relusym / PyTorch)\n",
                    self.batch,
                    if self.relusym_layout.as_deref() == Some("auto") {
                        "relusym's batches in the layout of the table above, measured per width"
                    } else if self.relusym_channels_last {
                        "the layout of relusym's batches on this device"
                    } else {
                        "relusym's batches keep the plain layout on this device"
                    }
                );
                t.push_str("| setting | relusym | PyTorch channels-last | ratio | peak MiB PyTorch |\n|---|---|---|---|---|\n");
                for r in rows {
                    let _ = writeln!(
                        t,
                        "| {} | {} | {} | {} | {} |",
                        r.setting,
                        f0(median(&r.relusym)),
                        f0(median(&r.pytorch_channels_last)),
                        ratio_of(&r.ratios_channels_last),
                        f0(median(&r.pytorch_channels_last_max_rss_mib))
                    );
                }
                t.push('\n');
            }
        }
        let pipes: Vec<&PairedRow> = self.rows.iter().filter(|r| r.task.starts_with("pipeline")).collect();
        if !pipes.is_empty() {
            t.push_str(
                "**Whole flip-self merge pipeline** (seconds, medians: each side's own total of matching, statistics, merge + repair and \
                 evaluation; then the process's wall time with start-up and data loading; ratio = PyTorch time / relusym time)\n\n",
            );
            t.push_str("| setting | relusym (s) | PyTorch (s) | ratio | peak MiB relusym / PyTorch |\n|---|---|---|---|---|\n");
            for r in pipes {
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {} | {} / {} |",
                    r.setting,
                    f1(median(&r.relusym)),
                    f1(median(&r.pytorch)),
                    ratio(r),
                    f0(median(&r.relusym_max_rss_mib)),
                    f0(median(&r.pytorch_max_rss_mib))
                );
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("relusym-results-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn paired_rows_report_the_median_ratio_and_its_range_and_render_one_line_per_row() {
        let row = |task: &str, setting: &str, r: Vec<f64>, p: Vec<f64>, higher: bool| {
            let ratios = r.iter().zip(&p).map(|(a, b)| if higher { a / b } else { b / a }).collect();
            PairedRow {
                task: task.into(),
                setting: setting.into(),
                unit: if higher { "images/s".into() } else { "s".into() },
                higher_is_better: higher,
                relusym_max_rss_mib: vec![100.0; r.len()],
                pytorch_max_rss_mib: vec![200.0; r.len()],
                load_1min_before: vec![0.5; 2 * r.len()],
                relusym: r,
                pytorch: p,
                ratios,
                pytorch_channels_last: Vec::new(),
                ratios_channels_last: Vec::new(),
                pytorch_channels_last_max_rss_mib: Vec::new(),
                relusym_channels_last: Vec::new(),
            }
        };
        let mut train = row("training", "width 0.25, BN", vec![100.0, 300.0, 200.0], vec![100.0, 100.0, 100.0], true);
        assert_eq!(train.median_ratio(), Some(2.0));
        assert_eq!(train.ratio_range(), Some((1.0, 3.0)));
        let pipe = row("pipeline", "flip-self merge", vec![10.0, 20.0], vec![40.0, 40.0], false);
        let plain = train.clone();
        (train.pytorch_channels_last, train.ratios_channels_last, train.pytorch_channels_last_max_rss_mib) =
            (vec![400.0; 3], vec![0.25, 0.75, 0.5], vec![300.0; 3]);
        assert_eq!(pipe.median_ratio(), Some(3.0), "PyTorch time over relusym time, mean of the middle two");
        let bench = PairedBench {
            date: "2026-11-30T16:00:00Z".into(),
            cpu: "test CPU".into(),
            cores: 2,
            threads: 2,
            pytorch: "2.0".into(),
            relusym: "relusym".into(),
            relusym_device: DeviceChoice::Libtorch,
            relusym_channels_last: true,
            relusym_layout: None,
            relusym_heap: HeapPolicy::KeepFreed,
            pytorch_heap: HeapPolicy::GlibcDefault,
            rounds: 3,
            batch: 500,
            seconds: 600.0,
            rows: vec![train, pipe],
        };
        let md = bench.markdown();
        assert!(md.contains("| width 0.25, BN | 200 | 100 | **2.00** (1.00–3.00) | 100 / 200 |"), "{md}");
        assert!(md.contains("| flip-self merge | 15.0 | 40.0 | **3.00** (2.00–4.00) | 100 / 200 |"), "{md}");
        assert!(!md.contains("VGG11 inference"), "no inference rows, no inference table: {md}");
        assert!(md.contains("relusym on its `libtorch` device (burn's LibTorch backend"), "the backend is named: {md}");
        assert!(md.contains("| width 0.25, BN | 200 | 400 | **0.50** (0.25–0.75) | 300 |"), "the channels-last comparison: {md}");
        assert!(md.contains("heap: freed memory kept, `M_MMAP_MAX=0`); PyTorch 2.0 (heap: glibc's defaults)"), "each side's heap is named: {md}");
        // files written before `relusym_device`, the layout, the heap settings and the channels-last side existed
        let mut old = serde_json::to_value(&PairedBench { rows: vec![plain], ..bench.clone() }).unwrap();
        for field in ["relusym_device", "relusym_channels_last", "relusym_heap", "pytorch_heap"] {
            old.as_object_mut().unwrap().remove(field);
        }
        for field in ["pytorch_channels_last", "ratios_channels_last", "pytorch_channels_last_max_rss_mib"] {
            old["rows"][0].as_object_mut().unwrap().remove(field);
        }
        let old: PairedBench = serde_json::from_value(old).unwrap();
        assert_eq!((old.relusym_device, old.relusym_channels_last), (DeviceChoice::Cpu, false));
        assert_eq!((old.relusym_heap, old.pytorch_heap), (HeapPolicy::GlibcDefault, HeapPolicy::GlibcDefault));
        let md = old.markdown();
        assert!(!md.contains("channels-last"), "no channels-last side, no second table: {md}");
        // a measured layout per row: the row says which, the heading says it was measured
        let mut measured = PairedBench { relusym_layout: Some("auto".into()), relusym_channels_last: false, ..bench.clone() };
        measured.rows[0].relusym_channels_last = vec![true, true, true];
        let mut mixed = measured.rows[0].clone();
        (mixed.setting, mixed.relusym_channels_last) = ("width 1, BN".into(), vec![false, true, false]);
        measured.rows.push(mixed);
        let md = measured.markdown();
        assert!(md.contains("batch layout measured per width") && md.contains("| relusym (layout) |"), "{md}");
        assert!(md.contains("| width 0.25, BN | 200 (channels-last) | 100 |") && md.contains("| width 1, BN | 200 (mixed) | 100 |"), "{md}");
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn a_missing_result_file_is_none_and_a_malformed_one_is_an_error_naming_it() {
        let dir = temp("read");
        assert!(read_result::<BenchReport>(&dir.join("absent.json")).unwrap().is_none());
        let bad = dir.join("bench.json");
        std::fs::write(&bad, r#"{"device": "flex", "rows": [{"width": "wide"}]}"#).unwrap();
        let err = read_result::<BenchReport>(&bad).unwrap_err().to_string();
        assert!(err.contains("bench.json") && err.contains("BenchReport"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn merge_reports_written_before_points_carried_their_own_accuracy_still_read() {
        // The layout of `results/cpu/merge-*.json`: curve points hold their metrics under `metrics`.
        let m = serde_json::json!({"images": 10, "accuracy": 0.8, "loss": 0.6, "flip_agreement": 0.9,
            "relative_logit_change": 0.2, "flipped_accuracy": 0.79, "flipped_loss": 0.61});
        let legacy = serde_json::json!({
            "command": "merge", "a": "runs/cpu/flip-s0", "partner": "flip", "barrier": "gcnn", "method": "activation",
            "repair": "none", "device": "flex", "endpoints": [m, m],
            "curve": [{"alpha": 0.0, "metrics": m}, {"alpha": 1.0, "metrics": m}],
            "barriers": {"midpoint_accuracy": null, "midpoint_loss": null, "loss_barrier": 0.0, "accuracy_barrier": 0.0},
            "alignment": {"perms_involutions": [true], "matched_corr": [0.5], "objective_per_sweep": null},
            "seconds": {"align": 1.0, "stats": 1.0, "merge_repair": 1.0, "evaluate": 1.0, "total": 4.0}
        });
        let r: MergeReport = serde_json::from_value(legacy).unwrap();
        assert_eq!(r.curve.len(), 2);
        assert_eq!(r.curve[0].accuracy, 0.8);
        assert_eq!(r.curve[1].full.as_ref().map(|f| f.flip_agreement), Some(0.9));
        // and a current report survives its own round trip
        let back: MergeReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.curve[0].loss, 0.6);
        assert_eq!(back.barrier, MergeKind::Gcnn);
    }

    #[test]
    fn committed_result_files_parse_as_their_types() {
        // Every align/merge/bench file the book reads must parse; a renamed field fails here.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/cpu");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = entry.path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".json") {
                continue;
            }
            if name.starts_with("merge-") || name == "timing-rust.json" {
                read_result::<MergeReport>(&p).unwrap().unwrap();
            } else if name.starts_with("align-") {
                read_result::<AlignReport>(&p).unwrap().unwrap();
            } else if name.starts_with("bench-paired") {
                read_result::<PairedBench>(&p).unwrap().unwrap();
            } else if name.starts_with("bench-") {
                read_result::<BenchReport>(&p).unwrap().unwrap();
            } else if name == "timing-torch.json" {
                read_result::<TorchTiming>(&p).unwrap().unwrap();
            } else {
                continue;
            }
            checked += 1;
        }
        assert!(checked >= 10, "only {checked} committed result files found in {}", dir.display());
    }
}
