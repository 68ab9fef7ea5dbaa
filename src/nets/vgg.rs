//! VGG11 with a width multiplier and optional BatchNorm (REPAIR's CIFAR-10 variant).
//!
//! Layer plan `[64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M] × width`: each number is a
//! 3×3 convolution (stride 1, padding 1, with bias), optionally followed by BatchNorm, then ReLU;
//! `M` is a 2×2 max-pool. After five pools a 32×32 input is 1×1, flattened into `Linear(c, classes)`.
//! Eight convolutions and one linear layer.
//!
//! Fashion-MNIST (1×28×28) is zero-padded to 32×32 by the data pipeline rather than changing the
//! pooling, so that one architecture serves both datasets and the flip identity stays exact.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::init::ParamInit;
use super::network::ForwardHooks;
use super::params::{ParamMap, replace_param, tensor_to_array};
use super::structure::{HiddenSpace, LayerKind, ParamAxes, Structure};
use crate::group::D4;
use burn::module::RunningState;

/// VGG11's layer plan: `Some(c)` = 3×3 conv with `c` channels at width 1, `None` = 2×2 max-pool.
pub const VGG11_CFG: [Option<usize>; 13] =
    [Some(64), None, Some(128), None, Some(256), Some(256), None, Some(512), Some(512), None, Some(512), Some(512), None];

/// Invalid VGG configuration.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VggError {
    /// The width multiplier must be a positive finite number.
    #[error("width multiplier must be a positive finite number, got {0}")]
    BadWidth(f64),
    /// At least one class and one input channel are needed.
    #[error("need at least one class and one input channel (classes {classes}, input channels {in_channels})")]
    Empty { classes: usize, in_channels: usize },
}

/// Configuration of a [`Vgg`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VggConfig {
    /// Width multiplier applied to every conv's channel count (rounded, at least 1). Default 1.
    pub width: f64,
    /// BatchNorm after each convolution. Default false (REPAIR's plain VGG11).
    pub batch_norm: bool,
    /// Number of output classes. Default 10.
    pub num_classes: usize,
    /// Input channels (3 for CIFAR-10, 1 for Fashion-MNIST). Default 3.
    pub in_channels: usize,
}

impl Default for VggConfig {
    fn default() -> Self {
        Self { width: 1.0, batch_norm: false, num_classes: 10, in_channels: 3 }
    }
}

impl VggConfig {
    /// VGG11 at the given width, without BatchNorm, for 10 RGB classes.
    pub fn vgg11(width: f64) -> Self {
        Self { width, ..Self::default() }
    }

    /// With or without BatchNorm.
    pub fn with_batch_norm(mut self, batch_norm: bool) -> Self {
        self.batch_norm = batch_norm;
        self
    }

    /// Check the hyperparameters.
    pub fn validate(&self) -> Result<(), VggError> {
        if !(self.width.is_finite() && self.width > 0.0) {
            return Err(VggError::BadWidth(self.width));
        }
        if self.num_classes == 0 || self.in_channels == 0 {
            return Err(VggError::Empty { classes: self.num_classes, in_channels: self.in_channels });
        }
        Ok(())
    }

    /// Output channels of the eight convolutions after applying the width multiplier.
    pub fn conv_channels(&self) -> Vec<usize> {
        VGG11_CFG.iter().flatten().map(|&c| ((c as f64 * self.width).round() as usize).max(1)).collect()
    }

    /// For each conv, whether a 2×2 max-pool follows it.
    pub fn pool_after(&self) -> Vec<bool> {
        let mut out = Vec::new();
        for (i, layer) in VGG11_CFG.iter().enumerate() {
            if layer.is_some() {
                out.push(matches!(VGG11_CFG.get(i + 1), Some(None)));
            }
        }
        out
    }

    /// A freshly initialised network, drawn on the host from `seed`.
    ///
    /// torchvision's VGG initialisation: conv weights Kaiming-normal (fan-out, ReLU gain,
    /// std = √(2 / (9·C_out))), conv biases 0, classifier weights N(0, 0.01²), bias 0. PyTorch's
    /// layer default (uniform ±1/√fan_in) shrinks the signal by about √6 per layer, and a
    /// BatchNorm-free VGG11 then sits at chance for several epochs — too long for short presets.
    pub fn init(&self, device: &Device, seed: u64) -> Result<Vgg, VggError> {
        self.init_with_gain(device, seed, 1.0)
    }

