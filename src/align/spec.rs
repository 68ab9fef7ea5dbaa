//! Permutation specs: which axes of which parameters one hidden-channel permutation acts on.
//!
//! A spec is **derived** from a model's [`Structure`], never written by hand: every hidden space
//! of the structure becomes one [`PermGroup`], and its members are all `(parameter, axis)` pairs
//! the structure lists for that space — conv/linear weights on their output *and* input axes,
//! biases, BatchNorm gamma/beta and running statistics. In a ResNet several layers write into one
//! residual-stream space; they all become members of the same group, so one permutation acts on
//! all of them.
//!
//! # Conventions
//!
//! A permutation `p` of a group acts on every member tensor by **gathering** along the member's
//! axis (the convention of [`Perm`]): `out = take(axis, p)`, i.e. new channel `i` is old channel
//! `p(i)`. For a conv weight `W ∈ R^{C_out × C_in × kH × kW}` with output space permuted by
//! `P_out` and input space by `P_in` this is
//!
//! ```text
//!     W ↦ P_out · W · P_in^T          (P acting on the channel axes),
//! ```
//!
//! and the bias becomes `P_out b`. Because the next layer gathers its *input* axis with the same
//! `p`, a ReLU network computes exactly the same function after [`apply_perms`]: `σ(P z) = P σ(z)`
//! for every permutation matrix `P` (the Lemma of the paper, §2), so
//! `W_2 P^T σ(P W_1 x + P b_1) = W_2 σ(W_1 x + b_1)`. Parameters that no group touches (the
//! classifier bias, for instance) are copied unchanged.
//!
//! A [`PermSet`] holds one permutation per group, in the order of [`PermSpec::groups`] (which is
//! the order of [`Structure::spaces`]). Sets compose like single permutations:
//! `apply_perms(apply_perms(θ, Q), P) = apply_perms(θ, compose_perms(P, Q))` ("first `Q`, then
//! `P`"), and [`invert_perms`] undoes a set.
//!
//! # The flipped network
//!
//! [`flip_kernels`] reverses the width axis of every 4-D conv weight. For VGG-style nets on even
//! input sizes (3×3 convs, stride 1, padding 1, 2×2 pooling, global 1×1 classifier input) the
//! result computes exactly `x ↦ f(hflip x)` (paper §2, "Flips and CNNs").

use std::collections::{BTreeMap, BTreeSet};

use ndarray::{ArrayD, Axis};
use serde::{Deserialize, Serialize};

use super::{AlignError, Perm};
use crate::nets::{LayerKind, ParamMap, Structure};

/// One permutation's reach: a hidden space and every `(parameter, axis)` it acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermGroup {
    /// Name of the hidden space, e.g. `conv3`.
    pub name: String,
    /// Number of channels.
    pub size: usize,
    /// `(parameter name, axis)` pairs, in the order of [`Structure::params`].
    pub members: Vec<(String, usize)>,
}

/// All permutation groups of a model, derived from its [`Structure`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermSpec {
    /// One group per hidden space, in the order of [`Structure::spaces`].
    pub groups: Vec<PermGroup>,
    /// Names of the member parameters that are running statistics (BatchNorm running mean and
    /// variance): permuted like the rest, but left out of the weight-matching objective by default.
    pub running_stats: BTreeSet<String>,
}

/// One permutation per group of a [`PermSpec`], in the order of its groups.
pub type PermSet = Vec<Perm>;

