//! The study pipeline end to end on generated data (plan → train → measure → report), and one
//! committed study result reproduced from its committed checkpoint on the real data.

mod common;

use std::path::Path;

use common::*;
use relu_symmetries::device::DeviceChoice;
use relu_symmetries::experiments::merge::Method;
use relu_symmetries::experiments::study::report::{StudyReport, write_report};
use relu_symmetries::experiments::study::run::is_trained;
use relu_symmetries::experiments::study::{BarrierKind, PairResult, StudySpec, Variant, alpha_grid, run_merge_job, train_net};
use relu_symmetries::merge::RepairMode;
use relu_symmetries::train::TrainConfig;

/// The decisive design shrunk to seconds: tiny nets, one epoch or two, two seeds.
fn tiny_spec() -> StudySpec {
    let mut spec = StudySpec::decisive();
    let tiny = |t: &TrainConfig| TrainConfig {
        width: 0.125,
        epochs: 2,
        batch_size: 50,
        eval_batch_size: 250,
        lr: 0.05,
        warmup_epochs: 0.5,
        eval_every: 1,
        ..t.clone()
    };
    spec.setting = tiny(&spec.setting);
    // The pilot's nets keep what sets them apart (variant, label smoothing) and shrink like the rest.
    for (_, train) in &mut spec.pilot {
        *train = tiny(train);
    }
    spec.seeds = vec![0, 1];
    spec.keep_epochs = vec![1];
    spec.widths = vec![0.0625];
    spec.width_seeds = vec![0, 1];
    spec.merge.stats_images = 200;
    spec.merge.batch_size = 100;
    spec.merge.alphas = alpha_grid(3);
    spec.secondary_alphas = alpha_grid(3);
    spec
}

#[test]
fn the_study_trains_measures_and_reports_every_job_of_its_plan() {
    let spec = tiny_spec();
    let splits = tiny_splits(300, 100, 41);
    let root = temp_dir("study");
    let (runs, results, out) = (root.join("runs"), root.join("results"), root.join("book"));
    let device = DeviceChoice::Cpu.resolve();
    for net in spec.nets() {
        train_net(&net, &runs, &splits, info(&splits), &device, None, false).unwrap();
        assert!(is_trained(&runs.join(&net.name), &net), "{} not finished", net.name);
        let ck = relu_symmetries::train::Checkpoint::open(&runs.join(&net.name)).unwrap();
        assert_eq!(ck.meta.train.label_smoothing, net.train.label_smoothing, "{} trained with its own label smoothing", net.name);
    }
    assert!(spec.nets().iter().any(|n| n.train.label_smoothing > 0.0), "the pilot has a label-smoothing net");
    // flip invariance on training images, for every net
    for net in spec.nets() {
        let inv = relu_symmetries::experiments::study::train_set_invariance(&net, &runs, &splits, &device).unwrap();
        assert_eq!(inv.metrics.images, splits.train.len.min(relu_symmetries::experiments::study::run::TRAIN_SET_IMAGES));
        let path = results.join("nets").join(format!("{}.json", net.name));
        relu_symmetries::provenance::write_atomic(&path, serde_json::to_string(&inv).unwrap().as_bytes()).unwrap();
    }
    // kept epochs of the emergence nets
    assert!(runs.join("flip-s0/epochs/model-e1.bpk").exists() && runs.join("flip-s1/epochs/model-e1.bpk").exists());
    let jobs = spec.merge_jobs();
    for job in &jobs {
        let r = run_merge_job(&spec, job, &runs, &splits, "synthetic", &device, false).unwrap();
        assert_eq!(r.outcomes.len(), job.repairs.len());
        assert_eq!(r.equivariance.is_some(), job.kind == BarrierKind::Gcnn);
        r.write(&results.join("pairs").join(job.file_name())).unwrap();
    }
    let report = StudyReport::build(&spec, &runs, &results).unwrap();
    assert!(report.untrained.is_empty() && report.unmeasured.is_empty(), "{:?} {:?}", report.untrained, report.unmeasured);
    assert!(report.nets.iter().all(|n| n.train_flip_agreement.is_some()));
    assert!(report.premise.train_flip_agreement.iter().all(Option::is_some));
    // every variant × method × repair of the matrix has a headline row; the GCNN control's
    // unrepaired GCNN barrier is 0 (with BN reset it is the effect of recomputing its BatchNorm
    // statistics, not of merging) and its ordinary barrier absent (one seed)
    for &m in &spec.methods {
        for v in Variant::ALL {
            for &rep in &spec.repairs() {
                let row = report.headline.iter().find(|h| h.method == m && h.variant == v && h.repair == rep);
                let row = row.unwrap_or_else(|| panic!("no headline row for {v:?} {m:?} {rep:?}"));
                if v == Variant::Gcnn {
                    assert!(rep != RepairMode::None || row.gcnn_accuracy.unwrap().mean.abs() < 1e-6, "GCNN control barrier {:?}", row.gcnn_accuracy);
                    assert!(row.ordinary_accuracy.is_none());
                } else {
                    assert_eq!(row.gcnn_accuracy.unwrap().n, 2);
                    assert_eq!(row.ordinary_accuracy.unwrap().n, 1);
                }
            }
        }
    }
    assert!(report.emergence.iter().any(|t| t.epoch == Some(1) && t.gcnn_accuracy.is_some() && t.ordinary_accuracy.is_some()));
    assert!(report.width.iter().any(|t| t.width == 0.0625) && report.width.iter().any(|t| t.width == 0.125));
    assert!(!report.warm.is_empty() && report.warm.iter().all(|w| w.from_activation >= w.activation - 1e-6 * w.activation.abs()));
    let files = write_report(&report, &runs, &results, &out).unwrap();
    for want in [
        "headline-activation.md",
        "headline-activation.svg",
        "filters.png",
        "pilot.md",
        "premise.md",
        "structure-flip-s0-activation.md",
        "emergence-weight.svg",
    ] {
        assert!(files.iter().any(|f| f.ends_with(want)), "{want} not written");
    }
    let md = std::fs::read_to_string(out.join("headline-activation.md")).unwrap();
    assert!(md.contains("flip aug. + inv. loss") && md.contains("BN reset"), "{md}");
    // Pilot nets that share a setting and variant (seeds of one point) are told apart by their seed.
    let pilot = std::fs::read_to_string(out.join("pilot.md")).unwrap();
    let header: Vec<&str> = pilot.lines().next().unwrap().split('|').map(str::trim).collect();
    let seed_col = header.iter().position(|c| *c == "seed").expect("the pilot table has a seed column");
    let rows: Vec<Vec<&str>> = pilot.lines().skip(2).take_while(|l| l.starts_with('|')).map(|l| l.split('|').map(str::trim).collect()).collect();
    assert_eq!(rows.len(), spec.pilot.len() + spec.variants.len() + usize::from(!spec.gcnn_seeds.is_empty()), "{pilot}");
    let keys: std::collections::BTreeSet<_> = rows.iter().map(|r| (r[1], r[2], r[seed_col])).collect();
    assert_eq!(keys.len(), rows.len(), "two pilot rows cannot be told apart:\n{pilot}");
}

