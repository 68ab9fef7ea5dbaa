//! The CIFAR ResNet (He et al. 2016, §4.2), with a width multiplier: ResNet-20 at the defaults.
//!
//! ```text
//! stem     3×3 conv (16·w) → BN → ReLU                                   32×32
//! stage 0  n basic blocks, 16·w channels                                  32×32
//! stage 1  n basic blocks, 32·w channels, the first with stride 2         16×16
//! stage 2  n basic blocks, 64·w channels, the first with stride 2          8×8
//! head     global average pool → Linear(64·w, classes)
//! basic block: x ↦ ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x)),
//!              shortcut = identity, or 1×1 conv (stride 2) → BN where the width changes
//! ```
//!
//! Convolutions have no bias (a BatchNorm follows each). Depth `6n + 2`: n = 3 is ResNet-20.
//!
//! # Hidden spaces: one per residual stream
//!
//! Every block of a stage adds its output into the same *residual stream*, so a channel
//! permutation of that stream must act on every layer writing into it (the stem or the stage's
//! projection shortcut, and each block's second conv and BatchNorm) and on every layer reading
//! from it (each block's first conv, the next stage's projection, the classifier) at once. The
//! [`Structure`] therefore has one hidden space per stage's stream, plus one per block for the
//! output of its first conv. Specs derived from it cannot make git-re-basin's classic mistake of
//! permuting a stream per block.
//!
//! # Tap points
//!
//! [`ResNet::forward_hooked`] reports a stream's value after every layer writing into it (the stem
//! and each block's output), and each block's inner space after its first BatchNorm; activation
//! matching pools a stream's taps (see [`crate::align::activation_matching`]).
//!
//! # The flipped network
//!
//! [`ResNet::flipped`] flips every kernel. For stride-1 layers with symmetric padding that is
//! exactly `x ↦ f(hflip x)` (see [`crate::group`]); a stride-2 layer on an even size samples
//! columns 0, 2, 4, … whose mirror images are the odd columns, so the flipped ResNet computes
//! `f(hflip x)` only approximately (`ResNetConfig::strided(false)` removes the strides, and
//! with them the deviation; the tests pin both cases).

use burn::module::{Module, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, Linear};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::init::ParamInit;
use super::network::{ForwardHooks, TapPoint};
use super::params::{ParamMap, array_to_tensor, replace_param, tensor_to_array};
use super::structure::{HiddenSpace, LayerKind, ParamAxes, Structure};
use super::vgg::VggError;
use crate::group::D4;

/// Configuration of a [`ResNet`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResNetConfig {
    /// Basic blocks per stage, n (depth 6n + 2). Default 3 (ResNet-20).
    pub blocks_per_stage: usize,
    /// Width multiplier on 16/32/64 channels (rounded, at least 1). Default 1.
    pub width: f64,
    /// Number of output classes. Default 10.
    pub num_classes: usize,
    /// Input channels. Default 3.
    pub in_channels: usize,
    /// Stride 2 at the start of stages 1 and 2. Default true; false keeps 32×32 throughout, for
    /// which the flipped network is exact.
    pub strided: bool,
}

impl Default for ResNetConfig {
    fn default() -> Self {
        Self { blocks_per_stage: 3, width: 1.0, num_classes: 10, in_channels: 3, strided: true }
    }
}

impl ResNetConfig {
    /// ResNet-(6n+2) at width `width` for 10 RGB classes.
    pub fn new(blocks_per_stage: usize, width: f64) -> Self {
        Self { blocks_per_stage, width, ..Self::default() }
    }

    /// With or without the stride-2 stage transitions.
    pub fn strided(mut self, strided: bool) -> Self {
        self.strided = strided;
        self
    }

    /// Channels of the three stages.
    pub fn stage_channels(&self) -> [usize; 3] {
        [16, 32, 64].map(|c| ((c as f64 * self.width).round() as usize).max(1))
    }