impl PermSpec {
    /// The spec of a model: one group per hidden space of `structure`, holding every parameter
    /// axis the structure puts in that space.
    ///
    /// Fails if the structure is inconsistent: an axis in a space that does not exist, an axis
    /// listed twice, or a parameter described twice.
    pub fn from_structure(structure: &Structure) -> Result<PermSpec, AlignError> {
        let n_spaces = structure.spaces.len();
        let mut names = BTreeSet::new();
        for p in &structure.params {
            if !names.insert(p.name.as_str()) {
                return Err(AlignError::DuplicateParam { param: p.name.clone() });
            }
            let mut axes = BTreeSet::new();
            for &(axis, space) in &p.axes {
                if space >= n_spaces {
                    return Err(AlignError::UnknownSpace { param: p.name.clone(), axis, space, n_spaces });
                }
                if !axes.insert(axis) {
                    return Err(AlignError::DuplicateAxis { param: p.name.clone(), axis });
                }
            }
        }
        let groups = structure
            .spaces
            .iter()
            .enumerate()
            .map(|(s, space)| PermGroup {
                name: space.name.clone(),
                size: space.size,
                members: structure.members(s).into_iter().map(|(p, axis)| (p.name.clone(), axis)).collect(),
            })
            .collect();
        let running_stats = structure.params.iter().filter(|p| p.running_stat && !p.axes.is_empty()).map(|p| p.name.clone()).collect();
        Ok(PermSpec { groups, running_stats })
    }

    /// Every member parameter with its permuted axes: `name → [(axis, group index)]`, axes in
    /// increasing order.
    pub fn param_axes(&self) -> BTreeMap<String, Vec<(usize, usize)>> {
        let mut out: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
        for (g, group) in self.groups.iter().enumerate() {
            for (param, axis) in &group.members {
                out.entry(param.clone()).or_default().push((*axis, g));
            }
        }
        for axes in out.values_mut() {
            axes.sort_unstable();
        }
        out
    }

    /// Whether `param` is a running statistic.
    pub fn is_running_stat(&self, param: &str) -> bool {
        self.running_stats.contains(param)
    }

    /// Check that `perms` has one permutation per group, each of the group's size.
    pub fn check_perms(&self, perms: &[Perm]) -> Result<(), AlignError> {
        if perms.len() != self.groups.len() {
            return Err(AlignError::PermCount { expected: self.groups.len(), got: perms.len() });
        }
        for (group, p) in self.groups.iter().zip(perms) {
            if p.len() != group.size {
                return Err(AlignError::PermSize { group: group.name.clone(), expected: group.size, got: p.len() });
            }
        }
        Ok(())
    }

    /// Check that `params` holds every member parameter, with every member axis present and of
    /// its group's size.
    pub fn check_params(&self, params: &ParamMap) -> Result<(), AlignError> {
        for group in &self.groups {
            for (param, axis) in &group.members {
                let t = params.get(param).ok_or_else(|| AlignError::MissingParam { param: param.clone(), group: group.name.clone() })?;
                if *axis >= t.ndim() {
                    return Err(AlignError::AxisOutOfRange { param: param.clone(), group: group.name.clone(), axis: *axis, ndim: t.ndim() });
                }
                let len = t.shape()[*axis];
                if len != group.size {
                    return Err(AlignError::AxisLength { param: param.clone(), group: group.name.clone(), axis: *axis, len, size: group.size });
                }
            }
        }
        Ok(())
    }

    /// Number of channels over all groups.
    pub fn total_channels(&self) -> usize {
        self.groups.iter().map(|g| g.size).sum()
    }
}

/// The identity permutation of every group.
pub fn identity_perms(spec: &PermSpec) -> PermSet {
    spec.groups.iter().map(|g| Perm::identity(g.size)).collect()
}

/// A uniformly random permutation of every group.
pub fn random_perms(spec: &PermSpec, rng: &mut impl rand::Rng) -> PermSet {
    spec.groups.iter().map(|g| Perm::random(g.size, rng)).collect()
}

/// The inverse of every permutation: `apply_perms(apply_perms(θ, P), invert_perms(P)) = θ`.
pub fn invert_perms(perms: &[Perm]) -> PermSet {
    perms.iter().map(Perm::inverse).collect()
}

/// Group-wise composition "first `inner`, then `outer`":
/// `apply_perms(θ, compose_perms(outer, inner)) = apply_perms(apply_perms(θ, inner), outer)`.
pub fn compose_perms(outer: &[Perm], inner: &[Perm]) -> Result<PermSet, AlignError> {
    if outer.len() != inner.len() {
        return Err(AlignError::PermCount { expected: outer.len(), got: inner.len() });
    }
    outer
        .iter()
        .zip(inner)
        .enumerate()
        .map(|(index, (o, i))| if o.len() == i.len() { Ok(o.compose(i)) } else { Err(AlignError::ComposeSize { index, outer: o.len(), inner: i.len() }) })
        .collect()
}

