//! What the experiment pipeline needs from a network: the [`Network`] trait, implemented by
//! [`Vgg`], [`ResNet`] and [`ResNet50`], and [`Net`], the network a checkpoint holds (any of
//! them).
//!
//! # Why a trait *and* an enum
//!
//! Activation statistics, matching, merging, repair, evaluation and the merge experiment are
//! written once, generic over [`Network`]: callers that hold a concrete [`Vgg`] (the tests, the
//! GCNN export) keep getting a `Vgg` back from `permute_model`, `reset_batch_norm` or `repair`, with
//! no wrapping. A checkpoint, however, decides the architecture at run time, from its
//! `config.json`; [`Net`] is that run-time choice, and it implements [`Network`] by delegation, so
//! the same generic pipeline takes it. `Net` is not a burn `Module`: checkpoints store and load the
//! concrete module inside it (so a VGG checkpoint's `model.bpk` keeps exactly the record layout it
//! always had), and training is generic over the concrete modules
//! ([`crate::train::TrainableNet`]).
//!
//! # Taps and BatchNorm hooks
//!
//! [`Network::forward_hooked`] is the one instrumented forward pass. It reports every *tap point*
//! ([`Network::tap_points`]) — a place where a hidden space of the [`Structure`] takes a value —
//! with the map before and after its ReLU, and routes every BatchNorm through
//! [`ForwardHooks::batch_norm`], which by default applies the layer as it is (inference mode) and
//! which BatchNorm reset and REPAIR override (batch statistics, corrections). In VGG every hidden
//! space has one tap (its conv block). In a ResNet a residual stream is written by several layers,
//! and it has one tap after each: the stem, and every block's output `ReLU(BN(conv(·)) + skip)`;
//! every block's inner space has one tap, after its first BatchNorm.

use burn::nn::BatchNorm;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::params::ParamMap;
use super::resnet::{ResNet, ResNetConfig};
use super::resnet50::{ResNet50, ResNet50Config};
use super::structure::Structure;
use super::vgg::{Vgg, VggConfig, VggError};
use crate::group::D4;

/// A place in the forward pass where a hidden space takes a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapPoint {
    /// Where it is, e.g. `convs.3` (VGG), `stem` or `blocks.4` (the output of block 4, a residual
    /// stream) or `blocks.4.inner` (ResNet).
    pub name: String,
    /// The hidden space (index into [`Structure::spaces`]).
    pub space: usize,
}

/// Observers and overrides of one [`Network::forward_hooked`] pass.
pub trait ForwardHooks {
    /// Tap point `tap` (index into [`Network::tap_points`]) took the value `pre` (before the ReLU)
    /// and `post` (its ReLU), both `[N, C, H, W]`. Default: ignore.
    fn tap(&mut self, tap: usize, pre: &Tensor<4>, post: &Tensor<4>) {
        let _ = (tap, pre, post);
    }

    /// Apply BatchNorm `layer` (its name prefix in the [`Structure`], e.g. `blocks.2.bn1`) to
    /// `z` `[N, C, H, W]`; the result continues the forward pass. Default: `bn.forward(z)`.
    fn batch_norm(&mut self, layer: &str, bn: &BatchNorm, z: Tensor<4>) -> Tensor<4> {
        let _ = layer;
        bn.forward(z)
    }
}

/// The default hooks: observe nothing, change nothing.
pub struct NoHooks;

impl ForwardHooks for NoHooks {}

/// A network the experiment pipeline handles (see the module docs). Shapes: images
/// `[N, C_in, H, W]`, logits `[N, classes]`.
pub trait Network: Clone + std::fmt::Debug {
    /// Logits. `[N, C_in, H, W] → [N, classes]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<2>;

    /// Logits, reporting every tap point and routing every BatchNorm through `hooks`.
    fn forward_hooked(&self, x: Tensor<4>, hooks: &mut dyn ForwardHooks) -> Tensor<2>;

    /// The tap points, in the order [`Network::forward_hooked`] reports them.
    fn tap_points(&self) -> Vec<TapPoint>;

    /// Which axes of which parameters carry each hidden channel space.
    fn structure(&self) -> Structure;

    /// Host copies of every parameter and running statistic, named as in the structure.
    fn to_params(&self) -> ParamMap;

    /// A copy with the parameters found in `params` replaced (others kept). Panics on a shape
    /// mismatch.
    fn with_params(&self, params: &ParamMap) -> Self;

    /// The network with every kernel transformed by `g`.
    fn transformed(&self, g: D4) -> Self;

    /// The network with every kernel flipped horizontally.
    fn flipped(&self) -> Self {
        self.transformed(D4::HFLIP)
    }