    /// Check the hyperparameters.
    pub fn validate(&self) -> Result<(), VggError> {
        if !(self.width.is_finite() && self.width > 0.0) {
            return Err(VggError::BadWidth(self.width));
        }
        if self.num_classes == 0 || self.in_channels == 0 || self.blocks_per_stage == 0 {
            return Err(VggError::Empty { classes: self.num_classes, in_channels: self.in_channels });
        }
        Ok(())
    }

    /// A freshly initialised network drawn on the host from `seed`: conv weights Kaiming-normal
    /// (fan-out, ReLU gain), BatchNorm γ = 1, β = 0, classifier weights N(0, 0.01²), bias 0.
    pub fn init(&self, device: &Device, seed: u64) -> Result<ResNet, VggError> {
        self.validate()?;
        let mut rng = ParamInit::new(seed);
        let mut conv = |c_out: usize, c_in: usize, k: usize, stride: usize| rng.kaiming_conv(c_out, c_in, k, stride, device);
        let channels = self.stage_channels();
        let stem = conv(channels[0], self.in_channels, 3, 1);
        let mut blocks = Vec::new();
        let mut c_in = channels[0];
        for (stage, &c) in channels.iter().enumerate() {
            for b in 0..self.blocks_per_stage {
                let stride = if stage > 0 && b == 0 && self.strided { 2 } else { 1 };
                let shortcut = (c != c_in || stride != 1).then(|| Projection { conv: conv(c, c_in, 1, stride), bn: BatchNormConfig::new(c).init(device) });
                blocks.push(BasicBlock {
                    conv1: conv(c, c_in, 3, stride),
                    bn1: BatchNormConfig::new(c).init(device),
                    conv2: conv(c, c, 3, 1),
                    bn2: BatchNormConfig::new(c).init(device),
                    shortcut,
                });
                c_in = c;
            }
        }
        let head = Linear { weight: rng.normal([c_in, self.num_classes], 0.01, device), bias: Some(rng.zeros([self.num_classes], device)) };
        Ok(ResNet { stem, stem_bn: BatchNormConfig::new(channels[0]).init(device), blocks, head, blocks_per_stage: self.blocks_per_stage })
    }
}

/// A 1×1 projection shortcut: conv (stride 1 or 2) → BatchNorm.
#[derive(Module, Debug)]
pub struct Projection {
    /// Weight `[C_out, C_in, 1, 1]`.
    pub conv: Conv2d,
    /// BatchNorm over `C_out`.
    pub bn: BatchNorm,
}

/// A basic residual block: `[N, C_in, H, W] → [N, C, H/s, W/s]`.
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// First 3×3 conv (stride s), weight `[C, C_in, 3, 3]`.
    pub conv1: Conv2d,
    /// BatchNorm after `conv1`.
    pub bn1: BatchNorm,
    /// Second 3×3 conv, weight `[C, C, 3, 3]`.
    pub conv2: Conv2d,
    /// BatchNorm after `conv2`.
    pub bn2: BatchNorm,
    /// Projection where the shape changes, else the identity.
    pub shortcut: Option<Projection>,
}

impl BasicBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let inner = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let out = self.bn2.forward(self.conv2.forward(inner));
        let skip = match &self.shortcut {
            Some(p) => p.bn.forward(p.conv.forward(x)),
            None => x,
        };
        relu(out + skip)
    }
}

/// The CIFAR ResNet. Shapes: input `[N, C_in, 32, 32]` → logits `[N, classes]`.
#[derive(Module, Debug)]
pub struct ResNet {
    /// Stem 3×3 conv, weight `[16·w, C_in, 3, 3]`.
    pub stem: Conv2d,
    /// BatchNorm after the stem.
    pub stem_bn: BatchNorm,
    /// The 3n basic blocks, stage by stage.
    pub blocks: Vec<BasicBlock>,
    /// Classifier; weight `[64·w, classes]` (burn's row layout), bias `[classes]`.
    pub head: Linear,
    #[module(skip)]
    blocks_per_stage: usize,
}

