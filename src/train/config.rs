//! Training hyperparameters, with REPAIR's recipe as defaults, and the `--scale` presets.

use serde::{Deserialize, Serialize};

use crate::nets::{NetConfig, ResNetConfig, VggConfig};

/// Which network to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// VGG11 without BatchNorm.
    Vgg11,
    /// VGG11 with BatchNorm after every conv.
    Vgg11Bn,
    /// VGG11 that is flip-equivariant by construction (mirror-pair channels), no BatchNorm.
    Gcnn,
    /// The flip-equivariant VGG11 with BatchNorm.
    GcnnBn,
    /// The CIFAR ResNet-20 (BatchNorm, projection shortcuts), with the width multiplier on its
    /// 16/32/64 channels.
    Resnet20,
}

impl ModelKind {
    /// Whether the model has BatchNorm.
    pub fn batch_norm(self) -> bool {
        matches!(self, ModelKind::Vgg11Bn | ModelKind::GcnnBn | ModelKind::Resnet20)
    }

    /// Whether the model is a ResNet.
    pub fn is_resnet(self) -> bool {
        matches!(self, ModelKind::Resnet20)
    }

    /// Whether the model is the flip-equivariant GCNN.
    pub fn is_gcnn(self) -> bool {
        matches!(self, ModelKind::Gcnn | ModelKind::GcnnBn)
    }
}

/// Size presets for `--scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Seconds: tiny width, a 1,000-image subset, 2 epochs. For tests and smoke runs.
    Smoke,
    /// One net on full CIFAR-10 in about 20 minutes on a 2-core CPU (see [`Scale::apply`]).
    Cpu,
    /// The paper's recipe: width 1, 100 epochs, batch 500.
    Paper,
}

/// The invariance-loss weight `--invariance-loss` uses when given without a value: 0.1.
///
/// Sweep (VGG11-BN ×0.125, 5,000 CIFAR-10 training images, 3 epochs, 2,000 test images; test
/// accuracy / flip agreement / relative logit change): λ = 0: 37.6% / 72.1% / 0.30; 0.01: 39.5% /
/// 73.3% / 0.30; **0.1: 36.8% / 77.8% / 0.23**; 1: 30.9% / 87.3% / 0.11; 10: collapse to a constant
/// prediction (0.0% on that class-ordered subset, 100% agreement). 0.1 buys a clear gain in
/// invariance for about a point of accuracy; 1 already costs several points.
pub const RECOMMENDED_INVARIANCE_WEIGHT: f64 = 0.1;

/// Every hyperparameter of a training run. Defaults are REPAIR's VGG11 recipe (Jordan et al.,
/// 2023, the training the paper reuses): SGD with momentum 0.9, lr 0.08 with a 5-epoch linear
/// warm-up and linear decay, weight decay 5e-4, batch 500, 100 epochs, crop + flip augmentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Network kind. Default `vgg11`.
    pub model: ModelKind,
    /// Width multiplier. Default 1.
    pub width: f64,
    /// Epochs. Default 100.
    pub epochs: usize,
    /// Training batch size. Default 500.
    pub batch_size: usize,
    /// Evaluation batch size. Default 1000.
    pub eval_batch_size: usize,
    /// Peak learning rate. Default 0.08.
    pub lr: f64,
    /// SGD momentum (no dampening, no Nesterov, as PyTorch). Default 0.9.
    pub momentum: f64,
    /// L2 weight decay on all parameters. Default 5e-4.
    pub weight_decay: f64,
    /// Linear warm-up length in epochs (then linear decay to 0 at the end). Default 5.
    pub warmup_epochs: f64,
    /// Random horizontal flips in the augmentation. Default true.
    pub flip_augmentation: bool,
    /// Zero padding of the random crop (0 disables cropping). Default 4.
    pub crop_padding: usize,
    /// Weight λ of the invariance loss λ·mean‖f(x) − f(hflip x)‖². Default 0 (off); the
    /// recommended weight when it is on is [`RECOMMENDED_INVARIANCE_WEIGHT`].
    pub invariance_loss: f64,
    /// Seed for initialisation, data order and augmentation. Default 0.
    pub seed: u64,
    /// Train on the first `n` images of a seeded shuffle of the training set. Default all.
    pub subset: Option<usize>,
    /// Evaluate on `n` test images only (a class-stratified sample). Default all.
    pub test_subset: Option<usize>,
    /// Evaluate every `k` epochs (and always after the last). Default 1.
    pub eval_every: usize,
    /// GCNN models: share of each layer's channels that are self-symmetric. Default 0.25.
    #[serde(default = "default_self_fraction")]
    pub gcnn_self_fraction: f64,
    /// Label smoothing α of the training loss: the targets are (1 − α)·one-hot + α/K over the K
    /// classes, as PyTorch's `label_smoothing`. Evaluation losses stay plain cross-entropy.
    /// Default 0 (off), which is also what a configuration written before this field reads as.
    #[serde(default)]
    pub label_smoothing: f64,
}

