//! Checkpoint directories: weights in burn's burnpack format, hyperparameters and provenance in
//! `config.json`, per-epoch metrics in `metrics.jsonl`, and what `--resume` needs in `resume/`.
//!
//! ```text
//! DIR/config.json        CheckpointMeta: training config, network config, dataset, device, git revision
//! DIR/model.bpk          latest weights (burnpack; BatchNorm running statistics included)
//! DIR/metrics.jsonl      one EpochRecord per evaluated epoch
//! DIR/epochs/model-eK.bpk weights after epoch K (only the epochs asked for with keep_epochs)
//! DIR/resume/state.json  last finished epoch + iteration, names of the two files below
//! DIR/resume/model-eN.bpk, DIR/resume/optimizer-eN.bpk
//! ```
//!
//! Every file is written atomically (temp file, then rename). The resume files are written
//! before `state.json` names them, so an interruption at any point leaves a consistent state.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use super::{TrainConfig, TrainError};
use crate::nets::{Net, NetConfig};
use crate::provenance::write_atomic;

pub use crate::data::DatasetInfo;

/// Contents of `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Training hyperparameters (seed included).
    pub train: TrainConfig,
    /// The network's configuration: which architecture `model.bpk` holds. A VGG is stored as the
    /// plain `VggConfig` object (as before ResNets existed), a ResNet as `{"resnet": {…}}`.
    pub net: NetConfig,
    /// The data.
    pub dataset: DatasetInfo,
    /// The device that trained it.
    pub device: String,
    /// Git revision of the code.
    pub git_revision: String,
    /// `relu-symmetries` version.
    pub crate_version: String,
}

/// One evaluated epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Iterations done so far.
    pub step: usize,
    /// Mean training cross-entropy over the epoch.
    pub train_loss: f64,
    /// Mean invariance-loss term over the epoch (0 if off).
    pub train_invariance_loss: f64,
    /// Training accuracy on the augmented batches.
    pub train_accuracy: f64,
    /// Test accuracy (fraction).
    pub test_accuracy: f64,
    /// Mean test cross-entropy.
    pub test_loss: f64,
    /// Share of test images whose predicted class is unchanged by hflip.
    pub flip_agreement: f64,
    /// Mean of ‖f(x) − f(hflip x)‖ / ‖f(x)‖ over test images.
    pub relative_logit_change: f64,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Wall-clock seconds since the run (or resumed run) started.
    pub elapsed_s: f64,
    /// Training images per second in this epoch.
    pub train_images_per_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ResumeState {
    epoch: usize,
    step: usize,
    elapsed_s: f64,
    model: String,
    optimizer: String,
}

/// A checkpoint directory.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The directory.
    pub dir: PathBuf,
    /// Its `config.json`.
    pub meta: CheckpointMeta,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, TrainError> {
    let text = std::fs::read_to_string(path).map_err(TrainError::io(path))?;
    serde_json::from_str(&text).map_err(|source| TrainError::Json { path: path.to_path_buf(), source })
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).expect("plain data serialises");
    write_atomic(path, text.as_bytes()).map_err(TrainError::io(path))
}

/// Save a module's parameters to `path` (burnpack) atomically.
pub(crate) fn save_module<M: Module>(module: &M, path: &Path) -> Result<(), TrainError> {
    let bytes = module.clone().into_record().into_bytes().map_err(|e| TrainError::Record { path: path.to_path_buf(), message: e.to_string() })?;
    write_atomic(path, &bytes).map_err(TrainError::io(path))
}

/// Load parameters from a burnpack file into `module` (which fixes the structure).
pub(crate) fn load_module<M: Module>(module: M, path: &Path) -> Result<M, TrainError> {
    let raw = std::fs::read(path).map_err(TrainError::io(path))?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(raw))
        .map_err(|e| TrainError::Record { path: path.to_path_buf(), message: format!("not a burnpack weights file: {e}") })?;
    module
        .try_load_record(record)
        .map_err(|e| TrainError::Record { path: path.to_path_buf(), message: format!("weights do not fit the network in config.json: {e}") })
}

/// Save the module inside `net` (so a VGG's file has exactly the record layout of a `Vgg`).
fn save_net(net: &Net, path: &Path) -> Result<(), TrainError> {
    match net {
        Net::Vgg(v) => save_module(v, path),
        Net::ResNet(r) => save_module(r, path),
        Net::ResNet50(r) => save_module(r, path),
    }
}

/// Load weights into the module inside `net` (which fixes the architecture).
fn load_net(net: Net, path: &Path) -> Result<Net, TrainError> {
    Ok(match net {
        Net::Vgg(v) => Net::Vgg(load_module(v, path)?),
        Net::ResNet(r) => Net::ResNet(load_module(r, path)?),
        Net::ResNet50(r) => Net::ResNet50(load_module(r, path)?),
    })
}

/// A run's state after its last finished epoch, as `--resume` reads it back.
pub(crate) struct Resumed<M> {
    /// The weights.
    pub model: M,
    /// The optimiser (momentum buffers).
    pub optim: ModuleOptimizer,
    /// Epochs finished.
    pub epoch: usize,
    /// Optimiser steps taken.
    pub step: usize,
    /// Wall-clock seconds spent so far.
    pub elapsed_s: f64,
}