/// Which axes a BatchNorm's four tensors put in hidden space `s`.
pub(super) fn batch_norm_axes(out: &mut Vec<ParamAxes>, layer: &str, s: usize) {
    for (name, running_stat) in [("gamma", false), ("beta", false), ("running_mean", true), ("running_var", true)] {
        out.push(ParamAxes { name: format!("{layer}.{name}"), layer: layer.to_string(), kind: LayerKind::BatchNorm, axes: vec![(0, s)], running_stat });
    }
}

pub(super) fn conv_axes(out: &mut Vec<ParamAxes>, layer: &str, s_out: usize, s_in: Option<usize>) {
    let mut axes = vec![(0, s_out)];
    axes.extend(s_in.map(|s| (1, s)));
    out.push(ParamAxes { name: format!("{layer}.weight"), layer: layer.to_string(), kind: LayerKind::Conv, axes, running_stat: false });
}

pub(super) fn conv_params(m: &mut ParamMap, layer: &str, c: &Conv2d) {
    m.insert(format!("{layer}.weight"), tensor_to_array(c.weight.val()));
}

pub(super) fn bn_params(m: &mut ParamMap, layer: &str, bn: &BatchNorm) {
    m.insert(format!("{layer}.gamma"), tensor_to_array(bn.gamma.val()));
    m.insert(format!("{layer}.beta"), tensor_to_array(bn.beta.val()));
    m.insert(format!("{layer}.running_mean"), tensor_to_array(bn.running_mean.value_sync()));
    m.insert(format!("{layer}.running_var"), tensor_to_array(bn.running_var.value_sync()));
}

pub(super) fn set_conv(c: &mut Conv2d, layer: &str, params: &ParamMap) {
    if let Some(a) = params.get(&format!("{layer}.weight")) {
        assert_eq!(a.shape(), c.weight.dims(), "parameter {layer}.weight has the wrong shape");
        c.weight = replace_param(&c.weight, a);
    }
}

pub(super) fn set_bn(bn: &mut BatchNorm, layer: &str, params: &ParamMap) {
    let device = bn.gamma.val().device();
    let get = |name: &str| params.get(&format!("{layer}.{name}"));
    if let Some(a) = get("gamma") {
        bn.gamma = replace_param(&bn.gamma, a);
    }
    if let Some(a) = get("beta") {
        bn.beta = replace_param(&bn.beta, a);
    }
    if let Some(a) = get("running_mean") {
        bn.running_mean = RunningState::new(array_to_tensor(a, &device));
    }
    if let Some(a) = get("running_var") {
        bn.running_var = RunningState::new(array_to_tensor(a, &device));
    }
}

