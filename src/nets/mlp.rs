//! A small ReLU MLP as a burn module, for the MLP-sized version of the paper's experiment.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::init::ParamInit;
use super::params::{ParamMap, replace_param, tensor_to_array};
use super::structure::{HiddenSpace, LayerKind, ParamAxes, Structure};

/// `x ↦ W_L σ(… σ(W_1 x + b_1) …) + b_L`. Shapes: `[N, widths[0]] → [N, widths[L]]`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Layers; weights in burn's row layout `[in, out]`.
    pub layers: Vec<Linear>,
}

impl Mlp {
    /// Kaiming-normal (fan-in) weights, zero biases, drawn on the host from `seed`.
    pub fn new(widths: &[usize], device: &Device, seed: u64) -> Self {
        assert!(widths.len() >= 2, "an MLP needs input and output widths");
        let mut rng = ParamInit::new(seed);
        let layers = widths
            .windows(2)
            .map(|w| Linear { weight: rng.normal([w[0], w[1]], (2.0 / w[0] as f64).sqrt(), device), bias: Some(rng.zeros([w[1]], device)) })
            .collect();
        Self { layers }
    }

    /// Forward pass.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut x = x;
        for (i, l) in self.layers.iter().enumerate() {
            x = l.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }

    /// One hidden space per hidden layer; weight `[in, out]` has the output space on axis 1.
    pub fn structure(&self) -> Structure {
        let n = self.layers.len();
        let mut spaces = Vec::new();
        let mut params = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let layer = format!("layers.{i}");
            let mut w_axes = Vec::new();
            if i + 1 < n {
                spaces.push(HiddenSpace { name: format!("hidden{i}"), size: l.weight.dims()[1], producer: format!("{layer}.weight"), block: i });
                w_axes.push((1, i));
            }
            if i > 0 {
                w_axes.push((0, i - 1));
            }
            let b_axes = if i + 1 < n { vec![(0, i)] } else { vec![] };
            params.push(ParamAxes { name: format!("{layer}.weight"), layer: layer.clone(), kind: LayerKind::Linear, axes: w_axes, running_stat: false });
            params.push(ParamAxes { name: format!("{layer}.bias"), layer, kind: LayerKind::Linear, axes: b_axes, running_stat: false });
        }
        Structure { spaces, params }
    }

    /// Host copies of the parameters.
    pub fn to_params(&self) -> ParamMap {
        let mut m = ParamMap::new();
        for (i, l) in self.layers.iter().enumerate() {
            m.insert(format!("layers.{i}.weight"), tensor_to_array(l.weight.val()));
            if let Some(b) = &l.bias {
                m.insert(format!("layers.{i}.bias"), tensor_to_array(b.val()));
            }
        }
        m
    }

    /// This MLP with parameters from `params`.
    pub fn with_params(&self, params: &ParamMap) -> Mlp {
        let mut out = self.clone();
        for (i, l) in out.layers.iter_mut().enumerate() {
            if let Some(a) = params.get(&format!("layers.{i}.weight")) {
                l.weight = replace_param(&l.weight, a);
            }
            if let (Some(b), Some(a)) = (l.bias.as_mut(), params.get(&format!("layers.{i}.bias"))) {
                *b = replace_param(b, a);
            }
        }
        out
    }
}
