//! The book's generated material: figures and Markdown tables built from the outputs of
//! `relusym train`, `relusym align --json` and `relusym merge --json`.
//!
//! Inputs: checkpoint directories under `runs` (their `metrics.jsonl` and `config.json`) and the
//! JSON files under `results` (`align-*.json`, `merge-*.json`, `timing-*.json`). Missing inputs
//! are skipped, so the book can be rebuilt at any stage.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::experiments::results::{AlignReport, BenchReport, MergeReport, PairedBench, ResultFileError, TorchTiming, read_result};
use crate::plots::{PlotError, Series, line_chart};
use crate::provenance::write_atomic;
use crate::train::Checkpoint;

/// Errors building the report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A figure failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A result file exists but does not hold the result it should.
    #[error(transparent)]
    Result(#[from] ResultFileError),
}

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    write_atomic(path, text.as_bytes()).map_err(|source| ReportError::Io { path: path.to_path_buf(), source })
}

/// Draw a line chart as `stem.svg` and `stem.png`.
fn figure(out: &Path, stem: &str, title: &str, x: &str, y: &str, series: &[Series], written: &mut Vec<PathBuf>) -> Result<(), ReportError> {
    for ext in ["svg", "png"] {
        let p = out.join(format!("{stem}.{ext}"));
        line_chart(&p, title, x, y, series)?;
        written.push(p);
    }
    Ok(())
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |x| format!("{:.2}", 100.0 * x))
}

