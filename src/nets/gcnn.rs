//! A VGG11 that is flip-equivariant by construction (a "GCNN" for G = {e, hflip}).
//!
//! Every hidden layer's channels are laid out as `pairs` mirror pairs `(2k, 2k+1)` followed by
//! `self_symmetric` channels. The involution `P` swaps the two channels of each pair and fixes the
//! rest; the RGB input carries the trivial permutation. Each conv weight is the projection
//!
//! ```text
//! W = ½ (V + P_out flip_w(V) P_inᵀ),   b = ½ (c + P_out c)
//! ```
//!
//! of free parameters `V, c`, which satisfies `flip_w(W) = P_out W P_inᵀ` and `P_out b = b` exactly
//! (because `flip_w` and the channel permutations commute and all square to the identity). So
//! every layer is flip-equivariant, self-symmetric channels have kernels that are mirror-symmetric
//! after the input permutation, and the classifier `W_fc = ½ (V_fc + V_fc P)` is invariant:
//! `f(hflip x) = f(x)` exactly. BatchNorm parameters are projected the same way (`γ = ½(γ + Pγ)`).
//!
//! [`GcnnVgg::to_vgg`] gives the same network as a plain [`Vgg`] (same structure, ordinary
//! weights), so alignment and merging apply unchanged.

use burn::module::Module;
use burn::nn::BatchNorm;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::vgg::{Vgg, VggConfig, VggError};
use crate::group::Perm;

/// Channel layout of one hidden layer: `pairs` mirror pairs, then `self_symmetric` channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlipLayout {
    /// Number of mirror pairs (2 channels each).
    pub pairs: usize,
    /// Number of self-symmetric channels.
    pub self_symmetric: usize,
}

impl FlipLayout {
    /// Split `channels` so that about `self_fraction` of them are self-symmetric (the parity of
    /// `channels` may force one more).
    pub fn split(channels: usize, self_fraction: f64) -> Self {
        let mut s = ((channels as f64) * self_fraction.clamp(0.0, 1.0)).round() as usize;
        if (channels - s) % 2 == 1 {
            s += 1;
        }
        let s = s.min(channels);
        FlipLayout { pairs: (channels - s) / 2, self_symmetric: s }
    }

    /// Total channels.
    pub fn channels(&self) -> usize {
        2 * self.pairs + self.self_symmetric
    }

    /// The involution: swap each pair, fix the self-symmetric channels.
    pub fn perm(&self) -> Perm {
        let mut map: Vec<usize> = (0..self.channels()).collect();
        for k in 0..self.pairs {
            map.swap(2 * k, 2 * k + 1);
        }
        Perm::new(map).expect("pair swaps form a permutation")
    }
}

/// Configuration of a [`GcnnVgg`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GcnnConfig {
    /// The underlying VGG (channel counts are the plain VGG11's at the same width).
    pub vgg: VggConfig,
    /// Share of each layer's channels that are self-symmetric (the rest form mirror pairs). Default 0.25.
    pub self_fraction: f64,
}

impl GcnnConfig {
    /// Per-conv channel layouts.
    pub fn layouts(&self) -> Vec<FlipLayout> {
        self.vgg.conv_channels().into_iter().map(|c| FlipLayout::split(c, self.self_fraction)).collect()
    }

    /// A freshly initialised GCNN: free parameters drawn as the plain VGG's, conv weights scaled
    /// by √2 so that the projection ½(V + mirror(V)) of independent halves keeps the plain VGG's
    /// weight variance (otherwise the signal shrinks by √2 per layer).
    pub fn init(&self, device: &Device, seed: u64) -> Result<GcnnVgg, VggError> {
        let free = self.vgg.init_with_gain(device, seed, std::f64::consts::SQRT_2)?;
        let layouts = self.layouts();
        Ok(GcnnVgg { free, layouts })
    }
}

/// VGG11 with every layer flip-equivariant by construction.
#[derive(Module, Debug)]
pub struct GcnnVgg {
    /// Free parameters (a plain VGG whose weights are projected in [`GcnnVgg::to_vgg`]).
    pub free: Vgg,
    #[module(skip)]
    layouts: Vec<FlipLayout>,
}

impl GcnnVgg {
    /// Per-conv channel layouts.
    pub fn layouts(&self) -> &[FlipLayout] {
        &self.layouts
    }

    /// Gather indices of layer `i`'s involution, on `device`.
    fn perm_index(&self, i: usize, device: &Device) -> Tensor<1, Int> {
        let p = self.layouts[i].perm();
        let v: Vec<i64> = p.as_slice().iter().map(|&k| k as i64).collect();
        Tensor::from_data(TensorData::new(v, [p.len()]), device)
    }