fn default_self_fraction() -> f64 {
    0.25
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: ModelKind::Vgg11,
            width: 1.0,
            epochs: 100,
            batch_size: 500,
            eval_batch_size: 1000,
            lr: 0.08,
            momentum: 0.9,
            weight_decay: 5e-4,
            warmup_epochs: 5.0,
            flip_augmentation: true,
            crop_padding: 4,
            invariance_loss: 0.0,
            seed: 0,
            subset: None,
            test_subset: None,
            eval_every: 1,
            gcnn_self_fraction: default_self_fraction(),
            label_smoothing: 0.0,
        }
    }
}

/// A hyperparameter out of range.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid training configuration: {0}")]
pub struct ConfigError(pub String);

impl TrainConfig {
    /// Adjust settings that are valid but would silently defeat their purpose, and say what was
    /// done (one message per change):
    ///
    /// * a warm-up at least as long as the run never reaches the peak learning rate (the decay
    ///   starts only after the warm-up), so it is shortened to a fifth of the run;
    /// * a training subset smaller than a batch gives one short batch per epoch, so the batch is
    ///   shrunk to the subset.
    pub fn adjust_degenerate(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.epochs > 0 && self.warmup_epochs >= self.epochs as f64 {
            let shorter = self.epochs as f64 / 5.0;
            notes.push(format!(
                "a warm-up of {} epochs is not shorter than the {}-epoch run, so the learning rate would never reach its peak; warm-up shortened to {shorter} epochs (a fifth of the run)",
                self.warmup_epochs, self.epochs
            ));
            self.warmup_epochs = shorter;
        }
        if let Some(n) = self.subset.filter(|&n| n > 0 && n < self.batch_size) {
            notes.push(format!("the training subset ({n} images) is smaller than a batch ({}); batch size set to {n}", self.batch_size));
            self.batch_size = n;
        }
        notes
    }

    /// Check every hyperparameter.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError(m.to_string()));
        if self.epochs == 0 {
            return bad("epochs must be at least 1");
        }
        if self.batch_size == 0 || self.eval_batch_size == 0 {
            return bad("batch sizes must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return bad("lr must be finite and non-negative");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum must be in [0, 1)");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight decay must be finite and non-negative");
        }
        if !(self.warmup_epochs.is_finite() && self.warmup_epochs >= 0.0) {
            return bad("warm-up must be finite and non-negative");
        }
        if !(self.invariance_loss.is_finite() && self.invariance_loss >= 0.0) {
            return bad("invariance-loss weight must be finite and non-negative");
        }
        if self.subset == Some(0) || self.test_subset == Some(0) {
            return bad("subsets must hold at least one image");
        }
        if self.eval_every == 0 {
            return bad("eval-every must be at least 1");
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad("label smoothing must be in [0, 1)");
        }
        if !(0.0..=1.0).contains(&self.gcnn_self_fraction) {
            return bad("the GCNN self-symmetric fraction must be in [0, 1]");
        }
        self.net(3, 10).validate().map_err(|e| ConfigError(e.to_string()))
    }

    /// The network configuration of the model kind for a dataset with `in_channels` and
    /// `num_classes` (what a checkpoint records; a GCNN records the plain VGG it exports to).
    pub fn net(&self, in_channels: usize, num_classes: usize) -> NetConfig {
        if self.model.is_resnet() { self.resnet(in_channels, num_classes).into() } else { self.vgg(in_channels, num_classes).into() }
    }

    /// The ResNet configuration (for ResNet models): ResNet-20 (3 blocks per stage) at `width`.
    pub fn resnet(&self, in_channels: usize, num_classes: usize) -> ResNetConfig {
        ResNetConfig { num_classes, in_channels, ..ResNetConfig::new(3, self.width) }
    }

    /// The GCNN configuration (for GCNN models).
    pub fn gcnn(&self, in_channels: usize, num_classes: usize) -> crate::nets::GcnnConfig {
        crate::nets::GcnnConfig { vgg: self.vgg(in_channels, num_classes), self_fraction: self.gcnn_self_fraction }
    }

    /// The VGG configuration (for VGG and GCNN models) for a dataset with `in_channels` and
    /// `num_classes`.
    pub fn vgg(&self, in_channels: usize, num_classes: usize) -> VggConfig {
        VggConfig { width: self.width, batch_norm: self.model.batch_norm(), num_classes, in_channels }
    }
}

