//! Training: reproducibility, resume, learning, checkpoints.

mod common;

use burn::tensor::Device;
use common::*;
use relu_symmetries::train::{Checkpoint, ModelKind, TrainConfig, TrainError};

#[test]
fn same_seed_and_device_give_identical_weights_on_cpu() {
    let splits = tiny_splits(200, 50, 1);
    let cfg = quick_config(ModelKind::Vgg11Bn, 1, 5);
    let (d1, d2) = (temp_dir("repro-1"), temp_dir("repro-2"));
    quick_train(&cfg, &splits, &d1, false);
    quick_train(&cfg, &splits, &d2, false);
    let device = Device::flex();
    let a = Checkpoint::open(&d1).unwrap().load_model(&device).unwrap().to_params();
    let b = Checkpoint::open(&d2).unwrap().load_model(&device).unwrap().to_params();
    assert_eq!(a, b, "two runs with the same seed differ");
    let d3 = temp_dir("repro-3");
    quick_train(&TrainConfig { seed: 6, ..cfg }, &splits, &d3, false);
    let c = Checkpoint::open(&d3).unwrap().load_model(&device).unwrap().to_params();
    assert_ne!(a, c, "a different seed should give different weights");
}

#[test]
fn resume_continues_to_the_same_weights_as_an_uninterrupted_run() {
    let splits = tiny_splits(150, 50, 2);
    let cfg = quick_config(ModelKind::Vgg11Bn, 2, 3);
    let (d_full, d_split) = (temp_dir("resume-full"), temp_dir("resume-split"));
    let cpu = relu_symmetries::device::DeviceChoice::Cpu.resolve();
    let opts = |out: &std::path::Path, resume, stop_after, keep_epochs| relu_symmetries::train::TrainOptions {
        out: out.to_path_buf(),
        resume,
        progress: false,
        log_epochs: false,
        stop_after,
        keep_epochs,
    };
    relu_symmetries::train::train(&cfg, &splits, info(&splits), &cpu, &opts(&d_full, false, None, vec![1])).unwrap();
    let first = relu_symmetries::train::train(&cfg, &splits, info(&splits), &cpu, &opts(&d_split, false, Some(1), vec![])).unwrap();
    assert_eq!(first.epochs, 1);
    let device = Device::flex();
    let after_one = Checkpoint::open(&d_split).unwrap().load_model(&device).unwrap().to_params();
    let second = relu_symmetries::train::train(&cfg, &splits, info(&splits), &cpu, &opts(&d_split, true, None, vec![])).unwrap();
    assert_eq!(second.resumed_from_epoch, Some(1));
    let full = Checkpoint::open(&d_full).unwrap();
    let a = full.load_model(&device).unwrap().to_params();
    let ck = Checkpoint::open(&d_split).unwrap();
    assert_eq!(a, ck.load_model(&device).unwrap().to_params(), "resumed run differs from the uninterrupted one");
    assert_eq!(ck.metrics().unwrap().len(), 2);
    // the snapshot kept after epoch 1 is the state a run stopped after epoch 1 ends in
    assert_eq!(full.kept_epochs().unwrap(), vec![1]);
    assert_eq!(full.load_model_at(Some(1), &device).unwrap().to_params(), after_one, "kept epoch-1 weights differ");
    assert!(full.load_model_at(Some(2), &device).unwrap_err().to_string().contains("model-e2.bpk"));
    // resuming a finished run trains nothing and reports the saved model
    let again = relu_symmetries::train::train(&cfg, &splits, info(&splits), &cpu, &opts(&d_split, true, None, vec![])).unwrap();
    assert_eq!(again.resumed_from_epoch, Some(2));
    assert_eq!(again.test.accuracy, second.test.accuracy);
}