#[test]
fn the_resnet_design_trains_measures_and_reports_flip_augmented_resnets() {
    let mut spec = StudySpec::resnet();
    spec.setting = TrainConfig { width: 0.25, epochs: 1, batch_size: 50, eval_batch_size: 250, lr: 0.05, warmup_epochs: 0.5, eval_every: 1, ..spec.setting };
    spec.merge.stats_images = 200;
    spec.merge.batch_size = 100;
    spec.merge.alphas = alpha_grid(3);
    let splits = tiny_splits(300, 100, 43);
    let root = temp_dir("study-resnet");
    let (runs, results, out) = (root.join("runs"), root.join("results"), root.join("book"));
    let device = DeviceChoice::Cpu.resolve();
    for net in spec.nets() {
        train_net(&net, &runs, &splits, info(&splits), &device, None, false).unwrap();
        let ck = relu_symmetries::train::Checkpoint::open(&runs.join(&net.name)).unwrap();
        assert_eq!(ck.meta.train.model, relu_symmetries::train::ModelKind::Resnet20, "{} is not a ResNet", net.name);
    }
    for job in spec.merge_jobs() {
        let r = run_merge_job(&spec, &job, &runs, &splits, "synthetic", &device, false).unwrap();
        assert_eq!(r.outcomes.len(), 3, "none, BN reset and REPAIR");
        r.write(&results.join("pairs").join(job.file_name())).unwrap();
    }
    let report = StudyReport::build(&spec, &runs, &results).unwrap();
    assert!(report.untrained.is_empty() && report.unmeasured.is_empty(), "{:?} {:?}", report.untrained, report.unmeasured);
    for &m in &spec.methods {
        for &rep in &spec.repairs() {
            let row = report.headline.iter().find(|h| h.method == m && h.repair == rep).unwrap_or_else(|| panic!("no headline row for {m:?} {rep:?}"));
            assert_eq!(row.variant, Variant::Flip);
            assert_eq!((row.gcnn_accuracy.unwrap().n, row.ordinary_accuracy.unwrap().n), (2, 1));
        }
    }
    assert!(report.headline.iter().all(|h| h.variant == Variant::Flip), "only the flip-augmented variant is trained");
    let files = write_report(&report, &runs, &results, &out).unwrap();
    for want in ["headline-activation.md", "headline-weight.svg", "curves-activation-accuracy.svg", "filters.png", "structure-flip-s0-activation.md"] {
        assert!(files.iter().any(|f| f.ends_with(want)), "{want} not written");
    }
}

/// A committed checkpoint and its committed measurement agree: re-measuring the midpoint accuracy
/// of `flip-s0` merged with its flipped self (activation matching, no repair) gives the committed
/// number. Needs the CIFAR-10 copy in `../shared/data`; skipped without it.
#[test]
fn a_committed_checkpoint_reproduces_its_committed_midpoint_accuracy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let archive = root.join("../shared/data/cifar10-jpeg.tar.gz");
    let result = root.join("results/study/pairs/gcnn-flip-s0-activation.json");
    if !archive.exists() || !result.exists() || !root.join("runs/study/flip-s0/model.bpk").exists() {
        eprintln!("skipped: needs {} and the committed flip-s0 checkpoint and result", archive.display());
        return;
    }
    let committed = PairResult::read(&result).unwrap();
    let spec = StudySpec::decisive();
    let cache = temp_dir("study-cache");
    let (splits, info) = relu_symmetries::data::open(relu_symmetries::data::DatasetKind::Cifar10, Some(&archive), &cache, false).unwrap();
    let job = relu_symmetries::experiments::study::MergeJob { alphas: vec![0.0, 0.5, 1.0], repairs: vec![RepairMode::None], ..committed.job.clone() };
    assert_eq!(job.method, Method::Activation);
    let again = run_merge_job(&spec, &job, &root.join("runs/study"), &splits, &info.name, &DeviceChoice::Cpu.resolve(), false).unwrap();
    let mid = |r: &PairResult| r.outcome(RepairMode::None).unwrap().curve.iter().find(|p| p.alpha == 0.5).unwrap().accuracy;
    assert!((mid(&again) - mid(&committed)).abs() < 1e-3, "re-measured {} vs committed {}", mid(&again), mid(&committed));
    assert_eq!(again.alignment.perms, committed.alignment.perms);
}