    fn project_vec(&self, i: usize, v: Tensor<1>) -> Tensor<1> {
        let idx = self.perm_index(i, &v.device());
        (v.clone() + v.select(0, idx)) * 0.5
    }

    // ANCHOR: gcnn_projection
    /// The equivalent plain VGG (projected weights). Differentiable: training goes through it.
    pub fn to_vgg(&self) -> Vgg {
        let mut out = self.free.clone();
        for i in 0..out.convs.len() {
            let v = self.free.convs[i].weight.val();
            let device = v.device();
            let mut mirrored = v.clone().flip([3]).select(0, self.perm_index(i, &device));
            if i > 0 {
                mirrored = mirrored.select(1, self.perm_index(i - 1, &device));
            }
            let w = (v + mirrored) * 0.5;
            out.convs[i].weight = out.convs[i].weight.clone().map(|_| w);
            if let Some(b) = &self.free.convs[i].bias {
                out.convs[i].bias = Some(b.clone().map(|v| self.project_vec(i, v)));
            }
            if let Some(bn) = self.free.norms.get(i) {
                let projected: BatchNorm =
                    BatchNorm { gamma: bn.gamma.clone().map(|v| self.project_vec(i, v)), beta: bn.beta.clone().map(|v| self.project_vec(i, v)), ..bn.clone() };
                out.norms[i] = projected;
            }
        }
        let last = self.layouts.len() - 1;
        let v = self.free.head.weight.val();
        let idx = self.perm_index(last, &v.device());
        out.head.weight = out.head.weight.clone().map(|_| (v.clone() + v.select(0, idx)) * 0.5);
        out
    }
    // ANCHOR_END: gcnn_projection

    /// Logits. `[N, C, 32, 32] → [N, classes]`; exactly invariant under hflip.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.to_vgg().forward(x)
    }

    /// The plain VGG for inference/export, with BatchNorm running statistics symmetrised over
    /// mirror pairs (batch statistics of a finite batch are only approximately symmetric).
    pub fn export(&self) -> Vgg {
        let net = self.to_vgg();
        if !net.has_batch_norm() {
            return net;
        }
        let mut params = crate::nets::ParamMap::new();
        for (i, bn) in net.norms.iter().enumerate() {
            for (name, t) in [("running_mean", bn.running_mean.value_sync()), ("running_var", bn.running_var.value_sync())] {
                let sym = self.project_vec(i, t);
                params.insert(format!("norms.{i}.{name}"), crate::nets::tensor_to_array(sym));
            }
        }
        net.with_params(&params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::{Perm, PermSpec, apply_perms, flip_kernels};
    use crate::testing::{max_abs_diff, random_images};

    #[test]
    fn layouts_split_channels_into_pairs_and_self_symmetric() {
        assert_eq!(FlipLayout::split(16, 0.25), FlipLayout { pairs: 6, self_symmetric: 4 });
        assert_eq!(FlipLayout::split(7, 0.0), FlipLayout { pairs: 3, self_symmetric: 1 });
        assert_eq!(FlipLayout::split(1, 0.5), FlipLayout { pairs: 0, self_symmetric: 1 });
        let l = FlipLayout::split(10, 0.2);
        assert!(l.perm().is_involution());
        assert_eq!(l.perm().cycle_counts().two_cycles, l.pairs);
    }

    #[test]
    fn gcnn_layers_satisfy_the_flip_equivariance_identity_exactly() {
        let device = Device::flex();
        for (bn, frac) in [(false, 0.25), (true, 0.0), (false, 1.0)] {
            let cfg = GcnnConfig { vgg: VggConfig::vgg11(0.25).with_batch_norm(bn), self_fraction: frac };
            let g = cfg.init(&device, 3).unwrap();
            let net = g.export();
            let structure = net.structure();
            let spec = PermSpec::from_structure(&structure).unwrap();
            let perms: Vec<Perm> = g.layouts().iter().map(FlipLayout::perm).collect();
            let params = net.to_params();
            let mirrored = apply_perms(&flip_kernels(&params, &structure), &spec, &perms).unwrap();
            for (name, w) in &params {
                let diff = (w - &mirrored[name]).mapv(f32::abs).fold(0.0f32, |m, v| m.max(*v));
                assert!(diff < 1e-6, "{name}: flip_w(W) ≠ P W Pᵀ (max diff {diff})");
            }
            let x = random_images(&device, 3, 3, 32, 9);
            let err = max_abs_diff(net.forward(x.clone()), net.forward(x.flip([3])));
            assert!(err < 1e-4, "GCNN not flip invariant: {err}");
        }
    }
}