    /// As [`VggConfig::init`], with every conv weight's standard deviation multiplied by `gain`.
    pub fn init_with_gain(&self, device: &Device, seed: u64, gain: f64) -> Result<Vgg, VggError> {
        self.validate()?;
        let mut rng = ParamInit::new(seed);
        let channels = self.conv_channels();
        let mut convs = Vec::with_capacity(channels.len());
        let mut norms = Vec::new();
        let mut c_in = self.in_channels;
        for &c_out in &channels {
            let std = gain * (2.0 / (9.0 * c_out as f64)).sqrt();
            convs.push(Conv2d {
                weight: rng.normal([c_out, c_in, 3, 3], std, device),
                bias: Some(rng.zeros([c_out], device)),
                stride: [1, 1],
                kernel_size: [3, 3],
                dilation: [1, 1],
                groups: 1,
                padding: PaddingConfig2d::Explicit(1, 1, 1, 1),
            });
            if self.batch_norm {
                norms.push(BatchNormConfig::new(c_out).init(device));
            }
            c_in = c_out;
        }
        let head = Linear { weight: rng.normal([c_in, self.num_classes], 0.01, device), bias: Some(rng.zeros([self.num_classes], device)) };
        Ok(Vgg { convs, norms, head, pool: MaxPool2dConfig::new([2, 2]).init(), pool_after: self.pool_after() })
    }
}

/// VGG network. Shapes: input `[N, C_in, 32, 32]` → logits `[N, classes]`.
#[derive(Module, Debug)]
pub struct Vgg {
    /// The eight 3×3 convolutions; weight `[C_out, C_in, 3, 3]`, bias `[C_out]`.
    pub convs: Vec<Conv2d>,
    /// One BatchNorm per conv, or empty for the plain VGG.
    pub norms: Vec<BatchNorm>,
    /// Classifier; weight `[C_last, classes]` (burn's row layout), bias `[classes]`.
    pub head: Linear,
    pool: MaxPool2d,
    #[module(skip)]
    pool_after: Vec<bool>,
}

