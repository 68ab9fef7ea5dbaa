//! ResNet50 as torchvision builds it (`torchvision.models.resnet50`, the "V1.5" variant with the
//! stride on the 3×3 conv), with a width multiplier, a classes count and a blocks-per-stage count
//! for tests. The defaults are torchvision's: width 1, 1000 classes, stages `[3, 4, 6, 3]`.
//!
//! ```text
//! layer plan (width w, c(x) = max(1, round(x·w)); sizes for a 224×224 input)
//! stem     conv1 7×7 stride 2 pad 3, c(64), no bias → bn1 → ReLU              112×112
//!          max-pool 3×3 stride 2 pad 1                                           56×56
//! layer1   3 bottlenecks, inner c(64),  out 4·c(64)   (stride 1)                 56×56
//! layer2   4 bottlenecks, inner c(128), out 4·c(128)  (first: stride 2)          28×28
//! layer3   6 bottlenecks, inner c(256), out 4·c(256)  (first: stride 2)          14×14
//! layer4   3 bottlenecks, inner c(512), out 4·c(512)  (first: stride 2)           7×7
//! head     global average pool → fc: Linear(4·c(512), classes)                  [N, classes]
//!
//! bottleneck (input C_in, inner C, output 4C, stride s):
//!   conv1 1×1 C_in→C → bn1 → ReLU                      (inner space 1)
//!   conv2 3×3 C→C, stride s, pad 1 → bn2 → ReLU         (inner space 2)
//!   conv3 1×1 C→4C → bn3, + shortcut, → ReLU            (the stage's residual stream)
//!   shortcut: identity, or on each stage's first block downsample = 1×1 conv C_in→4C stride s
//!             (no bias) → BN (torchvision's `downsample.0`, `downsample.1`)
//! ```
//!
//! Every conv has no bias (a BatchNorm follows each); BatchNorm ε = 1e-5 as in PyTorch.
//!
//! # Parameter names
//!
//! As torchvision's state dict, except that BatchNorm's `weight`/`bias` are burn's
//! `gamma`/`beta` and the classifier weight is burn's `[in, out]` (torch: `[out, in]`):
//! `conv1.weight`, `bn1.{gamma,beta,running_mean,running_var}`, `layerK.i.convJ.weight`,
//! `layerK.i.bnJ.*`, `layerK.0.downsample.0.weight`, `layerK.0.downsample.1.*`,
//! `fc.{weight,bias}`. [`super::torchvision`] maps torchvision files onto these names.
//!
//! # Hidden spaces
//!
//! Derived from the modules (never written per block): the stem's output (`stem`, read by
//! layer1's first block and its downsample), one residual stream per stage (`layerK`, written by
//! the downsample and by every block's `conv3`/`bn3`, read by every block's `conv1`, the next
//! stage's downsample and the classifier), and two inner spaces per block (`layerK.i.inner1`,
//! `layerK.i.inner2`). Tap points: the stem (after its ReLU, before the max-pool), then per block
//! its two inner spaces and its output into the stream.
//!
//! # The flipped network
//!
//! [`ResNet50::flipped`] flips every kernel. A stride-2 layer (kernel k, padding p) on a width W
//! with W + 2p − k odd samples columns whose mirror images are not sampled, so on torchvision's
//! 224×224 input the flipped network computes `f(hflip x)` only approximately. Where every
//! stride-2 layer sees an odd width (inputs of width 32m + 1, e.g. 33 or 225) or there are no
//! strides ([`ResNet50Config::strided`]`(false)`: stride 1 everywhere, the max-pool kept at
//! stride 1), the flipped network is exact; the tests pin both and bound the 224-style case.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::init::ParamInit;
use super::network::{ForwardHooks, NoHooks, TapPoint};
use super::params::{ParamMap, replace_param, tensor_to_array};
use super::resnet::{batch_norm_axes, bn_params, conv_axes, conv_params, set_bn, set_conv};
use super::structure::{HiddenSpace, LayerKind, ParamAxes, Structure};
use super::vgg::VggError;
use crate::group::D4;