    /// A copy for inference: no autodiff, every BatchNorm normalising with its running statistics.
    fn for_inference(&self) -> Self;

    /// A copy computing the same function as [`Network::for_inference`]'s, for passes that need
    /// only the logits and the tap points: where the architecture allows, every BatchNorm is
    /// folded into the convolution before it ([`Vgg::with_batch_norm_folded`]), which saves
    /// BatchNorm's pass over every map. The copy may have no BatchNorm layers left to hook, so
    /// BatchNorm reset and REPAIR use [`Network::for_inference`]. Default:
    /// [`Network::for_inference`].
    fn for_evaluation(&self) -> Self {
        self.for_inference()
    }

    /// Whether the network has BatchNorm layers.
    fn has_batch_norm(&self) -> bool;

    /// The network as a chain of conv blocks (a [`Vgg`]), if it is one: REPAIR uses the chain for
    /// its exact front-to-back correction. Default: `None`.
    fn as_vgg(&self) -> Option<&Vgg> {
        None
    }
}

impl Network for Vgg {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        Vgg::forward(self, x)
    }
    fn forward_hooked(&self, x: Tensor<4>, hooks: &mut dyn ForwardHooks) -> Tensor<2> {
        Vgg::forward_hooked(self, x, hooks)
    }
    fn tap_points(&self) -> Vec<TapPoint> {
        (0..self.convs.len()).map(|i| TapPoint { name: format!("convs.{i}"), space: i }).collect()
    }
    fn structure(&self) -> Structure {
        Vgg::structure(self)
    }
    fn to_params(&self) -> ParamMap {
        Vgg::to_params(self)
    }
    fn with_params(&self, params: &ParamMap) -> Self {
        Vgg::with_params(self, params)
    }
    fn transformed(&self, g: D4) -> Self {
        Vgg::transformed(self, g)
    }
    fn for_inference(&self) -> Self {
        burn::module::Module::valid(self)
    }
    fn for_evaluation(&self) -> Self {
        self.with_batch_norm_folded()
    }
    fn has_batch_norm(&self) -> bool {
        Vgg::has_batch_norm(self)
    }
    fn as_vgg(&self) -> Option<&Vgg> {
        Some(self)
    }
}

impl Network for ResNet {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        ResNet::forward(self, x)
    }
    fn forward_hooked(&self, x: Tensor<4>, hooks: &mut dyn ForwardHooks) -> Tensor<2> {
        ResNet::forward_hooked(self, x, hooks)
    }
    fn tap_points(&self) -> Vec<TapPoint> {
        ResNet::tap_points(self)
    }
    fn structure(&self) -> Structure {
        ResNet::structure(self)
    }
    fn to_params(&self) -> ParamMap {
        ResNet::to_params(self)
    }
    fn with_params(&self, params: &ParamMap) -> Self {
        ResNet::with_params(self, params)
    }
    fn transformed(&self, g: D4) -> Self {
        ResNet::transformed(self, g)
    }
    fn for_inference(&self) -> Self {
        burn::module::Module::valid(self)
    }
    fn has_batch_norm(&self) -> bool {
        true
    }
}

impl Network for ResNet50 {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        ResNet50::forward(self, x)
    }
    fn forward_hooked(&self, x: Tensor<4>, hooks: &mut dyn ForwardHooks) -> Tensor<2> {
        ResNet50::forward_hooked(self, x, hooks)
    }
    fn tap_points(&self) -> Vec<TapPoint> {
        ResNet50::tap_points(self)
    }
    fn structure(&self) -> Structure {
        ResNet50::structure(self)
    }
    fn to_params(&self) -> ParamMap {
        ResNet50::to_params(self)
    }
    fn with_params(&self, params: &ParamMap) -> Self {
        ResNet50::with_params(self, params)
    }
    fn transformed(&self, g: D4) -> Self {
        ResNet50::transformed(self, g)
    }
    fn for_inference(&self) -> Self {
        burn::module::Module::valid(self)
    }
    fn has_batch_norm(&self) -> bool {
        true
    }
}

/// The configuration of a [`Net`], as a checkpoint's `config.json` stores it under `net`.
///
/// A VGG is stored as the plain [`VggConfig`] object (as every checkpoint written before ResNets
/// existed), a ResNet as `{"resnet": {…}}`, a ResNet50 as `{"resnet50": {…}}`; the enum is
/// untagged, so all read back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NetConfig {
    /// A CIFAR ResNet: `{"resnet": ResNetConfig}`.
    ResNet {
        /// Its configuration.
        resnet: ResNetConfig,
    },
    /// torchvision's ResNet50: `{"resnet50": ResNet50Config}`.
    ResNet50 {
        /// Its configuration.
        resnet50: ResNet50Config,
    },
    /// A VGG: the [`VggConfig`] object itself.
    Vgg(VggConfig),
}