/// Permute every member tensor of every group: gather each member axis with its group's
/// permutation (`out = take(axis, p)`; for a conv weight `W ↦ P_out W P_in^T`). Tensors that no
/// group touches are copied unchanged. Outputs are in standard (row-major) layout.
///
/// Fails (naming the parameter and group) if `perms` does not fit the spec or a member is
/// missing from `params` or has the wrong length along its axis.
pub fn apply_perms(params: &ParamMap, spec: &PermSpec, perms: &[Perm]) -> Result<ParamMap, AlignError> {
    spec.check_perms(perms)?;
    spec.check_params(params)?;
    let axes = spec.param_axes();
    let mut out = ParamMap::new();
    for (name, t) in params {
        let permuted = match axes.get(name) {
            None => t.clone(),
            Some(list) => {
                let mut cur: Option<ArrayD<f32>> = None;
                for &(axis, g) in list {
                    let p = &perms[g];
                    if p.is_identity() {
                        continue;
                    }
                    let src = cur.as_ref().unwrap_or(t);
                    cur = Some(src.select(Axis(axis), p.as_slice()));
                }
                cur.unwrap_or_else(|| t.clone())
            }
        };
        let permuted = if permuted.is_standard_layout() { permuted } else { permuted.as_standard_layout().into_owned() };
        out.insert(name.clone(), permuted);
    }
    Ok(out)
}

