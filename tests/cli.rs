//! The `relusym` binary end to end on generated data: train → eval → align → merge, `--json`.

mod common;

use std::process::Command;

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
    for (out, seed) in [(&a, "0"), (&b, "1")] {
        let t = relusym(&[
            "train", "--dataset", "synthetic", "--scale", "smoke", "--model", "vgg11-bn", "--device", "cpu",
            "--seed", seed, "--cache", cache, "--out", out.to_str().unwrap(), "--json",
        ]);
        assert_eq!(t["command"], "train");
        assert!(t["test_accuracy"].as_f64().unwrap() >= 0.0);
        assert!(t["device"].as_str().unwrap().starts_with("flex"));
    }
    let e = relusym(&["eval", "--checkpoint", a.to_str().unwrap(), "--device", "cpu", "--cache", cache, "--json"]);
    for key in ["test_accuracy", "test_loss", "flip_agreement", "relative_logit_change"] {
        assert!(e[key].is_number(), "eval JSON lacks {key}: {e}");
    }
    let al = relusym(&[
        "align", "--a", a.to_str().unwrap(), "--flip", "--method", "weight", "--device", "cpu", "--cache", cache,
        "--out", dir.join("align").to_str().unwrap(), "--json",
    ]);
    assert_eq!(al["layers"].as_array().unwrap().len(), 8);
    assert!(al["layers"][0]["equivariance_error"].is_number());
    assert!(dir.join("align/align.parquet").exists() && dir.join("align/align.csv").exists());
    assert!(dir.join("align/aligned/model.bpk").exists());
    let m = relusym(&[
        "merge", "--a", a.to_str().unwrap(), "--b", b.to_str().unwrap(), "--method", "activation", "--repair", "bn-reset",
        "--alphas", "0,0.5,1", "--stats-images", "300", "--test-subset", "200", "--device", "cpu", "--cache", cache,
        "--out", dir.join("merge").to_str().unwrap(), "--json",
    ]);
    assert_eq!(m["curve"].as_array().unwrap().len(), 3);
    assert!(m["barriers"]["midpoint_accuracy"].is_number());
    assert!(dir.join("merge/merge.csv").exists());
}

#[test]
fn bad_input_gives_a_clear_error_naming_the_problem() {
    let out = Command::new(env!("CARGO_BIN_EXE_relusym"))
        .args(["eval", "--checkpoint", "/nonexistent/run", "--device", "cpu"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/run"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_relusym"))
        .args(["train", "--dataset", "imagenet", "--out", "/tmp/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("imagenet"));
}

#[test]
fn theory_report_confirms_every_prediction() {
    let r = relusym(&["theory", "--json"]);
    assert!(r.is_object());
    let text = Command::new(env!("CARGO_BIN_EXE_relusym")).arg("theory").output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("All results as the theory predicts: yes"), "{text}");
}
