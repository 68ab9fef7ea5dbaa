//! How a network's parameters hang together: which tensor axes carry which hidden channels.
//!
//! A model describes itself once as a [`Structure`]: a list of hidden channel spaces (one per conv
//! output in VGG; one per residual stream in a ResNet, shared by every layer writing into it) and,
//! for every parameter tensor, which axis indexes which space. Permutation specs
//! ([`crate::align::PermSpec`]), activation statistics and BatchNorm handling are all derived
//! from it.

use serde::{Deserialize, Serialize};

/// What kind of layer a parameter belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerKind {
    /// 2-D convolution: weight `[C_out, C_in, kH, kW]`, bias `[C_out]`.
    Conv,
    /// BatchNorm: gamma, beta, running mean, running variance, all `[C]`.
    BatchNorm,
    /// Linear in burn's row layout: weight `[in, out]`, bias `[out]`.
    Linear,
}

/// One parameter tensor and the hidden spaces along its axes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamAxes {
    /// Parameter name, e.g. `convs.3.weight`.
    pub name: String,
    /// The layer it belongs to, e.g. `convs.3`.
    pub layer: String,
    /// Kind of that layer.
    pub kind: LayerKind,
    /// `(axis, space)`: axis `axis` of the tensor is indexed by hidden space `space`.
    pub axes: Vec<(usize, usize)>,
    /// Whether it is a running statistic (not trained; interpolated like the rest when merging).
    pub running_stat: bool,
}

/// A hidden channel space: the channels that one permutation acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiddenSpace {
    /// Name, e.g. `conv3` (the output of the 4th conv).
    pub name: String,
    /// Number of channels.
    pub size: usize,
    /// The parameter (a conv or linear weight) whose output rows define the space; its
    /// post-ReLU activations are what activation matching correlates.
    pub producer: String,
    /// VGG: index of the conv block whose output (after ReLU, before pooling) is this space's
    /// activation. Informative only: where a space takes its values is said by the network's tap
    /// points ([`crate::nets::Network::tap_points`]), of which a residual stream has several.
    pub block: usize,
}

/// The whole description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Structure {
    /// Hidden spaces, in forward order.
    pub spaces: Vec<HiddenSpace>,
    /// Every parameter tensor of the model, with its axes.
    pub params: Vec<ParamAxes>,
}

impl Structure {
    /// Parameters touching hidden space `s`, with the axis.
    pub fn members(&self, s: usize) -> Vec<(&ParamAxes, usize)> {
        self.params.iter().flat_map(|p| p.axes.iter().filter(|(_, sp)| *sp == s).map(move |(ax, _)| (p, *ax))).collect()
    }

    /// The parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&ParamAxes> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The BatchNorm parameter `which` (`gamma`, `beta`, `running_mean`, `running_var`) acting on
    /// hidden space `s`, if that space's block has a BatchNorm.
    pub fn batch_norm_param(&self, s: usize, which: &str) -> Option<&str> {
        self.params.iter().find(|p| p.kind == LayerKind::BatchNorm && p.axes == [(0, s)] && p.name.rsplit('.').next() == Some(which)).map(|p| p.name.as_str())
    }

    /// Every BatchNorm layer (its name prefix, e.g. `norms.3` or `blocks.2.bn1`) with the hidden
    /// space it normalises, in the order of [`Structure::params`].
    pub fn batch_norm_layers(&self) -> Vec<(&str, usize)> {
        let mut out: Vec<(&str, usize)> = Vec::new();
        for p in &self.params {
            if p.kind == LayerKind::BatchNorm
                && let Some(&(_, s)) = p.axes.first()
                && !out.iter().any(|(l, _)| *l == p.layer)
            {
                out.push((p.layer.as_str(), s));
            }
        }
        out
    }

    /// The `(scale, shift)` parameters of hidden space `s`'s last per-channel affine map before
    /// its ReLU: the BatchNorm's `(gamma, beta)` when the block has one, else the producing
    /// layer's `(weight, bias)` (whose output rows are the channels). REPAIR folds its
    /// correction into these.
    pub fn output_affine(&self, s: usize) -> Option<(&str, &str)> {
        if let (Some(g), Some(b)) = (self.batch_norm_param(s, "gamma"), self.batch_norm_param(s, "beta")) {
            return Some((g, b));
        }
        let producer = self.param(&self.spaces.get(s)?.producer)?;
        let bias = self.params.iter().find(|p| p.layer == producer.layer && p.name != producer.name && p.axes == [(0, s)])?;
        Some((producer.name.as_str(), bias.name.as_str()))
    }
}