impl NetConfig {
    /// A freshly initialised network drawn from `seed`.
    pub fn init(&self, device: &Device, seed: u64) -> Result<Net, VggError> {
        Ok(match self {
            NetConfig::Vgg(c) => Net::Vgg(c.init(device, seed)?),
            NetConfig::ResNet { resnet } => Net::ResNet(resnet.init(device, seed)?),
            NetConfig::ResNet50 { resnet50 } => Net::ResNet50(resnet50.init(device, seed)?),
        })
    }

    /// Check the hyperparameters.
    pub fn validate(&self) -> Result<(), VggError> {
        match self {
            NetConfig::Vgg(c) => c.validate(),
            NetConfig::ResNet { resnet } => resnet.validate(),
            NetConfig::ResNet50 { resnet50 } => resnet50.validate(),
        }
    }

    /// A short name of the architecture: `vgg11`, `vgg11-bn`, `resnet20` (`resnet{6n+2}`) or
    /// `resnet50`.
    pub fn name(&self) -> String {
        match self {
            NetConfig::Vgg(c) if c.batch_norm => "vgg11-bn".into(),
            NetConfig::Vgg(_) => "vgg11".into(),
            NetConfig::ResNet { resnet } => format!("resnet{}", 6 * resnet.blocks_per_stage + 2),
            NetConfig::ResNet50 { .. } => "resnet50".into(),
        }
    }
}

impl From<VggConfig> for NetConfig {
    fn from(c: VggConfig) -> Self {
        NetConfig::Vgg(c)
    }
}

impl From<ResNet50Config> for NetConfig {
    fn from(resnet50: ResNet50Config) -> Self {
        NetConfig::ResNet50 { resnet50 }
    }
}

impl From<ResNetConfig> for NetConfig {
    fn from(resnet: ResNetConfig) -> Self {
        NetConfig::ResNet { resnet }
    }
}

/// A network of either architecture: what a checkpoint holds. Implements [`Network`]; its
/// inherent methods of the same names make the trait import unnecessary for callers.
// A net is held one or two at a time, and boxing the larger variant would only add an
// indirection to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Net {
    /// A VGG (plain, BatchNorm, or an exported GCNN).
    Vgg(Vgg),
    /// A CIFAR ResNet.
    ResNet(ResNet),
    /// torchvision's ResNet50.
    ResNet50(ResNet50),
}

macro_rules! each {
    ($self:expr, $n:ident => $e:expr) => {
        match $self {
            Net::Vgg($n) => $e,
            Net::ResNet($n) => $e,
            Net::ResNet50($n) => $e,
        }
    };
}

macro_rules! each_wrap {
    ($self:expr, $n:ident => $e:expr) => {
        match $self {
            Net::Vgg($n) => Net::Vgg($e),
            Net::ResNet($n) => Net::ResNet($e),
            Net::ResNet50($n) => Net::ResNet50($e),
        }
    };
}

impl Net {
    /// Logits. `[N, C_in, H, W] → [N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        each!(self, n => n.forward(x))
    }

    /// See [`Network::structure`].
    pub fn structure(&self) -> Structure {
        each!(self, n => n.structure())
    }

    /// See [`Network::to_params`].
    pub fn to_params(&self) -> ParamMap {
        each!(self, n => n.to_params())
    }

    /// See [`Network::with_params`].
    pub fn with_params(&self, params: &ParamMap) -> Net {
        each_wrap!(self, n => n.with_params(params))
    }

    /// See [`Network::transformed`].
    pub fn transformed(&self, g: D4) -> Net {
        each_wrap!(self, n => n.transformed(g))
    }

    /// The horizontally flipped network.
    pub fn flipped(&self) -> Net {
        self.transformed(D4::HFLIP)
    }

    /// Whether the network has BatchNorm layers.
    pub fn has_batch_norm(&self) -> bool {
        each!(self, n => Network::has_batch_norm(n))
    }

    /// The VGG inside, if it is one.
    pub fn as_vgg(&self) -> Option<&Vgg> {
        match self {
            Net::Vgg(v) => Some(v),
            Net::ResNet(_) | Net::ResNet50(_) => None,
        }
    }

    /// The VGG inside, if it is one (by value).
    pub fn into_vgg(self) -> Option<Vgg> {
        match self {
            Net::Vgg(v) => Some(v),
            Net::ResNet(_) | Net::ResNet50(_) => None,
        }
    }

    /// The ResNet inside, if it is one.
    pub fn as_resnet(&self) -> Option<&ResNet> {
        match self {
            Net::ResNet(r) => Some(r),
            Net::Vgg(_) | Net::ResNet50(_) => None,
        }
    }

    /// The ResNet50 inside, if it is one.
    pub fn as_resnet50(&self) -> Option<&ResNet50> {
        match self {
            Net::ResNet50(r) => Some(r),
            Net::Vgg(_) | Net::ResNet(_) => None,
        }
    }

    /// Number of parameters and running statistics (burn's count).
    pub fn num_params(&self) -> usize {
        each!(self, n => burn::module::Module::num_params(n))
    }
}