/// Inner widths of the four stages at width 1 (outputs are 4× these).
pub const RESNET50_INNER: [usize; 4] = [64, 128, 256, 512];
/// Bottleneck expansion: a block's output has 4× its inner width.
pub const EXPANSION: usize = 4;

/// Configuration of a [`ResNet50`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResNet50Config {
    /// Bottleneck blocks per stage. Default `[3, 4, 6, 3]` (ResNet50).
    pub blocks: [usize; 4],
    /// Width multiplier on the stem's 64 and the stages' 64/128/256/512 inner channels (rounded,
    /// at least 1). Default 1.
    pub width: f64,
    /// Number of output classes. Default 1000.
    pub num_classes: usize,
    /// Input channels. Default 3.
    pub in_channels: usize,
    /// torchvision's strides (stem conv, max-pool, first block of layers 2–4). Default true;
    /// false makes every stride 1 (the flipped network is then exact).
    pub strided: bool,
}

impl Default for ResNet50Config {
    fn default() -> Self {
        Self { blocks: [3, 4, 6, 3], width: 1.0, num_classes: 1000, in_channels: 3, strided: true }
    }
}

impl ResNet50Config {
    /// ResNet50 at width `width` for `num_classes` RGB classes.
    pub fn new(width: f64, num_classes: usize) -> Self {
        Self { width, num_classes, ..Self::default() }
    }

    /// With or without torchvision's strides.
    pub fn strided(mut self, strided: bool) -> Self {
        self.strided = strided;
        self
    }

    /// With `blocks` bottlenecks per stage.
    pub fn with_blocks(mut self, blocks: [usize; 4]) -> Self {
        self.blocks = blocks;
        self
    }

    fn scaled(&self, c: usize) -> usize {
        ((c as f64 * self.width).round() as usize).max(1)
    }

    /// Output channels of the stem conv.
    pub fn stem_channels(&self) -> usize {
        self.scaled(64)
    }

    /// Inner channels of the four stages (their outputs are [`EXPANSION`]× these).
    pub fn inner_channels(&self) -> [usize; 4] {
        RESNET50_INNER.map(|c| self.scaled(c))
    }

    /// Check the hyperparameters.
    pub fn validate(&self) -> Result<(), VggError> {
        if !(self.width.is_finite() && self.width > 0.0) {
            return Err(VggError::BadWidth(self.width));
        }
        if self.num_classes == 0 || self.in_channels == 0 || self.blocks.contains(&0) {
            return Err(VggError::Empty { classes: self.num_classes, in_channels: self.in_channels });
        }
        Ok(())
    }

