//! What the training loop needs from a network: build it, compute logits, export the network a
//! checkpoint stores.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::{TrainConfig, TrainError};
use crate::nets::{GcnnVgg, Net, ResNet, Vgg};

/// A network the training loop can train.
pub trait TrainableNet: Module + Sized {
    /// A freshly initialised network for `cfg` and a dataset with `in_channels` and `classes`.
    fn build(cfg: &TrainConfig, in_channels: usize, classes: usize, device: &Device) -> Result<Self, TrainError>;
    /// Logits. `[N, C, H, W] → [N, classes]`.
    fn logits(&self, x: Tensor<4>) -> Tensor<2>;
    /// The same function as a [`Net`] (what checkpoints store as `model.bpk`): a plain [`Vgg`]
    /// for VGG and GCNN models, the [`ResNet`] itself for ResNets.
    fn export(&self) -> Net;
}

impl TrainableNet for Vgg {
    fn build(cfg: &TrainConfig, in_channels: usize, classes: usize, device: &Device) -> Result<Self, TrainError> {
        Ok(cfg.vgg(in_channels, classes).init(device, cfg.seed)?)
    }
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward(x)
    }
    fn export(&self) -> Net {
        Net::Vgg(self.clone())
    }
}

impl TrainableNet for GcnnVgg {
    fn build(cfg: &TrainConfig, in_channels: usize, classes: usize, device: &Device) -> Result<Self, TrainError> {
        Ok(cfg.gcnn(in_channels, classes).init(device, cfg.seed)?)
    }
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward(x)
    }
    fn export(&self) -> Net {
        Net::Vgg(GcnnVgg::export(self))
    }
}

impl TrainableNet for ResNet {
    fn build(cfg: &TrainConfig, in_channels: usize, classes: usize, device: &Device) -> Result<Self, TrainError> {
        Ok(cfg.resnet(in_channels, classes).init(device, cfg.seed)?)
    }
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward(x)
    }
    fn export(&self) -> Net {
        Net::ResNet(self.clone())
    }
}
