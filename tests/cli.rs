//! The `relusym` binary end to end on generated data: train → eval → align → merge, `--json`.

mod common;

use std::process::Command;

use relu_symmetries::experiments::results::{AlignReport, EvalReport, MergeReport};
use relu_symmetries::theory::TheoryReport;
use relu_symmetries::train::TrainSummary;

fn relusym(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_relusym")).args(args).output().expect("relusym runs");
    assert!(out.status.success(), "relusym {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("relusym {args:?}: not one JSON object ({e}):\n{stdout}"))
}

#[test]
fn train_eval_align_merge_print_json_on_synthetic_data() {
    let dir = common::temp_dir("cli");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let cache = dir.join("cache");
    let cache = cache.to_str().unwrap();
    let mut trained = Vec::new();
    for (out, seed) in [(&a, "0"), (&b, "1")] {
        let t = relusym(&[
            "train",
            "--dataset",
            "synthetic",
            "--scale",
            "smoke",
            "--model",
            "vgg11-bn",
            "--device",
            "cpu",
            "--seed",
            seed,
            "--cache",
            cache,
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]);
        let summary: TrainSummary = serde_json::from_value(t).expect("train prints a TrainSummary");
        assert_eq!(summary.epochs, 2, "the smoke preset trains 2 epochs");
        assert_eq!(summary.test.images, 500, "the smoke preset evaluates 500 test images");
        assert!(summary.device.starts_with("flex"), "{}", summary.device);
        trained.push(summary);
    }
    // `eval` on the same test images reproduces the training run's final evaluation exactly.
    let e = relusym(&["eval", "--checkpoint", a.to_str().unwrap(), "--test-subset", "500", "--device", "cpu", "--cache", cache, "--json"]);
    let e: EvalReport = serde_json::from_value(e).expect("eval prints an EvalReport");
    assert_eq!(e.metrics, trained[0].test);
    let al = relusym(&[
        "align",
        "--a",
        a.to_str().unwrap(),
        "--flip",
        "--method",
        "weight",
        "--device",
        "cpu",
        "--cache",
        cache,
        "--out",
        dir.join("align").to_str().unwrap(),
        "--json",
    ]);
    let al: AlignReport = serde_json::from_value(al).expect("align prints an AlignReport");
    assert_eq!(al.layers.len(), 8);
    for l in &al.layers {
        let mut seen = l.perm.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..l.channels).collect::<Vec<_>>(), "{}: not a permutation", l.space);
        assert!(l.equivariance_error.is_some_and(f64::is_finite), "{}: no equivariance error with --flip", l.space);
    }
    assert!(dir.join("align/align.csv").exists());
    // Parquet only with the `parquet` feature (a default one)
    assert_eq!(dir.join("align/align.parquet").exists(), cfg!(feature = "parquet"));
    assert!(dir.join("align/aligned/model.bpk").exists());
    let m = relusym(&[
        "merge",
        "--a",
        a.to_str().unwrap(),
        "--b",
        b.to_str().unwrap(),
        "--method",
        "activation",
        "--repair",
        "bn-reset",
        "--alphas",
        "0,0.5,1",
        "--stats-images",
        "300",
        "--test-subset",
        "200",
        "--device",
        "cpu",
        "--cache",
        cache,
        "--out",
        dir.join("merge").to_str().unwrap(),
        "--json",
    ]);
    let m: MergeReport = serde_json::from_value(m).expect("merge prints a MergeReport");
    assert_eq!(m.curve.iter().map(|c| c.alpha).collect::<Vec<_>>(), vec![0.0, 0.5, 1.0]);
    let mean_end = (m.curve[0].accuracy + m.curve[2].accuracy) / 2.0;
    assert!((m.barriers.midpoint_accuracy.unwrap() - (mean_end - m.curve[1].accuracy)).abs() < 1e-12);
    // the endpoints are the trained nets themselves (evaluated on the 200-image subset)
    assert_eq!(m.endpoints[0].as_ref().map(|x| x.images), Some(200));
    assert!(dir.join("merge/merge.csv").exists());
    // export: a safetensors file that loads back into the same weights
    let file = dir.join("a.safetensors");
    let out =
        Command::new(env!("CARGO_BIN_EXE_relusym")).args(["export", "--checkpoint", a.to_str().unwrap(), "--out", file.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ckpt = relu_symmetries::train::Checkpoint::open(&a).unwrap();
    let device = burn::tensor::Device::flex();
    let mut fresh = ckpt.empty_model(&device).unwrap().into_vgg().expect("a VGG checkpoint");
    assert_ne!(fresh.to_params(), ckpt.load_model(&device).unwrap().to_params());
    {
        use burn::store::{ModuleSnapshot, SafetensorsStore};
        fresh.load_from(&mut SafetensorsStore::from_file(&file)).expect("the export loads back");
    }
    assert_eq!(fresh.to_params(), ckpt.load_model(&device).unwrap().to_params(), "exported weights differ");
}

#[test]
fn train_align_merge_work_on_a_resnet_checkpoint() {
    let dir = common::temp_dir("cli-resnet");
    let a = dir.join("a");
    let cache = dir.join("cache");
    let cache = cache.to_str().unwrap();
    let t = relusym(&[
        "train",
        "--dataset",
        "synthetic",
        "--scale",
        "smoke",
        "--model",
        "resnet20",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--cache",
        cache,
        "--out",
        a.to_str().unwrap(),
        "--json",
    ]);
    let summary: TrainSummary = serde_json::from_value(t).expect("train prints a TrainSummary");
    assert_eq!(summary.epochs, 1);
    let ckpt = relu_symmetries::train::Checkpoint::open(&a).unwrap();
    assert!(ckpt.load_model(&burn::tensor::Device::flex()).unwrap().as_resnet().is_some());
    let common = ["--a", a.to_str().unwrap(), "--flip", "--stats-images", "200", "--device", "cpu", "--cache", cache, "--json"];
    let al: AlignReport = serde_json::from_value(relusym(&[&["align"][..], &common[..]].concat())).expect("align prints an AlignReport");
    let spaces = ckpt.empty_model(&burn::tensor::Device::flex()).unwrap().structure().spaces.len();
    assert_eq!(al.layers.len(), spaces, "one row per hidden space: 3 streams and 9 inner spaces");
    for l in &al.layers {
        // each space's row carries its producer's equivariance measures (not another conv's)
        assert!(l.equivariance_error.is_some_and(f64::is_finite) && l.moved_share.is_some(), "{}: {l:?}", l.space);
    }
    assert!(al.head_equivariance_error.is_some());
    let m = relusym(&[&["merge", "--repair", "repair", "--alphas", "0,0.5,1", "--test-subset", "100"][..], &common[..]].concat());
    let m: MergeReport = serde_json::from_value(m).expect("merge prints a MergeReport");
    assert_eq!(m.curve.iter().map(|c| c.alpha).collect::<Vec<_>>(), vec![0.0, 0.5, 1.0]);
    assert!(m.curve.iter().all(|c| c.loss.is_finite()));
}

#[test]
fn bad_input_gives_a_clear_error_naming_the_problem() {
    let out = Command::new(env!("CARGO_BIN_EXE_relusym")).args(["eval", "--checkpoint", "/nonexistent/run", "--device", "cpu"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/run"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_relusym")).args(["train", "--dataset", "imagenet", "--out", "/tmp/x"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("imagenet"));
    // An unknown batch layout is rejected at start-up, before any command runs.
    let out = Command::new(env!("CARGO_BIN_EXE_relusym")).arg("theory").env("RELUSYM_LAYOUT", "NHWC").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("RELUSYM_LAYOUT=NHWC") && err.contains("nchw"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_relusym")).arg("theory").env("RELUSYM_LAYOUT", "nchw").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn theory_report_confirms_every_prediction() {
    let r: TheoryReport = serde_json::from_value(relusym(&["theory", "--json"])).expect("theory prints a TheoryReport");
    assert!(r.all_as_predicted());
    assert!(!r.lemma.is_empty() && !r.counterexamples.is_empty());
    let text = Command::new(env!("CARGO_BIN_EXE_relusym")).arg("theory").output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("All results as the theory predicts: yes"), "{text}");
}

#[test]
fn theory_out_writes_each_section_as_printed() {
    let dir = common::temp_dir("cli-theory-out");
    let out = Command::new(env!("CARGO_BIN_EXE_relusym")).args(["theory", "--out"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    let sections = relu_symmetries::theory::theory_report(0).sections();
    assert_eq!(printed.trim_end(), sections.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n\n"));
    for s in &sections {
        let file = std::fs::read_to_string(dir.join(format!("{}.txt", s.stem))).unwrap();
        assert_eq!(file, format!("{s}\n"));
    }
}

#[test]
fn mlp_conjecture_from_saved_results_renders_the_same_numbers_as_markdown() {
    let dir = common::temp_dir("cli-mlp-markdown");
    let saved = concat!(env!("CARGO_MANIFEST_DIR"), "/results/cpu/mlp-wd5e-4");
    let out = Command::new(env!("CARGO_BIN_EXE_relusym")).args(["mlp-conjecture", "--from", saved, "--markdown"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: relu_symmetries::experiments::mlp_conjecture::MlpConjectureReport =
        serde_json::from_value(relusym(&["mlp-conjecture", "--from", saved, "--json"])).unwrap();
    let function = std::fs::read_to_string(dir.join("function.md")).unwrap();
    for r in &report.rows {
        assert!(function.contains(&format!("| {} | {} | {:.4} | {:.4} |", r.variant, r.seed, r.test_mse, r.invariance_error)), "{function}");
    }
    for stem in ["function", "aligned", "unaligned"] {
        let table = std::fs::read_to_string(dir.join(format!("{stem}.md"))).unwrap();
        assert_eq!(table.lines().count(), 2 + report.rows.len());
        assert!(table.lines().all(|l| l.matches('|').count() <= 9), "at most 8 columns:\n{table}");
    }
    let train_flags = Command::new(env!("CARGO_BIN_EXE_relusym")).args(["mlp-conjecture", "--from", saved, "--steps", "5"]).output().unwrap();
    assert!(!train_flags.status.success(), "--from with training settings must be refused");
}

#[test]
fn study_jobs_lists_every_job_of_the_committed_study_and_measure_takes_exact_job_names() {
    use relu_symmetries::experiments::study::StudySpec;
    use relu_symmetries::experiments::study::jobs::{Job, JobKind};
    let root = env!("CARGO_MANIFEST_DIR");
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_relusym")).args(args).current_dir(root).output().unwrap();
    let out = run(&["study", "jobs", "--all", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let jobs: Vec<Job> = serde_json::from_slice(&out.stdout).expect("study jobs --format json prints the typed list");
    let spec = StudySpec::decisive();
    assert_eq!(jobs.len(), spec.nets().len() + spec.merge_jobs().len());
    // A committed measurement is done, with its measured cost, and left out of the default script.
    let committed = jobs.iter().find(|j| j.id == "measure-gcnn-flip-s0-activation").unwrap();
    assert!(committed.done && committed.cost.as_ref().is_some_and(|c| !c.is_estimate()));
    assert_eq!(committed.depends_on, ["train-flip-s0"]);
    let shell = String::from_utf8(run(&["study", "jobs"]).stdout).unwrap();
    assert!(shell.starts_with("#!/usr/bin/env bash") && !shell.contains("# measure-gcnn-flip-s0-activation:"));
    for j in jobs.iter().filter(|j| !j.done) {
        assert!(shell.contains(&format!("# {}:", j.id)), "{} is not done and missing from the script", j.id);
    }
    let slurm = String::from_utf8(run(&["study", "jobs", "--all", "--format", "slurm"]).stdout).unwrap();
    assert_eq!(slurm.matches("$(submit ").count(), jobs.len());
    assert_eq!(slurm.matches("--dependency=afterok:").count(), jobs.iter().filter(|j| j.kind == JobKind::Measure).count());
    // `--job` is exact: a prefix of a job's name (which `--only` would match) is refused.
    let out = run(&["study", "measure", "--job", "gcnn-flip-s0-weight-war", "--device", "cpu"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no measurement job gcnn-flip-s0-weight-war"), "{}", String::from_utf8_lossy(&out.stderr));
}