    /// A freshly initialised network drawn on the host from `seed`, as torchvision initialises
    /// it: conv weights Kaiming-normal (fan-out, ReLU gain), BatchNorm γ = 1, β = 0, running
    /// mean 0, variance 1, classifier weight and bias `U(±1/√fan_in)` (PyTorch's Linear default).
    pub fn init(&self, device: &Device, seed: u64) -> Result<ResNet50, VggError> {
        self.validate()?;
        let mut rng = ParamInit::new(seed);
        let mut conv = |c_out: usize, c_in: usize, k: usize, stride: usize| rng.kaiming_conv(c_out, c_in, k, stride, device);
        let bn = |c: usize| BatchNormConfig::new(c).init(device);
        let s2 = if self.strided { 2 } else { 1 };
        let stem = self.stem_channels();
        let conv1 = conv(stem, self.in_channels, 7, s2);
        let mut c_in = stem;
        let mut layers = Vec::with_capacity(4);
        for (k, (&n, &c)) in self.blocks.iter().zip(&self.inner_channels()).enumerate() {
            let mut stage = Vec::with_capacity(n);
            for i in 0..n {
                let stride = if k > 0 && i == 0 { s2 } else { 1 };
                let out = EXPANSION * c;
                let downsample = (i == 0 && (stride != 1 || c_in != out)).then(|| Downsample { conv: conv(out, c_in, 1, stride), bn: bn(out) });
                stage.push(Bottleneck {
                    conv1: conv(c, c_in, 1, 1),
                    bn1: bn(c),
                    conv2: conv(c, c, 3, stride),
                    bn2: bn(c),
                    conv3: conv(out, c, 1, 1),
                    bn3: bn(out),
                    downsample,
                });
                c_in = out;
            }
            layers.push(stage);
        }
        let fc = Linear { weight: rng.torch_default([c_in, self.num_classes], c_in, device), bias: Some(rng.torch_default([self.num_classes], c_in, device)) };
        let maxpool = MaxPool2dConfig::new([3, 3]).with_strides([s2, s2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init();
        Ok(ResNet50 { conv1, bn1: bn(stem), maxpool, layers, fc })
    }
}

/// A projection shortcut (torchvision's `downsample`): 1×1 conv (stride 1 or 2) → BatchNorm.
#[derive(Module, Debug)]
pub struct Downsample {
    /// `downsample.0`: weight `[4C, C_in, 1, 1]`.
    pub conv: Conv2d,
    /// `downsample.1`: BatchNorm over `4C`.
    pub bn: BatchNorm,
}

/// A bottleneck block: `[N, C_in, H, W] → [N, 4C, H/s, W/s]`.
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// 1×1 conv, weight `[C, C_in, 1, 1]`.
    pub conv1: Conv2d,
    /// BatchNorm after `conv1`.
    pub bn1: BatchNorm,
    /// 3×3 conv (stride s), weight `[C, C, 3, 3]`.
    pub conv2: Conv2d,
    /// BatchNorm after `conv2`.
    pub bn2: BatchNorm,
    /// 1×1 conv, weight `[4C, C, 1, 1]`.
    pub conv3: Conv2d,
    /// BatchNorm after `conv3`.
    pub bn3: BatchNorm,
    /// Projection shortcut (first block of a stage), else the identity.
    pub downsample: Option<Downsample>,
}

/// torchvision's ResNet50. Shapes: input `[N, C_in, H, W]` (224×224 for ImageNet) → logits
/// `[N, classes]`. See the module docs for the layer plan.
#[derive(Module, Debug)]
pub struct ResNet50 {
    /// Stem 7×7 conv, weight `[c(64), C_in, 7, 7]`.
    pub conv1: Conv2d,
    /// BatchNorm after the stem.
    pub bn1: BatchNorm,
    maxpool: MaxPool2d,
    /// The four stages (`layer1` … `layer4`), each a list of bottlenecks.
    pub layers: Vec<Vec<Bottleneck>>,
    /// Classifier; weight `[4·c(512), classes]` (burn's row layout), bias `[classes]`.
    pub fc: Linear,
}

/// Where one bottleneck's channels live: indices into [`Structure::spaces`].
struct BlockSpaces {
    /// Its name prefix, `layerK.i`.
    name: String,
    /// The space it reads (the stem's, or the previous stage's stream).
    input: usize,
    /// Its first and second inner spaces.
    inner: [usize; 2],
    /// The stream it writes (a new one starts at each block with a downsample).
    stream: usize,
}

impl ResNet50 {
    /// Logits `[N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_hooked(x, &mut NoHooks)
    }

    /// Every block with its name, stage by stage.
    fn blocks(&self) -> impl Iterator<Item = (String, &Bottleneck)> {
        self.layers.iter().enumerate().flat_map(|(k, stage)| stage.iter().enumerate().map(move |(i, b)| (format!("layer{}.{i}", k + 1), b)))
    }

