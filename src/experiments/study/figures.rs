//! The study's figures, one function per figure. [`super::report::write_report`] draws them for
//! the book and the notebooks call the same functions on the committed results (or on merges
//! they run themselves), so both show the same figure. Each writes the file named by its path:
//! SVG, or PNG when the path ends in `.png`.

use std::path::Path;

use super::report::{HeadlineRow, Stat, StructureRow, StudyReport, TrendRow, repair_name, strongest_repair};
use crate::experiments::merge::{Alignment, MergeOutcome, MergePoint, Method};
use crate::merge::RepairMode;
use crate::nets::Network;
use crate::plots::{BarSeries, FilterPanel, PlotError, Series, bar_chart, filter_grid, line_chart};
use crate::train::EpochRecord;

/// Midpoint accuracy barriers of one matching method by training variant: GCNN and ordinary
/// barrier, without repair and with the strongest repair (bars: mean, whiskers: spread over seeds).
pub fn headline_figure(r: &StudyReport, method: Method, path: &Path) -> Result<(), PlotError> {
    let rep = strongest_repair();
    let variants = r.spec.shown_variants();
    let cats: Vec<String> = variants.iter().map(|v| v.label().to_string()).collect();
    let pick = |repair: RepairMode, f: fn(&HeadlineRow) -> Option<Stat>| -> Vec<(f64, f64)> {
        variants
            .iter()
            .map(|v| {
                r.headline
                    .iter()
                    .find(|x| x.method == method && x.repair == repair && x.variant == *v)
                    .and_then(f)
                    .map_or((f64::NAN, 0.0), |s| (100.0 * s.mean, 100.0 * s.sd.unwrap_or(0.0)))
            })
            .collect()
    };
    let series: Vec<BarSeries> = vec![
        ("GCNN barrier, no repair".into(), pick(RepairMode::None, |x| x.gcnn_accuracy)),
        ("ordinary barrier, no repair".into(), pick(RepairMode::None, |x| x.ordinary_accuracy)),
        (format!("GCNN barrier, {}", legend_repair(rep)), pick(rep, |x| x.gcnn_accuracy)),
        (format!("ordinary barrier, {}", legend_repair(rep)), pick(rep, |x| x.ordinary_accuracy)),
    ];
    let title = format!("Midpoint accuracy barrier, {} matching (mean ± spread over seeds)", method.name());
    bar_chart(path, &title, "training variant", "accuracy barrier (points)", &cats, &series)
}

/// What an interpolation figure plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CurveMetric {
    /// Test accuracy (%).
    Accuracy,
    /// Test cross-entropy (nats).
    Loss,
}

impl CurveMetric {
    /// Its name in titles and file names.
    pub fn name(self) -> &'static str {
        match self {
            CurveMetric::Accuracy => "accuracy",
            CurveMetric::Loss => "loss",
        }
    }

    fn value(self, p: &MergePoint) -> f64 {
        match self {
            CurveMetric::Accuracy => 100.0 * p.accuracy,
            CurveMetric::Loss => p.loss,
        }
    }

    fn unit(self) -> &'static str {
        match self {
            CurveMetric::Accuracy => "test accuracy (%)",
            CurveMetric::Loss => "test cross-entropy (nats)",
        }
    }
}

/// Test accuracy or loss along θ_α = (1 − α)·θ + α·P(θ') for `net`: one line per merge outcome
/// with its flipped self (`gcnn`) and with its twin (`ordinary`), labelled by repair mode.
pub fn curves_figure(net: &str, method: Method, gcnn: &[&MergeOutcome], ordinary: &[&MergeOutcome], metric: CurveMetric, path: &Path) -> Result<(), PlotError> {
    let mut series: Vec<Series> = Vec::new();
    for (name, outcomes) in [("GCNN barrier (flipped self)", gcnn), ("ordinary barrier (twin)", ordinary)] {
        for oc in outcomes {
            series.push((format!("{name}, {}", legend_repair(oc.config.repair)), oc.curve.iter().map(|p| (p.alpha, metric.value(p))).collect()));
        }
    }
    let title = format!("Interpolating {net}: test {} along θ_α, {} matching", metric.name(), method.name());
    line_chart(path, &title, "α (0 = the net, 1 = aligned partner)", metric.unit(), &series)
}