/// The host-side "flipped network": every 4-D conv weight (kind [`LayerKind::Conv`]) with its last
/// (kernel width) axis reversed. Everything else, including conv biases, is copied unchanged;
/// structure entries absent from `params` are skipped.
pub fn flip_kernels(params: &ParamMap, structure: &Structure) -> ParamMap {
    let mut out = params.clone();
    for p in &structure.params {
        if p.kind != LayerKind::Conv {
            continue;
        }
        if let Some(w) = out.get_mut(&p.name)
            && w.ndim() == 4
        {
            let mut v = w.view();
            v.invert_axis(Axis(3));
            *w = v.as_standard_layout().into_owned();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array3, ArrayD, IxDyn};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;
    use crate::align::fixtures::*;

    fn structures() -> Vec<(&'static str, Structure, Shapes)> {
        let (s1, sh1) = mlp_like(&[7, 5, 6], 4, 3);
        let (s2, sh2) = vgg_like(&[4, 6, 6, 8], 3, 3, 5, false);
        let (s3, sh3) = vgg_like(&[5, 4, 7], 3, 3, 4, true);
        let (s4, sh4) = resnet_like(6, 5, 7, 3, 4);
        vec![("mlp", s1, sh1), ("vgg", s2, sh2), ("vgg-bn", s3, sh3), ("resnet", s4, sh4)]
    }

    #[test]
    fn spec_covers_every_axis_the_structure_lists() {
        for (label, s, _) in structures() {
            let spec = PermSpec::from_structure(&s).unwrap();
            assert_eq!(spec.groups.len(), s.spaces.len(), "{label}");
            let listed: usize = s.params.iter().map(|p| p.axes.len()).sum();
            let members: usize = spec.groups.iter().map(|g| g.members.len()).sum();
            assert_eq!(listed, members, "{label}");
            for (g, space) in spec.groups.iter().zip(&s.spaces) {
                assert_eq!((g.name.as_str(), g.size), (space.name.as_str(), space.size));
            }
        }
        let (s, _) = vgg_like(&[4, 6], 3, 3, 5, true);
        let spec = PermSpec::from_structure(&s).unwrap();
        let members: Vec<_> = spec.groups[0].members.iter().map(|(p, a)| format!("{p}:{a}")).collect();
        assert_eq!(
            members,
            ["convs.0.weight:0", "convs.0.bias:0", "norms.0.gamma:0", "norms.0.beta:0", "norms.0.running_mean:0", "norms.0.running_var:0", "convs.1.weight:1",]
        );
        assert_eq!(spec.groups[1].members.last().unwrap(), &("head.weight".to_string(), 0));
        assert!(spec.is_running_stat("norms.1.running_var") && !spec.is_running_stat("norms.1.gamma"));
    }

    #[test]
    fn shared_residual_space_is_one_group_with_every_writer_and_reader() {
        let (s, _) = resnet_like(6, 5, 7, 3, 4);
        let spec = PermSpec::from_structure(&s).unwrap();
        let g0: BTreeSet<_> = spec.groups[0].members.iter().map(|(p, a)| (p.as_str(), *a)).collect();
        for m in [("stem.weight", 0), ("block.conv2.weight", 0), ("block.conv1.weight", 1), ("down.weight", 1), ("bn0.beta", 0), ("block.bn2.gamma", 0)] {
            assert!(g0.contains(&m), "{m:?} missing from the residual group");
        }
    }

    #[test]
    fn inconsistent_structures_are_rejected() {
        let (mut s, _) = vgg_like(&[4, 6], 3, 3, 5, false);
        s.params[0].axes.push((2, 9));
        assert!(matches!(PermSpec::from_structure(&s), Err(AlignError::UnknownSpace { space: 9, .. })));
        let (mut s, _) = vgg_like(&[4, 6], 3, 3, 5, false);
        s.params[2].axes.push((0, 0));
        assert!(matches!(PermSpec::from_structure(&s), Err(AlignError::DuplicateAxis { .. })));
        let (mut s, _) = vgg_like(&[4, 6], 3, 3, 5, false);
        let dup = s.params[1].clone();
        s.params.push(dup);
        assert!(matches!(PermSpec::from_structure(&s), Err(AlignError::DuplicateParam { .. })));
    }

    #[test]
    fn random_perms_then_their_inverses_give_back_the_original_exactly() {
        let mut rng = StdRng::seed_from_u64(11);
        for (label, s, shapes) in structures() {
            let spec = PermSpec::from_structure(&s).unwrap();
            for seed in 0..5 {
                let theta = random_params(&shapes, seed);
                let p = random_perms(&spec, &mut rng);
                let moved = apply_perms(&theta, &spec, &p).unwrap();
                assert_ne!(moved, theta, "{label}: random perms should move something");
                assert_eq!(apply_perms(&moved, &spec, &invert_perms(&p)).unwrap(), theta, "{label}");
                assert_eq!(apply_perms(&theta, &spec, &identity_perms(&spec)).unwrap(), theta, "{label}");
            }
        }
    }

    #[test]
    fn composing_perm_sets_matches_sequential_application() {
        let mut rng = StdRng::seed_from_u64(12);
        for (label, s, shapes) in structures() {
            let spec = PermSpec::from_structure(&s).unwrap();
            let theta = random_params(&shapes, 3);
            for _ in 0..5 {
                let (p, q) = (random_perms(&spec, &mut rng), random_perms(&spec, &mut rng));
                let seq = apply_perms(&apply_perms(&theta, &spec, &q).unwrap(), &spec, &p).unwrap();
                let once = apply_perms(&theta, &spec, &compose_perms(&p, &q).unwrap()).unwrap();
                assert_eq!(seq, once, "{label}");
            }
        }
    }

    #[test]
    fn applying_perms_gathers_each_member_axis() {
        let (s, shapes) = vgg_like(&[3, 4], 2, 1, 2, false);
        let spec = PermSpec::from_structure(&s).unwrap();
        let theta = random_params(&shapes, 1);
        let p = vec![Perm::new(vec![2, 0, 1]).unwrap(), Perm::new(vec![1, 3, 0, 2]).unwrap()];
        let out = apply_perms(&theta, &spec, &p).unwrap();
        let (w, w2) = (&theta["convs.1.weight"], &out["convs.1.weight"]);
        for i in 0..4 {
            for j in 0..3 {
                assert_eq!(w2[[i, j, 0, 0]], w[[p[1].get(i), p[0].get(j), 0, 0]]);
            }
            assert_eq!(out["head.weight"][[i, 1]], theta["head.weight"][[p[1].get(i), 1]]);
        }
        assert_eq!(out["head.bias"], theta["head.bias"]);
    }

    /// `y = relu(... relu(x W_0 + b_0) ...) W_L + b_L` in f64, burn's row layout.
    fn mlp_forward(theta: &ParamMap, layers: usize, x: &[f32]) -> Vec<f64> {
        let mut h: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        for l in 0..layers {
            let w = &theta[&format!("fcs.{l}.weight")];
            let b = &theta[&format!("fcs.{l}.bias")];
            let (n_in, n_out) = (w.shape()[0], w.shape()[1]);
            let mut y: Vec<f64> = (0..n_out).map(|o| b[[o]] as f64).collect();
            for (i, hi) in h.iter().enumerate().take(n_in) {
                for (o, yo) in y.iter_mut().enumerate() {
                    *yo += hi * w[[i, o]] as f64;
                }
            }
            if l + 1 < layers {
                y.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            h = y;
        }
        h
    }

    #[test]
    fn permuting_hidden_neurons_preserves_the_mlp_function() {
        let (s, shapes) = mlp_like(&[9, 7, 8], 5, 4);
        let spec = PermSpec::from_structure(&s).unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        for seed in 0..5 {
            let theta = random_params(&shapes, seed);
            let moved = apply_perms(&theta, &spec, &random_perms(&spec, &mut rng)).unwrap();
            assert_ne!(moved, theta);
            for _ in 0..10 {
                let x: Vec<f32> = (0..5).map(|_| rng.random_range(-2.0..2.0)).collect();
                let (y0, y1) = (mlp_forward(&theta, 4, &x), mlp_forward(&moved, 4, &x));
                for (a, b) in y0.iter().zip(&y1) {
                    assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()), "{y0:?} vs {y1:?}");
                }
            }
        }
    }

    /// 3×3-or-any-odd conv, stride 1, zero padding k/2, + bias, then ReLU; `[C, H, W]`.
    fn conv_relu(x: &Array3<f64>, w: &ArrayD<f32>, b: &ArrayD<f32>) -> Array3<f64> {
        let (co, ci, k) = (w.shape()[0], w.shape()[1], w.shape()[3]);
        let (h, wd) = (x.shape()[1], x.shape()[2]);
        let r = (k / 2) as isize;
        Array3::from_shape_fn((co, h, wd), |(o, y, xx)| {
            let mut acc = b[[o]] as f64;
            for c in 0..ci {
                for dy in 0..k {
                    for dx in 0..k {
                        let (sy, sx) = (y as isize + dy as isize - r, xx as isize + dx as isize - r);
                        if sy >= 0 && sx >= 0 && (sy as usize) < h && (sx as usize) < wd {
                            acc += w[[o, c, dy, dx]] as f64 * x[[c, sy as usize, sx as usize]];
                        }
                    }
                }
            }
            acc.max(0.0)
        })
    }

    /// VGG-like net without pooling: convs + ReLU, global average pool, linear head `[C, classes]`.
    fn vgg_forward(theta: &ParamMap, n_convs: usize, x: &Array3<f64>) -> Array1<f64> {
        let mut h = x.clone();
        for i in 0..n_convs {
            h = conv_relu(&h, &theta[&format!("convs.{i}.weight")], &theta[&format!("convs.{i}.bias")]);
        }
        let pooled: Vec<f64> = h.outer_iter().map(|c| c.mean().unwrap_or(0.0)).collect();
        let (w, b) = (&theta["head.weight"], &theta["head.bias"]);
        Array1::from_shape_fn(w.shape()[1], |o| b[[o]] as f64 + pooled.iter().enumerate().map(|(i, p)| p * w[[i, o]] as f64).sum::<f64>())
    }

    fn close(a: &Array1<f64>, b: &Array1<f64>) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + x.abs()))
    }

    #[test]
    fn permuting_conv_channels_preserves_the_conv_net_function() {
        let (s, shapes) = vgg_like(&[4, 5, 3], 2, 3, 3, false);
        let spec = PermSpec::from_structure(&s).unwrap();
        let mut rng = StdRng::seed_from_u64(8);
        let theta = random_params(&shapes, 2);
        let moved = apply_perms(&theta, &spec, &random_perms(&spec, &mut rng)).unwrap();
        let x = Array3::from_shape_fn((2, 5, 6), |_| rng.random_range(-1.0..1.0));
        assert!(close(&vgg_forward(&theta, 3, &x), &vgg_forward(&moved, 3, &x)));
    }

    #[test]
    fn flipped_kernels_compute_the_net_on_the_flipped_input() {
        let (s, shapes) = vgg_like(&[4, 5, 3], 2, 3, 3, true);
        let theta = random_params(&shapes, 4);
        let flipped = flip_kernels(&theta, &s);
        let w = &theta["convs.1.weight"];
        assert_eq!(flipped["convs.1.weight"][[1, 2, 0, 0]], w[[1, 2, 0, 2]]);
        assert_eq!(flipped["convs.1.bias"], theta["convs.1.bias"]);
        assert_eq!(flipped["norms.1.gamma"], theta["norms.1.gamma"]);
        assert_eq!(flipped["head.weight"], theta["head.weight"]);
        assert_eq!(flip_kernels(&flipped, &s), theta, "flipping twice is the identity");
        let mut rng = StdRng::seed_from_u64(9);
        let x = Array3::from_shape_fn((2, 6, 6), |_| rng.random_range(-1.0..1.0));
        let mut hx = x.clone();
        hx.invert_axis(ndarray::Axis(2));
        assert!(close(&vgg_forward(&flipped, 3, &x), &vgg_forward(&theta, 3, &hx.as_standard_layout().to_owned())));
    }

    #[test]
    fn bad_perms_and_maps_are_typed_errors_naming_param_and_group() {
        let (s, shapes) = vgg_like(&[4, 6], 3, 3, 5, false);
        let spec = PermSpec::from_structure(&s).unwrap();
        let theta = random_params(&shapes, 0);
        let mut p = identity_perms(&spec);
        assert!(matches!(apply_perms(&theta, &spec, &p[..1]), Err(AlignError::PermCount { expected: 2, got: 1 })));
        p[1] = Perm::identity(5);
        let e = apply_perms(&theta, &spec, &p).unwrap_err();
        assert_eq!(e, AlignError::PermSize { group: "conv1".into(), expected: 6, got: 5 });
        let p = identity_perms(&spec);
        let mut bad = theta.clone();
        bad.remove("convs.1.bias");
        let e = apply_perms(&bad, &spec, &p).unwrap_err();
        assert_eq!(e, AlignError::MissingParam { param: "convs.1.bias".into(), group: "conv1".into() });
        assert!(e.to_string().contains("convs.1.bias") && e.to_string().contains("conv1"));
        let mut bad = theta.clone();
        bad.insert("convs.1.weight".into(), ArrayD::zeros(IxDyn(&[6, 5, 3, 3])));
        let e = apply_perms(&bad, &spec, &p).unwrap_err();
        assert_eq!(e, AlignError::AxisLength { param: "convs.1.weight".into(), group: "conv0".into(), axis: 1, len: 5, size: 4 });
        let mut bad = theta.clone();
        bad.insert("head.weight".into(), ArrayD::zeros(IxDyn(&[])));
        assert!(matches!(apply_perms(&bad, &spec, &p), Err(AlignError::AxisOutOfRange { axis: 0, ndim: 0, .. })));
        assert!(matches!(compose_perms(&p, &p[..1]), Err(AlignError::PermCount { .. })));
        assert!(matches!(compose_perms(&p, &[p[1].clone(), p[0].clone()]), Err(AlignError::ComposeSize { index: 0, .. })));
    }

    #[test]
    fn perm_specs_round_trip_through_json() {
        let (s, _) = resnet_like(3, 4, 5, 1, 2);
        let spec = PermSpec::from_structure(&s).unwrap();
        let back: PermSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
    }
}