    /// The hidden spaces of every block, derived from where the downsamples are; space 0 is
    /// the stem's. Returns the blocks' spaces and the number of spaces.
    fn plan(&self) -> (Vec<BlockSpaces>, usize) {
        let (mut n, mut stream) = (1usize, 0usize);
        let mut out = Vec::new();
        for (name, b) in self.blocks() {
            let input = stream;
            if b.downsample.is_some() {
                stream = n;
                n += 1;
            }
            out.push(BlockSpaces { name, input, inner: [n, n + 1], stream });
            n += 2;
        }
        (out, n)
    }

    /// Logits, reporting every tap point of [`ResNet50::tap_points`] and routing every
    /// BatchNorm (`bn1`, `layerK.i.bnJ`, `layerK.0.downsample.1`) through `hooks`.
    /// `[N, C_in, H, W] → [N, classes]`.
    ///
    /// Taps, in order: the stem (`pre` = `bn1`'s output, before the max-pool), then per block
    /// its two inner spaces (`pre` = `bn1`'s / `bn2`'s output) and its output into the stream
    /// (`pre` = `bn3(conv3(·)) + shortcut`, before the final ReLU).
    pub fn forward_hooked(&self, x: Tensor<4>, hooks: &mut dyn ForwardHooks) -> Tensor<2> {
        let pre = hooks.batch_norm("bn1", &self.bn1, self.conv1.forward(x));
        let post = relu(pre.clone());
        hooks.tap(0, &pre, &post);
        let mut x = self.maxpool.forward(post);
        let mut tap = 1;
        for (l, b) in self.blocks() {
            let z1 = hooks.batch_norm(&format!("{l}.bn1"), &b.bn1, b.conv1.forward(x.clone()));
            let h1 = relu(z1.clone());
            hooks.tap(tap, &z1, &h1);
            let z2 = hooks.batch_norm(&format!("{l}.bn2"), &b.bn2, b.conv2.forward(h1));
            let h2 = relu(z2.clone());
            hooks.tap(tap + 1, &z2, &h2);
            let z3 = hooks.batch_norm(&format!("{l}.bn3"), &b.bn3, b.conv3.forward(h2));
            let skip = match &b.downsample {
                Some(d) => hooks.batch_norm(&format!("{l}.downsample.1"), &d.bn, d.conv.forward(x)),
                None => x,
            };
            let pre = z3 + skip;
            x = relu(pre.clone());
            hooks.tap(tap + 2, &pre, &x);
            tap += 3;
        }
        let [n, c, _, _] = x.dims();
        self.fc.forward(x.mean_dim(3).mean_dim(2).reshape([n, c]))
    }

    /// The tap points of [`ResNet50::forward_hooked`], with the spaces of
    /// [`ResNet50::structure`]: `stem`, then per block `layerK.i.inner1`, `layerK.i.inner2` and
    /// `layerK.i` (its stage's stream).
    pub fn tap_points(&self) -> Vec<TapPoint> {
        let mut taps = vec![TapPoint { name: "stem".into(), space: 0 }];
        for b in self.plan().0 {
            taps.push(TapPoint { name: format!("{}.inner1", b.name), space: b.inner[0] });
            taps.push(TapPoint { name: format!("{}.inner2", b.name), space: b.inner[1] });
            taps.push(TapPoint { name: b.name, space: b.stream });
        }
        taps
    }