impl Checkpoint {
    /// Create (or overwrite the config of) a checkpoint directory.
    pub fn create(dir: &Path, meta: CheckpointMeta) -> Result<Self, TrainError> {
        std::fs::create_dir_all(dir.join("resume")).map_err(TrainError::io(dir))?;
        write_json(&dir.join("config.json"), &meta)?;
        Ok(Self { dir: dir.to_path_buf(), meta })
    }

    /// Open an existing checkpoint directory by reading its `config.json`.
    pub fn open(dir: &Path) -> Result<Self, TrainError> {
        let path = dir.join("config.json");
        if !path.exists() {
            return Err(TrainError::Mismatch { path: dir.to_path_buf(), message: "not a checkpoint directory (no config.json)".into() });
        }
        Ok(Self { dir: dir.to_path_buf(), meta: read_json(&path)? })
    }

    /// Path of the latest weights.
    pub fn model_path(&self) -> PathBuf {
        self.dir.join("model.bpk")
    }

    /// A network with this checkpoint's architecture, freshly initialised (weights to be loaded).
    pub fn empty_model(&self, device: &Device) -> Result<Net, TrainError> {
        Ok(self.meta.net.init(device, 0)?)
    }

    /// The trained network, on `device` (the architecture `config.json` names).
    pub fn load_model(&self, device: &Device) -> Result<Net, TrainError> {
        load_net(self.empty_model(device)?, &self.model_path())
    }

    /// Save the latest weights.
    pub fn save_model(&self, model: &Net) -> Result<(), TrainError> {
        save_net(model, &self.model_path())
    }

    /// Path of the weights kept after `epoch` (see [`super::TrainOptions::keep_epochs`]).
    pub fn epoch_model_path(&self, epoch: usize) -> PathBuf {
        self.dir.join("epochs").join(format!("model-e{epoch}.bpk"))
    }

    /// Keep the weights after `epoch` as a snapshot.
    pub fn save_epoch_model(&self, model: &Net, epoch: usize) -> Result<(), TrainError> {
        let path = self.epoch_model_path(epoch);
        std::fs::create_dir_all(self.dir.join("epochs")).map_err(TrainError::io(&path))?;
        save_net(model, &path)
    }

    /// The epochs whose weights were kept, ascending.
    pub fn kept_epochs(&self) -> Result<Vec<usize>, TrainError> {
        let dir = self.dir.join("epochs");
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut epochs: Vec<usize> = std::fs::read_dir(&dir)
            .map_err(TrainError::io(&dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix("model-e")?.strip_suffix(".bpk")?.parse().ok()
            })
            .collect();
        epochs.sort_unstable();
        Ok(epochs)
    }

    /// The network after `epoch` (a kept snapshot), or the final one for `None`.
    pub fn load_model_at(&self, epoch: Option<usize>, device: &Device) -> Result<Net, TrainError> {
        match epoch {
            None => self.load_model(device),
            Some(k) => {
                let path = self.epoch_model_path(k);
                if !path.exists() {
                    return Err(TrainError::Mismatch { path, message: format!("no weights kept after epoch {k} (kept: {:?})", self.kept_epochs()?) });
                }
                load_net(self.empty_model(device)?, &path)
            }
        }
    }