#[test]
fn training_learns_the_synthetic_task_and_logs_every_epoch() {
    let splits = tiny_splits(600, 250, 3);
    let dir = temp_dir("learns");
    let s = quick_train(&quick_config(ModelKind::Vgg11Bn, 3, 0), &splits, &dir, false);
    assert!(s.test.accuracy > 0.5, "accuracy {} after 3 epochs", s.test.accuracy);
    let ck = Checkpoint::open(&dir).unwrap();
    let m = ck.metrics().unwrap();
    assert_eq!(m.iter().map(|r| r.epoch).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(m[2].train_loss < m[0].train_loss);
    assert_eq!(ck.meta.train.seed, 0);
    assert!(dir.join("model.bpk").exists() && dir.join("resume/state.json").exists());
}

#[test]
fn invariance_loss_makes_the_net_more_flip_invariant() {
    let splits = tiny_splits(400, 250, 4);
    let base = TrainConfig { flip_augmentation: false, ..quick_config(ModelKind::Vgg11Bn, 2, 1) };
    let plain = quick_train(&base, &splits, &temp_dir("inv-0"), false);
    let inv = quick_train(&TrainConfig { invariance_loss: 1.0, ..base }, &splits, &temp_dir("inv-1"), false);
    assert!(
        inv.test.relative_logit_change < plain.test.relative_logit_change,
        "relative logit change with invariance loss {} vs without {}",
        inv.test.relative_logit_change,
        plain.test.relative_logit_change
    );
}

#[test]
fn resume_with_other_hyperparameters_is_refused() {
    let splits = tiny_splits(100, 50, 5);
    let dir = temp_dir("resume-mismatch");
    quick_train(&quick_config(ModelKind::Vgg11, 1, 0), &splits, &dir, false);
    let opts = quiet_options(&dir, true);
    let other = quick_config(ModelKind::Vgg11, 1, 9);
    let err = relu_symmetries::train::train(&other, &splits, info(&splits), &relu_symmetries::device::DeviceChoice::Cpu.resolve(), &opts).unwrap_err();
    assert!(matches!(err, TrainError::Mismatch { .. }), "{err}");
}

#[test]
fn corrupt_checkpoint_is_an_error_naming_the_file() {
    let splits = tiny_splits(100, 50, 6);
    let dir = temp_dir("corrupt");
    quick_train(&quick_config(ModelKind::Vgg11, 1, 0), &splits, &dir, false);
    std::fs::write(dir.join("model.bpk"), b"not a burnpack").unwrap();
    let err = Checkpoint::open(&dir).unwrap().load_model(&Device::flex()).unwrap_err().to_string();
    assert!(err.contains("model.bpk"), "{err}");
    std::fs::write(dir.join("config.json"), b"{").unwrap();
    let err = Checkpoint::open(&dir).unwrap_err().to_string();
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn a_diverging_run_stops_naming_epoch_and_step_and_keeps_the_last_finished_epoch() {
    // One step per epoch (a 50-image subset, batch 50) and a one-epoch warm-up: epoch 1 steps with
    // learning rate 0, epoch 2 with the absurd peak 1e30, after which the test loss is no longer
    // finite: epoch 2 diverged, epoch 1 is the last good one.
    let splits = tiny_splits(100, 50, 7);
    let dir = temp_dir("diverge");
    let cfg = TrainConfig { subset: Some(50), lr: 1e30, warmup_epochs: 1.0, ..quick_config(ModelKind::Vgg11, 3, 0) };
    let opts = quiet_options(&dir, false);
    let err = relu_symmetries::train::train(&cfg, &splits, info(&splits), &relu_symmetries::device::DeviceChoice::Cpu.resolve(), &opts).unwrap_err();
    match &err {
        TrainError::Diverged { epoch, step, loss, last_good, .. } => {
            assert_eq!((*epoch, *step, *last_good), (2, 2, Some(1)), "{err}");
            assert!(!loss.is_finite());
        }
        other => panic!("expected divergence, got {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("epoch 2, step 2") && text.contains("keeps the checkpoint of epoch 1"), "{text}");
    // nothing of the diverging epoch was written: metrics and resume state end at epoch 1, and
    // the kept weights are finite
    let ck = Checkpoint::open(&dir).unwrap();
    assert_eq!(ck.metrics().unwrap().iter().map(|r| r.epoch).collect::<Vec<_>>(), vec![1]);
    let state = std::fs::read_to_string(dir.join("resume/state.json")).unwrap();
    assert!(state.contains("\"epoch\": 1,"), "{state}");
    let kept = ck.load_model(&Device::flex()).unwrap().to_params();
    assert!(kept.values().all(|w| w.iter().all(|x| x.is_finite())));

    // From scratch it fails in epoch 1 and says that no weights were saved.
    let dir = temp_dir("diverge-first");
    let cfg = TrainConfig { lr: 1e30, warmup_epochs: 0.0, ..quick_config(ModelKind::Vgg11, 2, 0) };
    let opts = relu_symmetries::train::TrainOptions { out: dir.to_path_buf(), ..opts };
    let err = relu_symmetries::train::train(&cfg, &splits, info(&splits), &relu_symmetries::device::DeviceChoice::Cpu.resolve(), &opts).unwrap_err();
    assert!(matches!(err, TrainError::Diverged { epoch: 1, last_good: None, .. }), "{err}");
    assert!(err.to_string().contains("holds no weights") && !dir.join("model.bpk").exists(), "{err}");
}