/// Build every figure and table; returns the files written.
pub fn build_report(runs: &Path, results: &Path, out: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    std::fs::create_dir_all(out).map_err(|source| ReportError::Io { path: out.to_path_buf(), source })?;

    // Training runs: table + curves.
    let mut names: Vec<PathBuf> =
        std::fs::read_dir(runs).map(|d| d.flatten().map(|e| e.path()).filter(|p| p.join("config.json").exists()).collect()).unwrap_or_default();
    names.sort();
    let mut series: Vec<Series> = Vec::new();
    let mut table = String::from(
        "| run | model | width | epochs | flip aug. | seed | test acc. % | test loss | flip agreement % | wall time (min) | train img/s |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for dir in &names {
        let Ok(ck) = Checkpoint::open(dir) else { continue };
        let Ok(m) = ck.metrics() else { continue };
        let Some(last) = m.last() else { continue };
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        series.push((name.clone(), m.iter().map(|r| (r.epoch as f64, 100.0 * r.test_accuracy)).collect()));
        let ips = m.iter().map(|r| r.train_images_per_s).sum::<f64>() / m.len() as f64;
        let t = &ck.meta.train;
        let _ = writeln!(
            table,
            "| {name} | {:?} | {} | {}/{} | {} | {} | {:.2} | {:.3} | {:.2} | {:.1} | {:.0} |",
            t.model,
            t.width,
            last.epoch,
            t.epochs,
            if t.flip_augmentation { "yes" } else { "no" },
            t.seed,
            100.0 * last.test_accuracy,
            last.test_loss,
            100.0 * last.flip_agreement,
            last.elapsed_s / 60.0,
            ips
        );
    }
    if !series.is_empty() {
        figure(out, "training", "Test accuracy during training (CIFAR-10, JPEG q75 copy)", "epoch", "test accuracy (%)", &series, &mut written)?;
        let p = out.join("training.md");
        write(&p, &table)?;
        written.push(p);
    }

    // Merges: curves + barrier table.
    let mut merge_series: Vec<Series> = Vec::new();
    let mut mt =
        String::from("| barrier | matching | repair | acc. α=0 % | acc. α=½ % | acc. α=1 % | midpoint acc. barrier (pts) |\n|---|---|---|---|---|---|---|\n");
    let mut ml = String::from(
        "| barrier | matching | repair | midpoint loss barrier | sup loss barrier | unaligned α=½ acc. % | α=½ flip agreement % |\n|---|---|---|---|---|---|---|\n",
    );
    let mut found = false;
    for kind in ["gcnn", "twin"] {
        for method in ["activation", "weight"] {
            for repair in ["none", "repair"] {
                let Some(v) = read_result::<MergeReport>(&results.join(format!("merge-{kind}-{method}-{repair}.json")))? else { continue };
                found = true;
                let acc = |a: f64| v.at(a).map(|c| c.accuracy);
                let label = if kind == "gcnn" { "GCNN (flipped self)" } else { "ordinary (twin)" };
                let b = &v.barriers;
                let _ = writeln!(
                    mt,
                    "| {label} | {method} | {repair} | {} | {} | {} | {} |",
                    pct(acc(0.0)),
                    pct(acc(0.5)),
                    pct(acc(1.0)),
                    pct(b.midpoint_accuracy)
                );
                let _ = writeln!(
                    ml,
                    "| {label} | {method} | {repair} | {} | {:.3} | {} | {} |",
                    b.midpoint_loss.map_or("–".into(), |x| format!("{x:.3}")),
                    b.loss_barrier,
                    pct(v.unaligned_midpoint_accuracy),
                    pct(v.at(0.5).and_then(|c| c.full.as_ref()).map(|m| m.flip_agreement)),
                );
                if method == "activation" {
                    merge_series.push((format!("{kind}, {repair}"), v.curve.iter().map(|c| (c.alpha, 100.0 * c.accuracy)).collect()));
                }
            }
        }
    }
    if found {
        for (name, text) in [("merge.md", &mt), ("merge-loss.md", &ml)] {
            let p = out.join(name);
            write(&p, text)?;
            written.push(p);
        }
        figure(out, "merge-curves", "Merging along θ_α (activation matching)", "α", "test accuracy (%)", &merge_series, &mut written)?;
    }

    // Per-layer equivariance after aligning with the flipped net.
    let mut eq_series: Vec<Series> = Vec::new();
    let mut et = String::new();
    for method in ["activation", "weight"] {
        let Some(v) = read_result::<AlignReport>(&results.join(format!("align-flip-{method}.json")))? else { continue };
        let f3 = |x: Option<f64>| x.map_or("–".into(), |x| format!("{x:.3}"));
        if et.is_empty() {
            et.push_str("| matching | layer | channels | fixed points | 2-cycles | longer cycles | involution | equivariance error | unaligned error |\n|---|---|---|---|---|---|---|---|---|\n");
            eq_series.push(("no alignment (P = I)".into(), v.layers.iter().enumerate().filter_map(|(i, l)| Some((i as f64, l.unaligned_error?))).collect()));
        }
        eq_series.push((format!("{method} matching"), v.layers.iter().enumerate().filter_map(|(i, l)| Some((i as f64, l.equivariance_error?))).collect()));
        for l in &v.layers {
            let _ = writeln!(
                et,
                "| {method} | {} | {} | {} | {} | {} | {} | {} | {} |",
                l.space,
                l.channels,
                l.fixed_points,
                l.two_cycles,
                l.longer_cycles,
                l.involution,
                f3(l.equivariance_error),
                f3(l.unaligned_error)
            );
        }
        if let Some(h) = v.head_equivariance_error {
            let _ = writeln!(et, "| {method} | classifier | – | – | – | – | – | {h:.3} | – |");
        }
    }
    if !et.is_empty() {
        let p = out.join("equivariance.md");
        write(&p, &et)?;
        written.push(p);
        figure(
            out,
            "equivariance",
            "Layerwise equivariance error after aligning with the flipped net",
            "conv layer",
            "relative error",
            &eq_series,
            &mut written,
        )?;
    }
    // Throughput benchmark and pipeline timing.
    if let Some(v) = read_result::<BenchReport>(&results.join("bench-cpu.json"))? {
        let mut t = format!("Device: {}.\n\n| width | parameters | train img/s | inference img/s |\n|---|---|---|---|\n", v.device);
        for r in &v.rows {
            let _ = writeln!(t, "| {:?} | {} | {:.0} | {:.0} |", r.width, r.params, r.train_images_per_s, r.infer_images_per_s);
        }
        let p = out.join("bench.md");
        write(&p, &t)?;
        written.push(p);
    }
    // relusym on flex (the default build) and on burn's LibTorch backend (the `libtorch` feature);
    // the third to sixth against PyTorch given relusym's heap setting, the last eight on another
    // machine (an Intel Xeon): LibTorch's batches channels-last, plain (`RELUSYM_LAYOUT=nchw`), and
    // in the layout relusym measured per width (`auto`, the default since), then against PyTorch
    // with glibc's defaults, the two `-folded` runs with BatchNorm folded and index-free
    // pooling in evaluation (against PyTorch's defaults and given relusym's heap setting), and
    // the merge's batches kept between its passes (`-kept-batches`, against both), and VGG's 2×2
    // pooling on the patched backend's own kernels (`-pool-shim`, against both).
    for name in [
        "bench-paired",
        "bench-paired-libtorch",
        "bench-paired-libtorch-pytorch-heap",
        "bench-paired-libtorch-pytorch-heap-intel-xeon",
        "bench-paired-libtorch-pytorch-heap-intel-xeon-nchw",
        "bench-paired-libtorch-pytorch-heap-intel-xeon-auto",
        "bench-paired-libtorch-intel-xeon-auto",
        "bench-paired-libtorch-intel-xeon-folded",
        "bench-paired-libtorch-pytorch-heap-intel-xeon-folded",
        "bench-paired-libtorch-intel-xeon-kept-batches",
        "bench-paired-libtorch-pytorch-heap-intel-xeon-kept-batches",
        "bench-paired-libtorch-intel-xeon-pool-shim",
        "bench-paired-libtorch-pytorch-heap-intel-xeon-pool-shim",
    ] {
        if let Some(v) = read_result::<PairedBench>(&results.join(format!("{name}.json")))? {
            let p = out.join(format!("{name}.md"));
            write(&p, &v.markdown())?;
            written.push(p);
        }
    }
    if let (Some(r), Some(py)) =
        (read_result::<MergeReport>(&results.join("timing-rust.json"))?, read_result::<TorchTiming>(&results.join("timing-torch.json"))?)
    {
        let f = |v: Option<f64>| v.map_or("–".into(), |x| format!("{x:.1}"));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if a > 0.0 => format!("{:.2}", b / a),
            _ => "–".into(),
        };
        let acc = |i: usize| pct(r.curve.get(i).map(|c| c.accuracy));
        let pacc = |k: &str| pct(py.results.get(k).and_then(|v| v.first().copied()));
        let ps = |k: &str| py.seconds.get(k).copied();
        let rs = &r.seconds;
        let mut t = String::from("| step | relusym (s) | PyTorch port (s) | speed-up (PyTorch / relusym) |\n|---|---|---|---|\n");
        for (label, a, b) in [
            ("matching", Some(rs.align), ps("align")),
            ("statistics + merge + REPAIR", Some(rs.stats + rs.merge_repair), ps("merge_repair")),
            ("evaluation", Some(rs.evaluate), ps("evaluate")),
            ("total", Some(rs.total), ps("total")),
        ] {
            let _ = writeln!(t, "| {label} | {} | {} | {} |", f(a), f(b), ratio(a, b));
        }
        let _ = writeln!(
            t,
            "\nSame weights, same data: test accuracy α=0 / repaired α=½ / α=1 / unaligned α=½ = {} / {} / {} / {} % (relusym) and {} / {} / {} / {} % (PyTorch {}, {} threads; decoded by PIL rather than the `image` crate).",
            acc(0),
            acc(1),
            acc(2),
            pct(r.unaligned_midpoint_accuracy),
            pacc("alpha0"),
            pacc("alpha0.5_repaired"),
            pacc("alpha1"),
            pacc("unaligned_midpoint"),
            py.torch,
            py.threads
        );
        let p = out.join("timing.md");
        write(&p, &t)?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_builds_tables_and_figures_from_result_files_and_skips_missing_ones() {
        let root = std::env::temp_dir().join(format!("relusym-report-{}", std::process::id()));
        let (runs, results, out) = (root.join("runs"), root.join("results"), root.join("out"));
        std::fs::create_dir_all(&results).unwrap();
        // nothing there yet: nothing written, no error
        assert!(build_report(&runs, &results, &out).unwrap().is_empty());
        let curve = |a: f64, acc: f64| serde_json::json!({"alpha": a, "accuracy": acc, "loss": 1.0});
        let merge = serde_json::json!({
            "a": "runs/x", "partner": "flip", "barrier": "gcnn", "method": "activation", "repair": "none", "device": "flex",
            "endpoints": [null, null],
            "curve": [curve(0.0, 0.8), curve(0.5, 0.4), curve(1.0, 0.78)],
            "barriers": {"midpoint_accuracy": 0.39, "midpoint_loss": 1.2, "loss_barrier": 1.2, "accuracy_barrier": 0.39},
            "unaligned_midpoint_accuracy": 0.1,
            "alignment": {"perms_involutions": [true]},
            "seconds": {"align": 1.0, "stats": 1.0, "merge_repair": 1.0, "evaluate": 1.0, "total": 4.0},
        });
        std::fs::write(results.join("merge-gcnn-activation-none.json"), merge.to_string()).unwrap();
        let layer = serde_json::json!({"space": "conv0", "channels": 16, "perm": [], "fixed_points": 4, "two_cycles": 6, "longer_cycles": 0,
            "in_longer_cycles": 0, "moved": 12, "involution": true, "equivariance_error": 0.5, "unaligned_error": 1.2});
        let align = serde_json::json!({"a": "runs/x", "partner": "flip", "method": "weight", "device": "flex", "images": 0, "augmented": true,
            "seconds": 1.0, "layers": [layer], "head_equivariance_error": 0.3});
        std::fs::write(results.join("align-flip-weight.json"), align.to_string()).unwrap();
        let files = build_report(&runs, &results, &out).unwrap();
        let names: Vec<String> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        for want in ["merge.md", "merge-curves.svg", "equivariance.md", "equivariance.png"] {
            assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
        }
        let md = std::fs::read_to_string(out.join("merge.md")).unwrap();
        assert!(md.contains("| GCNN (flipped self) | activation | none | 80.00 | 40.00 | 78.00 | 39.00 |"), "{md}");
        let eq = std::fs::read_to_string(out.join("equivariance.md")).unwrap();
        assert!(eq.contains("| weight | conv0 | 16 | 4 | 6 | 0 | true | 0.500 | 1.200 |"), "{eq}");
        // a result file that is there but malformed is an error naming it, not a silent gap
        std::fs::write(results.join("merge-twin-weight-none.json"), r#"{"curve": "oops"}"#).unwrap();
        let err = build_report(&runs, &results, &out).unwrap_err().to_string();
        assert!(err.contains("merge-twin-weight-none.json"), "{err}");
        std::fs::remove_dir_all(root).unwrap();
    }
}