    /// Hidden spaces: the stem's, one per stage's residual stream, two per block (see the
    /// module docs); every parameter with the spaces along its axes.
    pub fn structure(&self) -> Structure {
        let size = |c: &Conv2d| c.weight.dims()[0];
        let mut spaces = vec![HiddenSpace { name: "stem".into(), size: size(&self.conv1), producer: "conv1.weight".into(), block: 0 }];
        let mut params = Vec::new();
        conv_axes(&mut params, "conv1", 0, None);
        batch_norm_axes(&mut params, "bn1", 0);
        let (plan, _) = self.plan();
        let mut last = 0;
        for (g, (sp, (_, b))) in plan.iter().zip(self.blocks()).enumerate() {
            let l = &sp.name;
            if let Some(d) = &b.downsample {
                let stage = l.split('.').next().unwrap_or(l);
                spaces.push(HiddenSpace { name: stage.to_string(), size: size(&d.conv), producer: format!("{l}.downsample.0.weight"), block: g + 1 });
            }
            for (j, conv) in [&b.conv1, &b.conv2].into_iter().enumerate() {
                spaces.push(HiddenSpace { name: format!("{l}.inner{}", j + 1), size: size(conv), producer: format!("{l}.conv{}.weight", j + 1), block: g + 1 });
            }
            conv_axes(&mut params, &format!("{l}.conv1"), sp.inner[0], Some(sp.input));
            batch_norm_axes(&mut params, &format!("{l}.bn1"), sp.inner[0]);
            conv_axes(&mut params, &format!("{l}.conv2"), sp.inner[1], Some(sp.inner[0]));
            batch_norm_axes(&mut params, &format!("{l}.bn2"), sp.inner[1]);
            conv_axes(&mut params, &format!("{l}.conv3"), sp.stream, Some(sp.inner[1]));
            batch_norm_axes(&mut params, &format!("{l}.bn3"), sp.stream);
            if b.downsample.is_some() {
                conv_axes(&mut params, &format!("{l}.downsample.0"), sp.stream, Some(sp.input));
                batch_norm_axes(&mut params, &format!("{l}.downsample.1"), sp.stream);
            }
            last = sp.stream;
        }
        params.push(ParamAxes { name: "fc.weight".into(), layer: "fc".into(), kind: LayerKind::Linear, axes: vec![(0, last)], running_stat: false });
        params.push(ParamAxes { name: "fc.bias".into(), layer: "fc".into(), kind: LayerKind::Linear, axes: vec![], running_stat: false });
        Structure { spaces, params }
    }

    /// Host copies of every parameter and running statistic, named as in
    /// [`ResNet50::structure`].
    pub fn to_params(&self) -> ParamMap {
        let mut m = ParamMap::new();
        conv_params(&mut m, "conv1", &self.conv1);
        bn_params(&mut m, "bn1", &self.bn1);
        for (l, b) in self.blocks() {
            for (j, (conv, bn)) in [(&b.conv1, &b.bn1), (&b.conv2, &b.bn2), (&b.conv3, &b.bn3)].into_iter().enumerate() {
                conv_params(&mut m, &format!("{l}.conv{}", j + 1), conv);
                bn_params(&mut m, &format!("{l}.bn{}", j + 1), bn);
            }
            if let Some(d) = &b.downsample {
                conv_params(&mut m, &format!("{l}.downsample.0"), &d.conv);
                bn_params(&mut m, &format!("{l}.downsample.1"), &d.bn);
            }
        }
        m.insert("fc.weight".into(), tensor_to_array(self.fc.weight.val()));
        if let Some(b) = &self.fc.bias {
            m.insert("fc.bias".into(), tensor_to_array(b.val()));
        }
        m
    }

    /// A copy with the parameters found in `params` replaced (others kept). Panics on a shape
    /// mismatch.
    pub fn with_params(&self, params: &ParamMap) -> ResNet50 {
        let mut out = self.clone();
        for (name, a) in params {
            if let Some(own) = self.param_dims(name) {
                assert_eq!(a.shape(), own.as_slice(), "parameter {name} has shape {:?}, the network needs {own:?}", a.shape());
            }
        }
        set_conv(&mut out.conv1, "conv1", params);
        set_bn(&mut out.bn1, "bn1", params);
        for (k, stage) in out.layers.iter_mut().enumerate() {
            for (i, b) in stage.iter_mut().enumerate() {
                let l = format!("layer{}.{i}", k + 1);
                for (j, (conv, bn)) in [(&mut b.conv1, &mut b.bn1), (&mut b.conv2, &mut b.bn2), (&mut b.conv3, &mut b.bn3)].into_iter().enumerate() {
                    set_conv(conv, &format!("{l}.conv{}", j + 1), params);
                    set_bn(bn, &format!("{l}.bn{}", j + 1), params);
                }
                if let Some(d) = &mut b.downsample {
                    set_conv(&mut d.conv, &format!("{l}.downsample.0"), params);
                    set_bn(&mut d.bn, &format!("{l}.downsample.1"), params);
                }
            }
        }
        if let Some(a) = params.get("fc.weight") {
            out.fc.weight = replace_param(&out.fc.weight, a);
        }
        if let (Some(b), Some(a)) = (out.fc.bias.as_mut(), params.get("fc.bias")) {
            *b = replace_param(b, a);
        }
        out
    }