impl Network for Net {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        Net::forward(self, x)
    }
    fn forward_hooked(&self, x: Tensor<4>, hooks: &mut dyn ForwardHooks) -> Tensor<2> {
        each!(self, n => n.forward_hooked(x, hooks))
    }
    fn tap_points(&self) -> Vec<TapPoint> {
        each!(self, n => Network::tap_points(n))
    }
    fn structure(&self) -> Structure {
        Net::structure(self)
    }
    fn to_params(&self) -> ParamMap {
        Net::to_params(self)
    }
    fn with_params(&self, params: &ParamMap) -> Self {
        Net::with_params(self, params)
    }
    fn transformed(&self, g: D4) -> Self {
        Net::transformed(self, g)
    }
    fn for_inference(&self) -> Self {
        each_wrap!(self, n => n.for_inference())
    }
    fn for_evaluation(&self) -> Self {
        each_wrap!(self, n => n.for_evaluation())
    }
    fn has_batch_norm(&self) -> bool {
        Net::has_batch_norm(self)
    }
    fn as_vgg(&self) -> Option<&Vgg> {
        Net::as_vgg(self)
    }
}

impl From<Vgg> for Net {
    fn from(v: Vgg) -> Self {
        Net::Vgg(v)
    }
}

impl From<ResNet50> for Net {
    fn from(r: ResNet50) -> Self {
        Net::ResNet50(r)
    }
}