impl Scale {
    /// The preset's values over the defaults (explicit flags are applied after this).
    ///
    /// * `smoke`: width 0.125, 2 epochs, warm-up 0.5, 1,000 train / 500 test images, batch 100.
    /// * `cpu`: width 0.25, 12 epochs, warm-up 1, batch 500 — chosen so one net trains on full
    ///   CIFAR-10 in about 20 minutes on a 2-core CPU (measured numbers are in the README).
    /// * `paper`: width 1, 100 epochs, batch 500, warm-up 5 (REPAIR's recipe).
    pub fn apply(self, cfg: &mut TrainConfig) {
        match self {
            Scale::Smoke => {
                cfg.width = 0.125;
                cfg.epochs = 2;
                cfg.warmup_epochs = 0.5;
                cfg.batch_size = 100;
                cfg.eval_batch_size = 500;
                cfg.subset = Some(1000);
                cfg.test_subset = Some(500);
            }
            Scale::Cpu => {
                cfg.width = 0.25;
                cfg.epochs = 12;
                cfg.warmup_epochs = 1.0;
                cfg.batch_size = 500;
            }
            Scale::Paper => {
                cfg.width = 1.0;
                cfg.epochs = 100;
                cfg.warmup_epochs = 5.0;
                cfg.batch_size = 500;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warm_up_as_long_as_the_run_is_shortened_with_a_message() {
        let mut c = TrainConfig { epochs: 1, ..TrainConfig::default() };
        let notes = c.adjust_degenerate();
        assert_eq!(c.warmup_epochs, 0.2);
        assert!(notes.len() == 1 && notes[0].contains("warm-up of 5 epochs"), "{notes:?}");
        // a sensible warm-up is left alone, and says nothing
        let mut c = TrainConfig { epochs: 18, warmup_epochs: 1.0, ..TrainConfig::default() };
        assert!(c.adjust_degenerate().is_empty());
        assert_eq!(c, TrainConfig { epochs: 18, warmup_epochs: 1.0, ..TrainConfig::default() });
    }

    #[test]
    fn a_subset_smaller_than_a_batch_shrinks_the_batch_with_a_message() {
        let mut c = TrainConfig { subset: Some(64), batch_size: 500, ..TrainConfig::default() };
        let notes = c.adjust_degenerate();
        assert_eq!(c.batch_size, 64);
        assert!(notes.iter().any(|n| n.contains("64 images")), "{notes:?}");
    }

    #[test]
    fn a_configuration_written_before_label_smoothing_reads_as_no_smoothing() {
        let c = TrainConfig { label_smoothing: 0.1, ..TrainConfig::default() };
        let mut json: serde_json::Value = serde_json::to_value(&c).unwrap();
        json.as_object_mut().unwrap().remove("label_smoothing");
        let old: TrainConfig = serde_json::from_value(json).unwrap();
        assert_eq!(old, TrainConfig { label_smoothing: 0.0, ..c });
    }

    #[test]
    fn defaults_are_repairs_recipe() {
        let c = TrainConfig::default();
        assert_eq!((c.lr, c.momentum, c.weight_decay, c.batch_size, c.epochs), (0.08, 0.9, 5e-4, 500, 100));
        assert_eq!(c.warmup_epochs, 5.0);
        assert!(c.flip_augmentation);
        assert_eq!(c.crop_padding, 4);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn model_kinds_keep_their_kebab_case_names_and_resnet20_is_a_batch_norm_resnet() {
        for (kind, name) in [
            (ModelKind::Vgg11, "vgg11"),
            (ModelKind::Vgg11Bn, "vgg11-bn"),
            (ModelKind::Gcnn, "gcnn"),
            (ModelKind::GcnnBn, "gcnn-bn"),
            (ModelKind::Resnet20, "resnet20"),
        ] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<ModelKind>(&format!("\"{name}\"")).unwrap(), kind);
            assert_eq!(<ModelKind as clap::ValueEnum>::from_str(name, false), Ok(kind));
        }
        let c = TrainConfig { model: ModelKind::Resnet20, width: 0.5, ..TrainConfig::default() };
        assert!(c.model.batch_norm() && c.model.is_resnet() && !c.model.is_gcnn());
        let NetConfig::ResNet { resnet } = c.net(1, 7) else { panic!("resnet20 makes a ResNet config") };
        assert_eq!((resnet.blocks_per_stage, resnet.width, resnet.in_channels, resnet.num_classes, resnet.strided), (3, 0.5, 1, 7, true));
        assert!(matches!(TrainConfig::default().net(3, 10), NetConfig::Vgg(_)));
        assert!(TrainConfig { width: 0.0, ..c }.validate().is_err());
    }

    #[test]
    fn out_of_range_hyperparameters_are_rejected() {
        let base = TrainConfig::default();
        for bad in [
            TrainConfig { epochs: 0, ..base.clone() },
            TrainConfig { lr: f64::NAN, ..base.clone() },
            TrainConfig { momentum: 1.0, ..base.clone() },
            TrainConfig { width: -1.0, ..base.clone() },
            TrainConfig { subset: Some(0), ..base.clone() },
            TrainConfig { invariance_loss: -0.1, ..base.clone() },
            TrainConfig { label_smoothing: 1.0, ..base.clone() },
            TrainConfig { label_smoothing: -0.1, ..base.clone() },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