    /// The shape of parameter `name` (as [`ResNet50::to_params`] names it), if it exists.
    pub fn param_dims(&self, name: &str) -> Option<Vec<usize>> {
        let (layer, leaf) = name.rsplit_once('.')?;
        let conv = |c: &Conv2d| (leaf == "weight").then(|| c.weight.dims().to_vec());
        let bn = |b: &BatchNorm| matches!(leaf, "gamma" | "beta" | "running_mean" | "running_var").then(|| b.gamma.dims().to_vec());
        match layer {
            "conv1" => return conv(&self.conv1),
            "bn1" => return bn(&self.bn1),
            "fc" => {
                return match leaf {
                    "weight" => Some(self.fc.weight.dims().to_vec()),
                    "bias" => self.fc.bias.as_ref().map(|b| b.dims().to_vec()),
                    _ => None,
                };
            }
            _ => {}
        }
        let rest = layer.strip_prefix("layer")?;
        let mut parts = rest.splitn(3, '.');
        let k: usize = parts.next()?.parse().ok()?;
        let i: usize = parts.next()?.parse().ok()?;
        let b = self.layers.get(k.checked_sub(1)?)?.get(i)?;
        match parts.next()? {
            "conv1" => conv(&b.conv1),
            "conv2" => conv(&b.conv2),
            "conv3" => conv(&b.conv3),
            "bn1" => bn(&b.bn1),
            "bn2" => bn(&b.bn2),
            "bn3" => bn(&b.bn3),
            "downsample.0" => b.downsample.as_ref().and_then(|d| conv(&d.conv)),
            "downsample.1" => b.downsample.as_ref().and_then(|d| bn(&d.bn)),
            _ => None,
        }
    }

    /// The network with every kernel transformed by `g` (approximately `x ↦ f(g·x)` on even
    /// sizes; see the module docs).
    pub fn transformed(&self, g: D4) -> ResNet50 {
        let mut out = self.clone();
        let t = |c: &mut Conv2d| c.weight = c.weight.clone().map(|w| g.inverse().apply(w));
        t(&mut out.conv1);
        for b in out.layers.iter_mut().flatten() {
            t(&mut b.conv1);
            t(&mut b.conv2);
            t(&mut b.conv3);
            if let Some(d) = &mut b.downsample {
                t(&mut d.conv);
            }
        }
        out
    }

    /// The horizontally flipped network.
    pub fn flipped(&self) -> ResNet50 {
        self.transformed(D4::HFLIP)
    }