impl From<ResNet> for Net {
    fn from(r: ResNet) -> Self {
        Net::ResNet(r)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::testing::{max_abs_diff, random_images};

    /// Records the width of every tap and how often each BatchNorm is applied.
    #[derive(Default)]
    struct Count {
        taps: Vec<(usize, usize, bool)>,
        norms: BTreeMap<String, usize>,
    }

    impl ForwardHooks for Count {
        fn tap(&mut self, tap: usize, pre: &Tensor<4>, post: &Tensor<4>) {
            let relu_of_pre = max_abs_diff(pre.clone().clamp_min(0.0), post.clone()) == 0.0;
            self.taps.push((tap, pre.dims()[1], relu_of_pre));
        }
        fn batch_norm(&mut self, layer: &str, bn: &BatchNorm, z: Tensor<4>) -> Tensor<4> {
            *self.norms.entry(layer.to_string()).or_default() += 1;
            bn.forward(z)
        }
    }

    fn nets() -> Vec<(&'static str, Net)> {
        let device = Device::flex();
        vec![
            ("vgg", VggConfig::vgg11(0.125).init(&device, 1).unwrap().into()),
            ("vgg-bn", VggConfig::vgg11(0.125).with_batch_norm(true).init(&device, 2).unwrap().into()),
            ("resnet", ResNetConfig::new(2, 0.25).init(&device, 3).unwrap().into()),
            ("resnet50", ResNet50Config::new(0.0625, 10).with_blocks([1, 2, 1, 1]).init(&device, 4).unwrap().into()),
        ]
    }

    #[test]
    fn the_hooked_forward_is_the_forward_and_taps_every_space_in_order_at_its_width() {
        for (label, net) in nets() {
            let net = net.for_inference();
            let x = random_images(&Device::flex(), 2, 3, 32, 4);
            let mut count = Count::default();
            let y = net.forward_hooked(x.clone(), &mut count);
            assert_eq!(max_abs_diff(y, net.forward(x)), 0.0, "{label}: hooked forward differs");
            let (s, taps) = (net.structure(), net.tap_points());
            assert_eq!(count.taps.iter().map(|t| t.0).collect::<Vec<_>>(), (0..taps.len()).collect::<Vec<_>>(), "{label}: taps out of order");
            for ((_, width, relu_of_pre), tap) in count.taps.iter().zip(&taps) {
                assert_eq!(*width, s.spaces[tap.space].size, "{label}: tap {} has the wrong width", tap.name);
                assert!(relu_of_pre, "{label}: post is not the ReLU of pre at {}", tap.name);
            }
            // every space is tapped, and every BatchNorm is routed through the hook exactly once
            assert!((0..s.spaces.len()).all(|sp| taps.iter().any(|t| t.space == sp)), "{label}: an untapped space");
            let norms: BTreeMap<String, usize> = s.batch_norm_layers().iter().map(|(l, _)| (l.to_string(), 1)).collect();
            assert_eq!(count.norms, norms, "{label}");
            assert_eq!(net.has_batch_norm(), !norms.is_empty(), "{label}");
        }
    }

    /// What the tap passes and the evaluation see: the copy for evaluation has the same logits and
    /// the same maps at every tap as the copy for inference, for every architecture (random
    /// BatchNorm statistics, so that folding them has work to do).
    #[test]
    fn the_evaluation_copy_has_the_inference_copys_logits_and_taps() {
        #[derive(Default)]
        struct Maps(Vec<Tensor<4>>);
        impl ForwardHooks for Maps {
            fn tap(&mut self, _: usize, pre: &Tensor<4>, post: &Tensor<4>) {
                self.0.extend([pre.clone(), post.clone()]);
            }
        }
        for (label, net) in nets() {
            let net = crate::testing::with_random_batch_norms(&net, 9);
            let (inference, evaluation) = (net.for_inference(), net.for_evaluation());
            let x = random_images(&Device::flex(), 2, 3, 32, 5);
            let (mut a, mut b) = (Maps::default(), Maps::default());
            let (ya, yb) = (inference.forward_hooked(x.clone(), &mut a), evaluation.forward_hooked(x, &mut b));
            let err = crate::testing::relative_diff(ya, yb);
            assert!(err < 1e-5, "{label}: logits differ by {err}");
            assert_eq!(a.0.len(), b.0.len(), "{label}");
            for (k, (p, q)) in a.0.into_iter().zip(b.0).enumerate() {
                let err = crate::testing::relative_diff(p, q);
                assert!(err < 1e-5, "{label}: map {k} differs by {err}");
            }
        }
    }

    #[test]
    fn a_residual_stream_is_tapped_after_every_layer_writing_into_it() {
        let net = ResNetConfig::new(3, 0.25).init(&Device::flex(), 0).unwrap();
        let (s, taps) = (net.structure(), net.tap_points());
        for (stage, writers) in [("stage0", vec!["stem", "blocks.0", "blocks.1", "blocks.2"]), ("stage1", vec!["blocks.3", "blocks.4", "blocks.5"])] {
            let space = s.spaces.iter().position(|x| x.name == stage).unwrap();
            let names: Vec<&str> = taps.iter().filter(|t| t.space == space).map(|t| t.name.as_str()).collect();
            assert_eq!(names, writers, "{stage}");
        }
        let inner = s.spaces.iter().position(|x| x.name == "block4.inner").unwrap();
        assert_eq!(taps.iter().filter(|t| t.space == inner).map(|t| t.name.as_str()).collect::<Vec<_>>(), ["blocks.4.inner"]);
    }

    #[test]
    fn net_configs_store_a_vgg_as_the_plain_object_and_a_resnet_wrapped() {
        let vgg = NetConfig::from(VggConfig::vgg11(0.25).with_batch_norm(true));
        let json = serde_json::to_value(&vgg).unwrap();
        assert_eq!(json, serde_json::json!({"width": 0.25, "batch_norm": true, "num_classes": 10, "in_channels": 3}));
        assert_eq!(serde_json::from_value::<NetConfig>(json).unwrap(), vgg);
        let resnet = NetConfig::from(ResNetConfig::new(3, 0.5));
        let json = serde_json::to_value(&resnet).unwrap();
        assert!(json.get("resnet").is_some_and(|r| r.get("blocks_per_stage") == Some(&serde_json::json!(3))), "{json}");
        assert_eq!(serde_json::from_value::<NetConfig>(json).unwrap(), resnet);
        assert_eq!((vgg.name(), resnet.name()), ("vgg11-bn".to_string(), "resnet20".to_string()));
        assert!(matches!(resnet.init(&Device::flex(), 0), Ok(Net::ResNet(_))));
        assert!(NetConfig::from(ResNetConfig::new(3, f64::NAN)).validate().is_err());
        let r50 = NetConfig::from(ResNet50Config::new(0.125, 7));
        let json = serde_json::to_value(&r50).unwrap();
        assert!(json.get("resnet50").is_some(), "{json}");
        assert_eq!(serde_json::from_value::<NetConfig>(json).unwrap(), r50);
        assert_eq!(r50.name(), "resnet50");
    }
}