/// The x axis of a trend figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrendAxis {
    /// Barriers of weights kept during training.
    Epoch,
    /// Barriers of nets of several widths.
    Width,
}

/// Midpoint accuracy barriers (GCNN and ordinary, no repair and the strongest repair) over
/// training epochs or width, for one matching method. Returns `Ok(false)` without drawing when
/// `rows` hold no point for the method.
pub fn trend_figure(rows: &[TrendRow], axis: TrendAxis, method: Method, path: &Path) -> Result<bool, PlotError> {
    let rep = strongest_repair();
    let xlab = match axis {
        TrendAxis::Epoch => "epoch",
        TrendAxis::Width => "width multiplier",
    };
    let mut series: Vec<Series> = Vec::new();
    for (kind, f) in [("GCNN barrier", (|t: &TrendRow| t.gcnn_accuracy) as fn(&TrendRow) -> Option<Stat>), ("ordinary barrier", |t| t.ordinary_accuracy)] {
        for repair in [RepairMode::None, rep] {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|t| t.method == method && t.repair == repair)
                .filter_map(|t| {
                    let x = match axis {
                        TrendAxis::Epoch => t.epoch? as f64,
                        TrendAxis::Width => t.width,
                    };
                    Some((x, 100.0 * f(t)?.mean))
                })
                .collect();
            if !pts.is_empty() {
                series.push((format!("{kind}, {}", legend_repair(repair)), pts));
            }
        }
    }
    if series.is_empty() {
        return Ok(false);
    }
    let title = format!("Midpoint accuracy barrier vs {xlab}, {} matching", method.name());
    line_chart(path, &title, xlab, "accuracy barrier (points)", &series)?;
    Ok(true)
}

/// Per conv layer of `net` aligned with its flipped self (`method`): the shares of its channels
/// that are self-symmetric, in mirror pairs, in longer cycles, or dead.
pub fn structure_figure(rows: &[StructureRow], net: &str, method: Method, path: &Path) -> Result<(), PlotError> {
    let rows: Vec<&StructureRow> = rows.iter().filter(|s| s.net == net && s.method == method && s.live.is_some()).collect();
    let cats: Vec<String> = rows.iter().map(|s| s.layer.trim_start_matches("convs.").to_string()).collect();
    let share = |f: fn(&StructureRow) -> usize| -> Vec<(f64, f64)> {
        rows.iter().map(|s| (100.0 * f(s) as f64 / (s.live.unwrap_or(0) + s.dead.unwrap_or(0)).max(1) as f64, 0.0)).collect()
    };
    let series: Vec<BarSeries> = vec![
        ("self-symmetric".into(), share(|s| s.self_symmetric.unwrap_or(0))),
        ("in mirror pairs".into(), share(|s| 2 * s.mirror_pairs.unwrap_or(0))),
        ("in longer cycles".into(), share(|s| s.live.unwrap_or(0) - s.self_symmetric.unwrap_or(0) - 2 * s.mirror_pairs.unwrap_or(0))),
        ("dead".into(), share(|s| s.dead.unwrap_or(0))),
    ];
    let title = format!("{net} aligned with its flipped self: channels by cycle type, per conv layer");
    bar_chart(path, &title, "conv layer", "share of the layer's channels (%)", &cats, &series)
}

/// A per-epoch training curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainingCurve {
    /// Test accuracy (%).
    Accuracy,
    /// Test cross-entropy (nats).
    Loss,
    /// Agreement of predictions on x and hflip(x) (%).
    FlipAgreement,
    /// ‖f(x) − f(hflip x)‖ / ‖f(x)‖.
    LogitChange,
}