    /// The configuration this network has (width read off the stem, strides off the stem conv).
    pub fn config(&self) -> ResNet50Config {
        let [stem, in_channels, _, _] = self.conv1.weight.dims();
        let blocks = [0, 1, 2, 3].map(|k| self.layers.get(k).map_or(0, Vec::len));
        ResNet50Config { blocks, width: stem as f64 / 64.0, num_classes: self.fc.weight.dims()[1], in_channels, strided: self.conv1.stride[0] == 2 }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;
    use crate::testing::random_images;

    #[test]
    fn resnet50_has_torchvisions_parameter_count_and_shapes() {
        // Shapes only: a width-1 ResNet50 is built from the config without drawing 25 M weights
        // twice; torchvision's resnet50 has 25,557,032 trainable parameters, and burn's count
        // adds the 53,120 BatchNorm running means and variances.
        let net = ResNet50Config::default().init(&Device::flex(), 0).unwrap();
        assert_eq!(burn::module::Module::num_params(&net), 25_557_032 + 53_120);
        let p = net.to_params();
        assert_eq!(p["conv1.weight"].shape(), [64, 3, 7, 7]);
        assert_eq!(p["layer1.0.downsample.0.weight"].shape(), [256, 64, 1, 1]);
        assert_eq!(p["layer2.0.conv2.weight"].shape(), [128, 128, 3, 3]);
        assert_eq!(p["layer4.2.conv3.weight"].shape(), [2048, 512, 1, 1]);
        assert_eq!(p["fc.weight"].shape(), [2048, 1000]);
        assert!(!p.contains_key("layer2.1.downsample.0.weight"));
        assert_eq!(net.layers[1][0].conv2.stride, [2, 2], "V1.5: the stride sits on the 3×3 conv");
        assert_eq!(net.layers[1][0].conv1.stride, [1, 1]);
        assert_eq!(net.config(), ResNet50Config::default());
    }

    #[test]
    fn a_tiny_resnet50_maps_images_to_logits_and_its_structure_describes_every_parameter() {
        let net = ResNet50Config::new(0.0625, 5).init(&Device::flex(), 1).unwrap();
        assert_eq!(net.forward(random_images(&Device::flex(), 2, 3, 32, 1)).dims(), [2, 5]);
        let s = net.structure();
        let described: BTreeSet<&str> = s.params.iter().map(|p| p.name.as_str()).collect();
        let params = net.to_params();
        assert_eq!(described, params.keys().map(String::as_str).collect(), "structure and parameters name the same tensors");
        let streams: Vec<&str> = s.spaces.iter().map(|x| x.name.as_str()).filter(|n| !n.contains('.')).collect();
        assert_eq!(streams, ["stem", "layer1", "layer2", "layer3", "layer4"]);
        assert_eq!(s.spaces.len(), 1 + 4 + 2 * 16);
        for p in &s.params {
            for &(axis, space) in &p.axes {
                assert_eq!(params[&p.name].shape()[axis], s.spaces[space].size, "{} axis {axis}", p.name);
            }
            assert_eq!(net.param_dims(&p.name).as_deref(), Some(params[&p.name].shape()), "{}", p.name);
        }
        // every block of a stage writes into and reads from the stage's one stream
        let layer3 = s.spaces.iter().position(|x| x.name == "layer3").unwrap();
        for i in 0..6 {
            assert_eq!(s.param(&format!("layer3.{i}.conv3.weight")).unwrap().axes[0], (0, layer3));
            if i > 0 {
                assert_eq!(s.param(&format!("layer3.{i}.conv1.weight")).unwrap().axes[1], (1, layer3));
            }
        }
        assert_eq!(s.param("layer4.0.downsample.0.weight").unwrap().axes[1], (1, layer3));
    }

    #[test]
    fn with_params_round_trips_and_rejects_wrong_shapes() {
        let cfg = ResNet50Config::new(0.0625, 4).with_blocks([1, 2, 1, 1]);
        let (a, b) = (cfg.init(&Device::flex(), 1).unwrap(), cfg.init(&Device::flex(), 2).unwrap());
        let mut rng = StdRng::seed_from_u64(3);
        let mut params = a.to_params();
        params.values_mut().for_each(|v| v.mapv_inplace(|_| rng.random_range(0.5f32..1.5)));
        assert_eq!(b.with_params(&params).to_params(), params);
        let mut bad = params.clone();
        bad.insert("layer2.1.bn2.gamma".into(), ndarray::ArrayD::zeros(ndarray::IxDyn(&[3])));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.with_params(&bad)));
        assert!(r.is_err(), "a wrong BatchNorm shape must not be taken");
    }
}
