//! Shared fixtures for the integration tests: a tiny synthetic task and nets trained on it.

#![allow(dead_code)]

use std::path::Path;

use burn::tensor::Device;
use relu_symmetries::data::{DatasetInfo, DatasetKind, Splits, SyntheticSpec};
use relu_symmetries::device::DeviceChoice;
use relu_symmetries::nets::Vgg;
use relu_symmetries::train::{Checkpoint, ModelKind, TrainConfig, TrainOptions, TrainSummary, train};

/// A small flip-symmetric synthetic dataset (RGB 32×32, 10 classes).
pub fn tiny_splits(n_train: usize, n_test: usize, seed: u64) -> Splits {
    SyntheticSpec { n_train, n_test, seed, ..SyntheticSpec::default() }.generate()
}

/// Dataset description for checkpoints of `splits`.
pub fn info(splits: &Splits) -> DatasetInfo {
    DatasetInfo::describe(DatasetKind::Synthetic, None, splits)
}

/// A test's temporary directory (`relusym-it-<tag>-…` under the system's temporary folder),
/// removed when dropped. A failing test keeps it and prints its path, to be looked at.
pub struct TestDir(Option<tempfile::TempDir>);

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.as_ref().expect("a live test directory").path()
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        self
    }
}

impl AsRef<std::ffi::OsStr> for TestDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.as_os_str()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.0.take()
        {
            eprintln!("test directory kept: {}", dir.keep().display());
        }
    }
}

/// A fresh temporary directory, unique per test and process.
pub fn temp_dir(tag: &str) -> TestDir {
    TestDir(Some(tempfile::Builder::new().prefix(&format!("relusym-it-{tag}-")).tempdir().expect("a temporary directory")))
}

/// A quick training configuration on the synthetic task.
pub fn quick_config(model: ModelKind, epochs: usize, seed: u64) -> TrainConfig {
    TrainConfig { model, width: 0.125, epochs, batch_size: 50, eval_batch_size: 250, lr: 0.05, warmup_epochs: 0.5, seed, ..TrainConfig::default() }
}

/// Train on `splits` into `dir` on the CPU.
pub fn quick_train(cfg: &TrainConfig, splits: &Splits, dir: &Path, resume: bool) -> TrainSummary {
    quick_train_on(DeviceChoice::Cpu, cfg, splits, dir, resume)
}

/// Quiet training options writing into `dir`: no progress bar, no per-epoch log, no stop, no
/// kept epochs.
pub fn quiet_options(dir: &Path, resume: bool) -> TrainOptions {
    TrainOptions { out: dir.to_path_buf(), resume, progress: false, log_epochs: false, stop_after: None, keep_epochs: Vec::new() }
}

/// Train on `splits` into `dir` on the device `choice` names.
pub fn quick_train_on(choice: DeviceChoice, cfg: &TrainConfig, splits: &Splits, dir: &Path, resume: bool) -> TrainSummary {
    train(cfg, splits, info(splits), &choice.resolve(), &quiet_options(dir, resume)).expect("training runs")
}

/// A net trained for a few epochs on the synthetic task.
pub fn trained_net(model: ModelKind, seed: u64, tag: &str) -> (Vgg, Splits) {
    let splits = tiny_splits(600, 250, 11);
    let dir = temp_dir(tag);
    quick_train(&quick_config(model, 3, seed), &splits, &dir, false);
    let net = Checkpoint::open(&dir).unwrap().load_model(&Device::flex()).unwrap();
    (net.into_vgg().expect("a VGG checkpoint"), splits)
}