impl TrainingCurve {
    /// The file stem the book uses.
    pub fn stem(self) -> &'static str {
        match self {
            TrainingCurve::Accuracy => "training-accuracy",
            TrainingCurve::Loss => "training-loss",
            TrainingCurve::FlipAgreement => "training-flip-agreement",
            TrainingCurve::LogitChange => "training-logit-change",
        }
    }

    fn parts(self) -> (&'static str, &'static str, fn(&EpochRecord) -> f64) {
        match self {
            TrainingCurve::Accuracy => ("Test accuracy during training", "test accuracy (%)", |e| 100.0 * e.test_accuracy),
            TrainingCurve::Loss => ("Test loss during training", "test cross-entropy (nats)", |e| e.test_loss),
            TrainingCurve::FlipAgreement => ("Flip agreement during training", "flip agreement (%)", |e| 100.0 * e.flip_agreement),
            TrainingCurve::LogitChange => {
                ("Relative logit change under hflip during training", "‖f(x) − f(hflip x)‖ / ‖f(x)‖", |e| e.relative_logit_change)
            }
        }
    }
}

/// One curve per named run (its `metrics.jsonl` records), over epochs.
pub fn training_figure(runs: &[(String, Vec<EpochRecord>)], curve: TrainingCurve, path: &Path) -> Result<(), PlotError> {
    let (title, unit, pick) = curve.parts();
    let series: Vec<Series> =
        runs.iter().filter(|r| !r.1.is_empty()).map(|(name, m)| (name.clone(), m.iter().map(|e| (e.epoch as f64, pick(e))).collect())).collect();
    line_chart(path, title, "epoch", unit, &series)
}

/// Two panels for `net`: its first-layer kernels, and the kernels of its flipped copy permuted
/// by `alignment` (its first permutation) — equal panels mean a GCNN-like first layer.
pub fn filter_panels<N: Network>(net: &str, model: &N, alignment: &Alignment) -> Vec<FilterPanel> {
    let params = model.to_params();
    let structure = model.structure();
    let Some(w) = structure.spaces.first().and_then(|s| params.get(&s.producer)) else { return Vec::new() };
    let Some(perm) = alignment.perms.first() else { return Vec::new() };
    let order: Vec<usize> = (0..w.shape()[0]).collect();
    let partner: Vec<usize> = order.iter().map(|&i| perm.get(i)).collect();
    vec![(format!("{net}: conv0 kernels"), kernels_rgb(w, &order, false)), (format!("{net}: flipped, permuted"), kernels_rgb(w, &partner, true))]
}

/// The grid of [`filter_panels`].
pub fn filters_figure(panels: &[FilterPanel], path: &Path) -> Result<(), PlotError> {
    filter_grid(path, "First-layer kernels f and flip(f) aligned by activation matching", panels, 4)
}

/// First-layer kernels as RGB pixels, each scaled to `[0, 1]` by its own largest magnitude.
fn kernels_rgb(w: &ndarray::ArrayD<f32>, order: &[usize], flip: bool) -> Vec<Vec<[f64; 3]>> {
    let (k, kh, kw) = (w.shape()[1], w.shape()[2], w.shape()[3]);
    order
        .iter()
        .map(|&c| {
            let m = w.index_axis(ndarray::Axis(0), c);
            let scale = m.iter().fold(0f32, |a, v| a.max(v.abs())).max(1e-12) as f64;
            (0..kh * kw)
                .map(|pi| {
                    let (y, x) = (pi / kw, pi % kw);
                    let x = if flip { kw - 1 - x } else { x };
                    let ch = |i: usize| if i < k { 0.5 + 0.5 * m[[i, y, x]] as f64 / scale } else { 0.5 };
                    [ch(0), ch(1), ch(2)]
                })
                .collect()
        })
        .collect()
}

/// A repair mode as a legend names it: "no repair" rather than the tables' "none".
fn legend_repair(r: RepairMode) -> &'static str {
    if r == RepairMode::None { "no repair" } else { repair_name(r) }
}
