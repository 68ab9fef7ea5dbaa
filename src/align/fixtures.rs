//! Structures and random parameter maps for the alignment tests (shared by the spec and
//! weight-matching tests).

use ndarray::{ArrayD, IxDyn};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::nets::{HiddenSpace, LayerKind, ParamAxes, ParamMap, Structure};

/// Parameter names with their shapes.
pub(crate) type Shapes = Vec<(String, Vec<usize>)>;

fn param(name: &str, kind: LayerKind, axes: Vec<(usize, usize)>, running_stat: bool) -> ParamAxes {
    let layer = name.rsplit_once('.').map_or(name, |(l, _)| l).to_string();
    ParamAxes { name: name.to_string(), layer, kind, axes, running_stat }
}

fn space(i: usize, size: usize, producer: &str) -> HiddenSpace {
    HiddenSpace { name: format!("conv{i}"), size, producer: producer.to_string(), block: i }
}

/// A VGG-like structure described the way the VGG model describes itself: spaces
/// `conv0..convK`, conv `i` weight axes `[(0, i), (1, i − 1)]`, bias `[(0, i)]`, optional
/// BatchNorm params `[(0, i)]`, `head.weight [(0, last)]`, `head.bias []`.
/// Returns the structure and the shapes of all parameters.
pub(crate) fn vgg_like(channels: &[usize], in_ch: usize, k: usize, classes: usize, bn: bool) -> (Structure, Shapes) {
    let mut spaces = Vec::new();
    let mut params = Vec::new();
    let mut shapes = Vec::new();
    let mut prev = in_ch;
    for (i, &c) in channels.iter().enumerate() {
        let w = format!("convs.{i}.weight");
        spaces.push(space(i, c, &w));
        let mut axes = vec![(0, i)];
        if i > 0 {
            axes.push((1, i - 1));
        }
        params.push(param(&w, LayerKind::Conv, axes, false));
        shapes.push((w, vec![c, prev, k, k]));
        let b = format!("convs.{i}.bias");
        params.push(param(&b, LayerKind::Conv, vec![(0, i)], false));
        shapes.push((b, vec![c]));
        if bn {
            for (n, running) in [("gamma", false), ("beta", false), ("running_mean", true), ("running_var", true)] {
                let name = format!("norms.{i}.{n}");
                params.push(param(&name, LayerKind::BatchNorm, vec![(0, i)], running));
                shapes.push((name, vec![c]));
            }
        }
        prev = c;
    }
    let last = channels.len() - 1;
    params.push(param("head.weight", LayerKind::Linear, vec![(0, last)], false));
    shapes.push(("head.weight".into(), vec![prev, classes]));
    params.push(param("head.bias", LayerKind::Linear, vec![], false));
    shapes.push(("head.bias".into(), vec![classes]));
    (Structure { spaces, params }, shapes)
}

/// A ReLU MLP in burn's row layout (`y = x W + b`, `W ∈ R^{in × out}`): hidden space `i` is
/// axis 1 of `fcs.i.weight`, axis 0 of `fcs.{i+1}.weight` and axis 0 of `fcs.i.bias`.
pub(crate) fn mlp_like(widths: &[usize], inputs: usize, outputs: usize) -> (Structure, Shapes) {
    let mut spaces = Vec::new();
    let mut params = Vec::new();
    let mut shapes = Vec::new();
    let mut prev = inputs;
    for (i, &h) in widths.iter().chain(std::iter::once(&outputs)).enumerate() {
        let hidden = i < widths.len();
        let w = format!("fcs.{i}.weight");
        let b = format!("fcs.{i}.bias");
        let mut w_axes = Vec::new();
        if i > 0 {
            w_axes.push((0, i - 1));
        }
        if hidden {
            spaces.push(HiddenSpace { name: format!("fc{i}"), size: h, producer: w.clone(), block: i });
            w_axes.push((1, i));
        }
        params.push(param(&w, LayerKind::Linear, w_axes, false));
        shapes.push((w, vec![prev, h]));
        params.push(param(&b, LayerKind::Linear, if hidden { vec![(0, i)] } else { vec![] }, false));
        shapes.push((b, vec![h]));
        prev = h;
    }
    (Structure { spaces, params }, shapes)
}

/// A ResNet-like structure where two convs write into one shared residual space:
/// `stem` (3 → s0) and `block.conv2` (s1 → s0) both produce space 0, `block.conv1` reads it
/// (s0 → s1), then `down` (s0 → s2) and the head reads s2. BatchNorm after every conv.
pub(crate) fn resnet_like(c0: usize, c1: usize, c2: usize, k: usize, classes: usize) -> (Structure, Shapes) {
    let spaces = vec![space(0, c0, "stem.weight"), space(1, c1, "block.conv1.weight"), space(2, c2, "down.weight")];
    let mut params = Vec::new();
    let mut shapes = Vec::new();
    let convs = [
        ("stem", "bn0", 0, None, c0, 3),
        ("block.conv1", "block.bn1", 1, Some(0), c1, c0),
        ("block.conv2", "block.bn2", 0, Some(1), c0, c1),
        ("down", "bn_down", 2, Some(0), c2, c0),
    ];
    for (conv, bn, out, inp, co, ci) in convs {
        let mut axes = vec![(0, out)];
        if let Some(s) = inp {
            axes.push((1, s));
        }
        params.push(param(&format!("{conv}.weight"), LayerKind::Conv, axes, false));
        shapes.push((format!("{conv}.weight"), vec![co, ci, k, k]));
        for (n, running) in [("gamma", false), ("beta", false), ("running_mean", true), ("running_var", true)] {
            let name = format!("{bn}.{n}");
            params.push(param(&name, LayerKind::BatchNorm, vec![(0, out)], running));
            shapes.push((name, vec![co]));
        }
    }
    params.push(param("head.weight", LayerKind::Linear, vec![(0, 2)], false));
    shapes.push(("head.weight".into(), vec![c2, classes]));
    params.push(param("head.bias", LayerKind::Linear, vec![], false));
    shapes.push(("head.bias".into(), vec![classes]));
    (Structure { spaces, params }, shapes)
}

/// Uniform(−1, 1) values for every shape (running variances in (0.5, 1.5)).
pub(crate) fn random_params(shapes: &[(String, Vec<usize>)], seed: u64) -> ParamMap {
    let mut rng = StdRng::seed_from_u64(seed);
    shapes
        .iter()
        .map(|(name, shape)| {
            let lo_hi = if name.ends_with("running_var") { (0.5, 1.5) } else { (-1.0, 1.0) };
            let a = ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(lo_hi.0..lo_hi.1));
            (name.clone(), a)
        })
        .collect()
}