impl Vgg {
    // ANCHOR: vgg_forward
    /// Logits for a batch of images. `[N, C_in, H, W] → [N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = x;
        for i in 0..self.convs.len() {
            x = self.block(i, x);
        }
        self.classify(x)
    }

    /// Run blocks `0..=last` on `x`, calling `visit(i, pre, post)` with block `i`'s pre-activation
    /// (conv + BN) and post-ReLU (before pooling) maps; returns block `last`'s output (pooled).
    pub fn forward_inspect(&self, x: Tensor<4>, last: usize, mut visit: impl FnMut(usize, &Tensor<4>, &Tensor<4>)) -> Tensor<4> {
        let mut x = x;
        for i in 0..=last.min(self.convs.len() - 1) {
            let pre = self.pre_activation(i, x);
            let post = relu(pre.clone());
            visit(i, &pre, &post);
            x = if self.pool_after[i] { self.pool.forward(post) } else { post };
        }
        x
    }

    /// Logits, reporting block `i`'s pre-activation and ReLU as tap `i` and routing every
    /// BatchNorm (named `norms.i`) through `hooks` (see [`crate::nets::Network::forward_hooked`]).
    /// `[N, C_in, H, W] → [N, classes]`.
    pub fn forward_hooked(&self, x: Tensor<4>, hooks: &mut dyn ForwardHooks) -> Tensor<2> {
        let mut x = x;
        for i in 0..self.convs.len() {
            let z = self.convs[i].forward(x);
            let pre = match self.norms.get(i) {
                Some(bn) => hooks.batch_norm(&format!("norms.{i}"), bn, z),
                None => z,
            };
            let post = relu(pre.clone());
            hooks.tap(i, &pre, &post);
            x = self.pool_if_after(i, post);
        }
        self.classify(x)
    }

    /// The 2×2 max-pool that follows block `i`, if any.
    pub fn pool_if_after(&self, i: usize, x: Tensor<4>) -> Tensor<4> {
        if self.pool_after[i] { self.pool.forward(x) } else { x }
    }

    /// Conv block `i`: conv → BN (if any) → ReLU → pool (if one follows). `[N, C, H, W] → [N, C', H', W']`.
    pub fn block(&self, i: usize, x: Tensor<4>) -> Tensor<4> {
        let x = relu(self.pre_activation(i, x));
        if self.pool_after[i] { self.pool.forward(x) } else { x }
    }

    /// Conv `i` followed by its BatchNorm, before the ReLU. `[N, C, H, W] → [N, C', H, W]`.
    pub fn pre_activation(&self, i: usize, x: Tensor<4>) -> Tensor<4> {
        let z = self.convs[i].forward(x);
        match self.norms.get(i) {
            Some(bn) => bn.forward(z),
            None => z,
        }
    }

    // ANCHOR_END: vgg_forward

    /// Flatten a `[N, C, 1, 1]` map and apply the classifier. `→ [N, classes]`.
    pub fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        let [n, c, h, w] = x.dims();
        self.head.forward(x.reshape([n, c * h * w]))
    }

    /// The same function in inference mode with every BatchNorm folded into the convolution
    /// before it: per output channel, with `s = γ / √(σ² + ε)` (running variance σ², running
    /// mean μ),
    ///
    /// ```text
    /// BN(W * x + b) = s·(W * x + b − μ) + β = (s·W) * x + (s·(b − μ) + β)
    /// ```
    ///
    /// so the copy's convolutions carry `W' = s·W`, `b' = s·(b − μ) + β` and it has no BatchNorm
    /// layers; its pre-activation at each tap is the BatchNorm's output. A VGG without BatchNorm
    /// is returned as [`Module::valid`] gives it. No autodiff.
    pub fn with_batch_norm_folded(&self) -> Vgg {
        let mut out = Module::valid(self);
        let norms = std::mem::take(&mut out.norms);
        for (conv, bn) in out.convs.iter_mut().zip(&norms) {
            let c = bn.gamma.dims()[0];
            let scale = bn.gamma.val() / (bn.running_var.value() + bn.epsilon).sqrt();
            let bias = match &conv.bias {
                Some(b) => b.val(),
                None => Tensor::zeros([c], &bn.gamma.val().device()),
            };
            let folded_bias = (bias - bn.running_mean.value()) * scale.clone() + bn.beta.val();
            conv.weight = conv.weight.clone().map(|w| w * scale.reshape([c, 1, 1, 1]));
            conv.bias = Some(Param::from_tensor(folded_bias));
        }
        out
    }

    /// Whether the network has BatchNorm layers.
    pub fn has_batch_norm(&self) -> bool {
        !self.norms.is_empty()
    }

    /// Output channels of each convolution.
    pub fn conv_channels(&self) -> Vec<usize> {
        self.convs.iter().map(|c| c.weight.dims()[0]).collect()
    }

    /// For each conv, whether a 2×2 max-pool follows it.
    pub fn pools(&self) -> &[bool] {
        &self.pool_after
    }

    /// The network with every kernel transformed by `g` — for VGG on 32×32 inputs this computes
    /// exactly `x ↦ f(g·x)` (see [`crate::group`]); the flipped network is `transformed(D4::HFLIP)`.
    ///
    /// The classifier sees a 1×1 map, on which every spatial symmetry acts trivially.
    // ANCHOR: flipped
    pub fn transformed(&self, g: D4) -> Vgg {
        let mut out = self.clone();
        for conv in &mut out.convs {
            conv.weight = conv.weight.clone().map(|w| g.inverse().apply(w));
        }
        out
    }

    /// The horizontally flipped network `x ↦ f(hflip x)`.
    pub fn flipped(&self) -> Vgg {
        self.transformed(D4::HFLIP)
    }
    // ANCHOR_END: flipped

    /// Which axes of which parameters carry each hidden channel space (one per conv output).
    pub fn structure(&self) -> Structure {
        let mut spaces = Vec::new();
        let mut params = Vec::new();
        let p =
            |name: String, layer: &str, kind, axes: Vec<(usize, usize)>, running_stat| ParamAxes { name, layer: layer.to_string(), kind, axes, running_stat };
        for (i, conv) in self.convs.iter().enumerate() {
            let layer = format!("convs.{i}");
            spaces.push(HiddenSpace { name: format!("conv{i}"), size: conv.weight.dims()[0], producer: format!("{layer}.weight"), block: i });
            let mut w_axes = vec![(0, i)];
            if i > 0 {
                w_axes.push((1, i - 1));
            }
            params.push(p(format!("{layer}.weight"), &layer, LayerKind::Conv, w_axes, false));
            params.push(p(format!("{layer}.bias"), &layer, LayerKind::Conv, vec![(0, i)], false));
            if self.has_batch_norm() {
                let layer = format!("norms.{i}");
                for (name, running) in [("gamma", false), ("beta", false), ("running_mean", true), ("running_var", true)] {
                    params.push(p(format!("{layer}.{name}"), &layer, LayerKind::BatchNorm, vec![(0, i)], running));
                }
            }
        }
        let last = self.convs.len() - 1;
        params.push(p("head.weight".into(), "head", LayerKind::Linear, vec![(0, last)], false));
        params.push(p("head.bias".into(), "head", LayerKind::Linear, vec![], false));
        Structure { spaces, params }
    }

    /// Host copies of every parameter and running statistic, named as in [`Vgg::structure`].
    pub fn to_params(&self) -> ParamMap {
        let mut m = ParamMap::new();
        for (i, conv) in self.convs.iter().enumerate() {
            m.insert(format!("convs.{i}.weight"), tensor_to_array(conv.weight.val()));
            if let Some(b) = &conv.bias {
                m.insert(format!("convs.{i}.bias"), tensor_to_array(b.val()));
            }
        }
        for (i, bn) in self.norms.iter().enumerate() {
            m.insert(format!("norms.{i}.gamma"), tensor_to_array(bn.gamma.val()));
            m.insert(format!("norms.{i}.beta"), tensor_to_array(bn.beta.val()));
            m.insert(format!("norms.{i}.running_mean"), tensor_to_array(bn.running_mean.value_sync()));
            m.insert(format!("norms.{i}.running_var"), tensor_to_array(bn.running_var.value_sync()));
        }
        m.insert("head.weight".into(), tensor_to_array(self.head.weight.val()));
        if let Some(b) = &self.head.bias {
            m.insert("head.bias".into(), tensor_to_array(b.val()));
        }
        m
    }

    /// This network with parameters replaced by those in `params` (missing names keep their values).
    ///
    /// Panics if a given array has the wrong shape.
    pub fn with_params(&self, params: &ParamMap) -> Vgg {
        let mut out = self.clone();
        let get = |name: String, dims: &[usize]| {
            params.get(&name).inspect(|a| {
                assert_eq!(a.shape(), dims, "parameter {name} has shape {:?}, the network needs {dims:?}", a.shape());
            })
        };
        for (i, conv) in out.convs.iter_mut().enumerate() {
            if let Some(a) = get(format!("convs.{i}.weight"), &conv.weight.dims()) {
                conv.weight = replace_param(&conv.weight, a);
            }
            if let Some(b) = conv.bias.as_mut()
                && let Some(a) = get(format!("convs.{i}.bias"), &b.dims())
            {
                *b = replace_param(b, a);
            }
        }
        for (i, bn) in out.norms.iter_mut().enumerate() {
            let dims = bn.gamma.dims();
            if let Some(a) = get(format!("norms.{i}.gamma"), &dims) {
                bn.gamma = replace_param(&bn.gamma, a);
            }
            if let Some(a) = get(format!("norms.{i}.beta"), &dims) {
                bn.beta = replace_param(&bn.beta, a);
            }
            let device = bn.gamma.val().device();
            if let Some(a) = get(format!("norms.{i}.running_mean"), &dims) {
                bn.running_mean = RunningState::new(super::params::array_to_tensor(a, &device));
            }
            if let Some(a) = get(format!("norms.{i}.running_var"), &dims) {
                bn.running_var = RunningState::new(super::params::array_to_tensor(a, &device));
            }
        }
        if let Some(a) = get("head.weight".into(), &self.head.weight.dims()) {
            out.head.weight = replace_param(&out.head.weight, a);
        }
        if let Some(b) = out.head.bias.as_mut()
            && let Some(a) = get("head.bias".into(), &b.dims())
        {
            *b = replace_param(b, a);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{max_abs_diff, random_images};

    #[test]
    fn width_multiplier_rounds_channels_and_keeps_at_least_one() {
        assert_eq!(VggConfig::vgg11(1.0).conv_channels(), vec![64, 128, 256, 256, 512, 512, 512, 512]);
        assert_eq!(VggConfig::vgg11(0.25).conv_channels(), vec![16, 32, 64, 64, 128, 128, 128, 128]);
        assert_eq!(VggConfig::vgg11(0.001).conv_channels(), vec![1; 8]);
        assert_eq!(VggConfig::vgg11(0.0).validate(), Err(VggError::BadWidth(0.0)));
        assert!(VggConfig::vgg11(f64::NAN).validate().is_err());
        assert_eq!(VggConfig::vgg11(1.0).pool_after(), vec![true, true, false, true, false, true, false, true]);
    }

    #[test]
    fn vgg11_maps_images_to_logits() {
        let device = Device::flex();
        for bn in [false, true] {
            let cfg = VggConfig { in_channels: 1, num_classes: 7, ..VggConfig::vgg11(0.125) }.with_batch_norm(bn);
            let net = cfg.init(&device, 0).unwrap();
            assert_eq!(net.forward(random_images(&device, 3, 1, 32, 1)).dims(), [3, 7]);
        }
    }

    #[test]
    fn same_seed_gives_identical_initial_weights() {
        let device = Device::flex();
        let a = VggConfig::vgg11(0.125).init(&device, 7).unwrap();
        let b = VggConfig::vgg11(0.125).init(&device, 7).unwrap();
        let c = VggConfig::vgg11(0.125).init(&device, 8).unwrap();
        let w = |n: &Vgg| n.convs[3].weight.val();
        assert_eq!(max_abs_diff(w(&a), w(&b)), 0.0);
        assert!(max_abs_diff(w(&a), w(&c)) > 0.0);
    }

    #[test]
    fn params_round_trip_through_the_host() {
        let device = Device::flex();
        for bn in [false, true] {
            let a = VggConfig::vgg11(0.125).with_batch_norm(bn).init(&device, 1).unwrap();
            let b = VggConfig::vgg11(0.125).with_batch_norm(bn).init(&device, 2).unwrap();
            let moved = b.with_params(&a.to_params());
            assert_eq!(moved.to_params(), a.to_params());
            let x = random_images(&device, 2, 3, 32, 5);
            assert_eq!(max_abs_diff(moved.forward(x.clone()), a.forward(x)), 0.0);
            let s = a.structure();
            let names: Vec<_> = s.params.iter().map(|p| p.name.clone()).collect();
            assert_eq!(names.len(), a.to_params().len());
            assert!(names.iter().all(|n| a.to_params().contains_key(n)));
        }
    }

    /// Folding every BatchNorm into its convolution keeps the function: the same logits and, at
    /// every block, the folded convolution's output is the BatchNorm's (up to rounding), for
    /// random running statistics and affine maps. A plain VGG is returned as it is.
    #[test]
    fn folding_batch_norm_into_the_convolutions_keeps_logits_and_pre_activations() {
        use crate::testing::{relative_diff, with_random_batch_norms};
        let device = Device::flex();
        for seed in 0..3u64 {
            let net = with_random_batch_norms(&VggConfig::vgg11(0.125).with_batch_norm(true).init(&device, seed).unwrap(), seed + 7).valid();
            let folded = net.with_batch_norm_folded();
            assert!(net.has_batch_norm() && !folded.has_batch_norm());
            let x = random_images(&device, 4, 3, 32, seed + 20);
            let mut pre = Vec::new();
            net.forward_inspect(x.clone(), 7, |_, p, _| pre.push(p.clone()));
            let mut i = 0;
            folded.forward_inspect(x.clone(), 7, |_, p, _| {
                let err = relative_diff(pre[i].clone(), p.clone());
                assert!(err < 1e-5, "seed {seed}, block {i}: relative error {err}");
                i += 1;
            });
            assert_eq!(i, 8);
            let err = relative_diff(net.forward(x.clone()), folded.forward(x));
            assert!(err < 1e-5, "seed {seed}: logits differ by {err}");
        }
        let plain = VggConfig::vgg11(0.125).init(&device, 5).unwrap();
        assert_eq!(plain.with_batch_norm_folded().to_params(), plain.to_params());
    }

    /// The paper's exact fact: VGG with every kernel flipped computes f(hflip x); likewise every
    /// symmetry of the square (the 1×1 map before the classifier makes it exact).
    #[test]
    fn flipped_vgg_computes_f_of_flipped_input() {
        let device = Device::flex();
        for (seed, bn) in [(1u64, false), (2, true), (3, false)] {
            let net = VggConfig::vgg11(0.25).with_batch_norm(bn).init(&device, seed).unwrap();
            let x = random_images(&device, 4, 3, 32, seed + 10);
            let scale = net.forward(x.clone()).abs().max().into_scalar::<f32>().max(1e-3);
            for g in D4::all() {
                let lhs = net.transformed(g).forward(x.clone());
                let rhs = net.forward(g.apply(x.clone()));
                let err = max_abs_diff(lhs, rhs) / scale;
                assert!(err < 1e-5, "element {g}, bn {bn}: relative error {err}");
            }
        }
    }
}