impl ResNet {
    /// Logits `[N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = relu(self.stem_bn.forward(self.stem.forward(x)));
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.classify(x)
    }

    /// Global average pool and classifier. `[N, C, H, W] → [N, classes]`.
    fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        let [n, c, _, _] = x.dims();
        self.head.forward(x.mean_dim(3).mean_dim(2).reshape([n, c]))
    }

    /// Logits, reporting every tap point of [`ResNet::tap_points`] and routing every BatchNorm
    /// (`stem_bn`, `blocks.b.bn1`, `blocks.b.bn2`, `blocks.b.shortcut.bn`) through `hooks`.
    /// Computes the same function as [`ResNet::forward`]. `[N, C_in, H, W] → [N, classes]`.
    ///
    /// Taps, in order: the stem (`pre` = its BatchNorm's output, the stream's first value), then
    /// per block its inner space (`pre` = the first BatchNorm's output) and its output into the
    /// stream (`pre` = `BN(conv2(·)) + skip`, before the final ReLU).
    pub fn forward_hooked(&self, x: Tensor<4>, hooks: &mut dyn ForwardHooks) -> Tensor<2> {
        let pre = hooks.batch_norm("stem_bn", &self.stem_bn, self.stem.forward(x));
        let mut x = relu(pre.clone());
        hooks.tap(0, &pre, &x);
        for (b, block) in self.blocks.iter().enumerate() {
            let l = format!("blocks.{b}");
            let z1 = hooks.batch_norm(&format!("{l}.bn1"), &block.bn1, block.conv1.forward(x.clone()));
            let h = relu(z1.clone());
            hooks.tap(1 + 2 * b, &z1, &h);
            let out = hooks.batch_norm(&format!("{l}.bn2"), &block.bn2, block.conv2.forward(h));
            let skip = match &block.shortcut {
                Some(p) => hooks.batch_norm(&format!("{l}.shortcut.bn"), &p.bn, p.conv.forward(x)),
                None => x,
            };
            let pre = out + skip;
            x = relu(pre.clone());
            hooks.tap(2 + 2 * b, &pre, &x);
        }
        self.classify(x)
    }

    /// The tap points of [`ResNet::forward_hooked`], with the hidden spaces of
    /// [`ResNet::structure`]: `stem` (stage 0's stream), then per block `blocks.b.inner` (its
    /// inner space) and `blocks.b` (its stage's stream).
    pub fn tap_points(&self) -> Vec<TapPoint> {
        let mut taps = vec![TapPoint { name: "stem".into(), space: 0 }];
        let (mut n_spaces, mut stream) = (1usize, 0usize);
        for (b, block) in self.blocks.iter().enumerate() {
            if block.shortcut.is_some() {
                stream = n_spaces;
                n_spaces += 1;
            }
            taps.push(TapPoint { name: format!("blocks.{b}.inner"), space: n_spaces });
            n_spaces += 1;
            taps.push(TapPoint { name: format!("blocks.{b}"), space: stream });
        }
        taps
    }

    /// The network with every kernel transformed by `g` (approximately `x ↦ f(g·x)` when strided;
    /// see the module docs).
    pub fn transformed(&self, g: D4) -> ResNet {
        let mut out = self.clone();
        let t = |c: &mut Conv2d| c.weight = c.weight.clone().map(|w| g.inverse().apply(w));
        t(&mut out.stem);
        for b in &mut out.blocks {
            t(&mut b.conv1);
            t(&mut b.conv2);
            if let Some(p) = &mut b.shortcut {
                t(&mut p.conv);
            }
        }
        out
    }

    /// The horizontally flipped network.
    pub fn flipped(&self) -> ResNet {
        self.transformed(D4::HFLIP)
    }

    /// Hidden spaces: one per stage's residual stream, one per block's inner (first-conv) output;
    /// see the module docs.
    pub fn structure(&self) -> Structure {
        let mut spaces: Vec<HiddenSpace> = Vec::new();
        let mut params = Vec::new();
        let stream0 = spaces.len();
        spaces.push(HiddenSpace { name: "stage0".into(), size: self.stem.weight.dims()[0], producer: "stem.weight".into(), block: 0 });
        conv_axes(&mut params, "stem", stream0, None);
        batch_norm_axes(&mut params, "stem_bn", stream0);
        // ANCHOR: residual_streams
        let mut stream = stream0;
        for (b, block) in self.blocks.iter().enumerate() {
            let layer = format!("blocks.{b}");
            let input = stream;
            if let Some(p) = &block.shortcut {
                // a new stream starts here, written first by the projection
                stream = spaces.len();
                let stage = b / self.blocks_per_stage;
                spaces.push(HiddenSpace {
                    name: format!("stage{stage}"),
                    size: p.conv.weight.dims()[0],
                    producer: format!("{layer}.shortcut.conv.weight"),
                    block: b + 1,
                });
                conv_axes(&mut params, &format!("{layer}.shortcut.conv"), stream, Some(input));
                batch_norm_axes(&mut params, &format!("{layer}.shortcut.bn"), stream);
            }
            let inner = spaces.len();
            spaces.push(HiddenSpace {
                name: format!("block{b}.inner"),
                size: block.conv1.weight.dims()[0],
                producer: format!("{layer}.conv1.weight"),
                block: b + 1,
            });
            conv_axes(&mut params, &format!("{layer}.conv1"), inner, Some(input));
            batch_norm_axes(&mut params, &format!("{layer}.bn1"), inner);
            conv_axes(&mut params, &format!("{layer}.conv2"), stream, Some(inner));
            batch_norm_axes(&mut params, &format!("{layer}.bn2"), stream);
        }
        // ANCHOR_END: residual_streams
        params.push(ParamAxes { name: "head.weight".into(), layer: "head".into(), kind: LayerKind::Linear, axes: vec![(0, stream)], running_stat: false });
        params.push(ParamAxes { name: "head.bias".into(), layer: "head".into(), kind: LayerKind::Linear, axes: vec![], running_stat: false });
        Structure { spaces, params }
    }

    /// Host copies of every parameter and running statistic, named as in [`ResNet::structure`].
    pub fn to_params(&self) -> ParamMap {
        let mut m = ParamMap::new();
        conv_params(&mut m, "stem", &self.stem);
        bn_params(&mut m, "stem_bn", &self.stem_bn);
        for (b, block) in self.blocks.iter().enumerate() {
            let l = format!("blocks.{b}");
            conv_params(&mut m, &format!("{l}.conv1"), &block.conv1);
            bn_params(&mut m, &format!("{l}.bn1"), &block.bn1);
            conv_params(&mut m, &format!("{l}.conv2"), &block.conv2);
            bn_params(&mut m, &format!("{l}.bn2"), &block.bn2);
            if let Some(p) = &block.shortcut {
                conv_params(&mut m, &format!("{l}.shortcut.conv"), &p.conv);
                bn_params(&mut m, &format!("{l}.shortcut.bn"), &p.bn);
            }
        }
        m.insert("head.weight".into(), tensor_to_array(self.head.weight.val()));
        if let Some(b) = &self.head.bias {
            m.insert("head.bias".into(), tensor_to_array(b.val()));
        }
        m
    }

    /// A copy with the parameters found in `params` replaced (others kept). Panics on a shape
    /// mismatch.
    pub fn with_params(&self, params: &ParamMap) -> ResNet {
        let mut out = self.clone();
        set_conv(&mut out.stem, "stem", params);
        set_bn(&mut out.stem_bn, "stem_bn", params);
        for (b, block) in out.blocks.iter_mut().enumerate() {
            let l = format!("blocks.{b}");
            set_conv(&mut block.conv1, &format!("{l}.conv1"), params);
            set_bn(&mut block.bn1, &format!("{l}.bn1"), params);
            set_conv(&mut block.conv2, &format!("{l}.conv2"), params);
            set_bn(&mut block.bn2, &format!("{l}.bn2"), params);
            if let Some(p) = &mut block.shortcut {
                set_conv(&mut p.conv, &format!("{l}.shortcut.conv"), params);
                set_bn(&mut p.bn, &format!("{l}.shortcut.bn"), params);
            }
        }
        if let Some(a) = params.get("head.weight") {
            out.head.weight = replace_param(&out.head.weight, a);
        }
        if let (Some(b), Some(a)) = (out.head.bias.as_mut(), params.get("head.bias")) {
            *b = replace_param(b, a);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::align::{PermSpec, apply_perms, random_perms};
    use crate::testing::{max_abs_diff, random_images, with_random_batch_norms};

    /// A net whose BatchNorms hold random statistics and affine maps, so that permuting them is
    /// not trivially harmless.
    fn randomised(cfg: &ResNetConfig, seed: u64) -> ResNet {
        with_random_batch_norms(&cfg.init(&Device::flex(), seed).unwrap(), seed + 100)
    }

    #[test]
    fn resnet20_has_the_published_shape() {
        let net = ResNetConfig::default().init(&Device::flex(), 0).unwrap();
        assert_eq!(net.blocks.len(), 9);
        assert_eq!(net.blocks.iter().filter(|b| b.shortcut.is_some()).count(), 2, "projections at the two stage transitions");
        // 0.27 M trainable parameters (He et al.): 270,256 conv weights, 1,568 BatchNorm γ and β,
        // 650 in the classifier; burn's count adds the 1,568 running means and variances.
        assert_eq!(net.num_params(), 272_474 + 1_568);
        let y = net.forward(random_images(&Device::flex(), 2, 3, 32, 1));
        assert_eq!(y.dims(), [2, 10]);
    }

    #[test]
    fn the_structure_has_one_space_per_stream_and_one_per_block() {
        let net = ResNetConfig::new(2, 0.5).init(&Device::flex(), 0).unwrap();
        let s = net.structure();
        let names: Vec<&str> = s.spaces.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names.iter().filter(|n| n.starts_with("stage")).count(), 3);
        assert_eq!(names.iter().filter(|n| n.ends_with(".inner")).count(), 6);
        // every block of stage 0 writes into the stem's stream
        let stream0 = s.spaces.iter().position(|x| x.name == "stage0").unwrap();
        for b in 0..2 {
            assert_eq!(s.param(&format!("blocks.{b}.conv2.weight")).unwrap().axes[0], (0, stream0));
        }
        // and every parameter of the model is described
        let described: std::collections::BTreeSet<&str> = s.params.iter().map(|p| p.name.as_str()).collect();
        for name in net.to_params().keys() {
            assert!(described.contains(name.as_str()), "{name} missing from the structure");
        }
    }

    #[test]
    fn permuting_every_stream_and_block_by_the_derived_spec_leaves_the_function_unchanged() {
        let cfg = ResNetConfig::new(2, 0.5);
        let net = randomised(&cfg, 3);
        let spec = PermSpec::from_structure(&net.structure()).unwrap();
        let perms = random_perms(&spec, &mut StdRng::seed_from_u64(4));
        assert!(perms.iter().any(|p| !p.is_identity()));
        let permuted = net.with_params(&apply_perms(&net.to_params(), &spec, &perms).unwrap());
        assert_ne!(permuted.to_params(), net.to_params());
        let x = random_images(&Device::flex(), 3, 3, 32, 5);
        let (y, yp) = (net.forward(x.clone()), permuted.forward(x));
        let err = max_abs_diff(y.clone(), yp) / y.abs().max().into_scalar::<f32>();
        assert!(err < 1e-4, "permuted net differs by {err} (relative)");
    }

    #[test]
    fn without_strides_the_flipped_resnet_computes_f_of_the_flipped_image() {
        let net = randomised(&ResNetConfig::new(1, 0.5).strided(false), 6);
        let x = random_images(&Device::flex(), 2, 3, 32, 7);
        let y = net.forward(D4::HFLIP.apply(x.clone()));
        let yf = net.flipped().forward(x);
        let err = max_abs_diff(y.clone(), yf) / y.abs().max().into_scalar::<f32>();
        assert!(err < 1e-4, "stride-1 flipped ResNet differs by {err} (relative)");
    }

    #[test]
    fn with_strides_the_flipped_resnet_is_only_close_to_f_of_the_flipped_image() {
        // Deviation of the flipped net from f∘hflip, against the deviation of f itself from
        // f∘hflip: the strided grid makes the first nonzero, but it stays well below the second.
        let net = randomised(&ResNetConfig::new(1, 0.5), 8);
        let x = random_images(&Device::flex(), 4, 3, 32, 9);
        let target = net.forward(D4::HFLIP.apply(x.clone()));
        let scale = target.clone().abs().max().into_scalar::<f32>();
        let flipped_dev = max_abs_diff(target.clone(), net.flipped().forward(x.clone())) / scale;
        let plain_dev = max_abs_diff(target, net.forward(x)) / scale;
        eprintln!("strided ResNet, random weights: flipped net vs f∘hflip {flipped_dev:.4}, f vs f∘hflip {plain_dev:.4} (max-abs, relative)");
        assert!(flipped_dev > 1e-5, "a strided flipped ResNet is not exact ({flipped_dev})");
        assert!(flipped_dev < plain_dev, "flipped deviation {flipped_dev} vs unflipped {plain_dev}");
    }
}