    /// The per-epoch metrics written so far.
    pub fn metrics(&self) -> Result<Vec<EpochRecord>, TrainError> {
        let path = self.dir.join("metrics.jsonl");
        if !path.exists() {
            return Ok(Vec::new());
        }
        let text = std::fs::read_to_string(&path).map_err(TrainError::io(&path))?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|source| TrainError::Json { path: path.clone(), source }))
            .collect()
    }

    /// Rewrite `metrics.jsonl` (atomically) with `records`.
    pub fn write_metrics(&self, records: &[EpochRecord]) -> Result<(), TrainError> {
        let path = self.dir.join("metrics.jsonl");
        let mut text = String::new();
        for r in records {
            text.push_str(&serde_json::to_string(r).expect("plain data serialises"));
            text.push('\n');
        }
        write_atomic(&path, text.as_bytes()).map_err(TrainError::io(&path))
    }

    /// Save what `--resume` needs after `epoch` finished at iteration `step`.
    pub(crate) fn save_resume<M: Module>(&self, model: &M, optim: &ModuleOptimizer, epoch: usize, step: usize, elapsed_s: f64) -> Result<(), TrainError> {
        let dir = self.dir.join("resume");
        let (m, o) = (format!("model-e{epoch}.bpk"), format!("optimizer-e{epoch}.bpk"));
        save_module(model, &dir.join(&m))?;
        let opath = dir.join(&o);
        let bytes = optim.into_bytes().map_err(|e| TrainError::Record { path: opath.clone(), message: e.to_string() })?;
        write_atomic(&opath, &bytes).map_err(TrainError::io(&opath))?;
        let previous = self.resume_state().ok().flatten();
        write_json(&dir.join("state.json"), &ResumeState { epoch, step, elapsed_s, model: m.clone(), optimizer: o.clone() })?;
        if let Some(prev) = previous {
            for old in [prev.model, prev.optimizer] {
                if old != m && old != o {
                    let _ = std::fs::remove_file(dir.join(old));
                }
            }
        }
        Ok(())
    }

    /// Remove temp files (`.NAME.tmp.PID`) that a killed writer left in the directory, `resume/`
    /// and `epochs/`; returns how many. Only the process that owns the directory (the one
    /// resuming it) may call this: a live writer's temp file would vanish under it.
    pub(crate) fn remove_stale_temps(&self) -> usize {
        let mut removed = 0;
        for dir in [self.dir.clone(), self.dir.join("resume"), self.dir.join("epochs")] {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.contains(".tmp.") && std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        removed
    }

    fn resume_state(&self) -> Result<Option<ResumeState>, TrainError> {
        let path = self.dir.join("resume").join("state.json");
        if !path.exists() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// Load the last resumable state into `model` (which fixes the structure) and `optim`.
    pub(crate) fn load_resume<M: Module>(&self, model: M, optim: ModuleOptimizer) -> Result<Option<Resumed<M>>, TrainError> {
        let Some(state) = self.resume_state()? else { return Ok(None) };
        let dir = self.dir.join("resume");
        let model = load_module(model, &dir.join(&state.model))?;
        let opath = dir.join(&state.optimizer);
        let optim = optim.load(&opath).map_err(|e| TrainError::Record { path: opath.clone(), message: e.to_string() })?;
        Ok(Some(Resumed { model, optim, epoch: state.epoch, step: state.step, elapsed_s: state.elapsed_s }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::{Network, ResNetConfig, VggConfig};
    use crate::testing::{max_abs_diff, random_images};

    /// A checkpoint written before ResNets existed: `"net"` is a plain `VggConfig` object.
    #[test]
    fn a_vgg_checkpoint_written_before_resnets_still_opens_and_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs/study/noflip-s0");
        let ckpt = Checkpoint::open(&dir).unwrap();
        assert_eq!(ckpt.meta.train.model, crate::train::ModelKind::Vgg11Bn);
        assert_eq!(ckpt.meta.net, NetConfig::Vgg(VggConfig::vgg11(0.25).with_batch_norm(true)));
        // and it is written back in the same shape
        let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
        let original: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_value(&ckpt.meta).unwrap()["net"], original["net"]);
        let device = Device::flex();
        let net = ckpt.load_model(&device).unwrap();
        let vgg = net.as_vgg().expect("a VGG");
        assert!(vgg.has_batch_norm());
        assert_ne!(net.to_params(), ckpt.empty_model(&device).unwrap().to_params(), "weights were loaded");
        let x = random_images(&device, 2, 3, 32, 1);
        let y = Network::for_inference(&net).forward(x.clone());
        assert_eq!(max_abs_diff(y.clone(), vgg.forward(x)), 0.0);
        assert!(y.into_data().try_to_vec::<f32>().unwrap().iter().all(|v| v.is_finite()));
    }

    /// Randomise BatchNorm statistics and affine maps, so a lost running statistic would show.
    fn randomised(net: &Net) -> Net {
        let mut p = net.to_params();
        for (k, v) in p.iter_mut() {
            if k.contains("bn") {
                let n = v.len() as f32;
                v.indexed_iter_mut().for_each(|(i, x)| *x = 0.5 + i[0] as f32 / n);
            }
        }
        net.with_params(&p)
    }

    #[test]
    fn a_resnet_checkpoint_records_its_architecture_and_loads_back_bit_for_bit() {
        let dir = std::env::temp_dir().join(format!("relusym-ckpt-resnet-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let device = Device::flex();
        let cfg = NetConfig::from(ResNetConfig { in_channels: 3, num_classes: 4, ..ResNetConfig::new(1, 0.25) });
        let net = randomised(&cfg.init(&device, 5).unwrap());
        let meta = CheckpointMeta {
            train: TrainConfig { model: crate::train::ModelKind::Resnet20, ..TrainConfig::default() },
            net: cfg.clone(),
            dataset: DatasetInfo::describe(
                crate::data::DatasetKind::Synthetic,
                None,
                &crate::data::SyntheticSpec { n_train: 4, n_test: 4, ..Default::default() }.generate(),
            ),
            device: "test".into(),
            git_revision: "test".into(),
            crate_version: "test".into(),
        };
        let ckpt = Checkpoint::create(&dir, meta).unwrap();
        ckpt.save_model(&net).unwrap();
        let back = Checkpoint::open(&dir).unwrap().load_model(&device).unwrap();
        assert!(back.as_resnet().is_some(), "a ResNet checkpoint loads a ResNet");
        assert_eq!(back.to_params(), net.to_params());
        let x = random_images(&device, 2, 3, 32, 6);
        assert_eq!(max_abs_diff(back.for_inference().forward(x.clone()), net.for_inference().forward(x)), 0.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
