//! One pass of data through one or more networks, with tap points on every hidden space.
//!
//! Matching (REPAIR's correlations), REPAIR's goal statistics, the variance-collapse measurement
//! and the diagnostics all need the same thing: stream a [`Loader`] through networks in inference
//! mode and look at each hidden space's maps. Where a space takes its values are the network's
//! tap points ([`Network::tap_points`]: one per conv block in VGG; in a ResNet one after every
//! layer writing into a residual stream, and one per block's inner space); at each tap two views
//! are offered:
//!
//! * [`Tap::Pre`]: the pre-activation (conv, then BatchNorm if the block has one; in a ResNet's
//!   stream, the sum of a block's branch and its skip), before the ReLU;
//! * [`Tap::Post`]: the activation after the ReLU and before any pooling.
//!
//! [`stream`] is the pass; [`pair_stats`] and [`channel_stats`] are the per-tap accumulations the
//! rest of the crate uses, [`pair_batch_norm_stats`] and [`batch_norm_stats`] the same at every
//! BatchNorm's output. Every network in one pass sees the same batch, so joint statistics pair the
//! same images. Tap passes run the networks as [`Network::for_evaluation`] gives them (a VGG with
//! each BatchNorm folded into its convolution: the same maps, one pass over each fewer); passes
//! that record BatchNorm outputs keep the layers.

use burn::nn::BatchNorm;
use burn::tensor::{Device, Tensor};
use indicatif::ProgressBar;

use crate::batches::Loader;
use crate::nets::{ForwardHooks, Network};
use crate::stats::{ChannelStats, PairStats};

/// Where on a hidden space to look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tap {
    /// Before the ReLU: conv output, after BatchNorm when the block has one.
    Pre,
    /// After the ReLU, before pooling.
    Post,
}

/// The maps of one tap point of one network for one batch.
#[derive(Clone, Debug)]
pub struct SpaceMaps {
    /// Pre-activation `[N, C, H, W]`.
    pub pre: Tensor<4>,
    /// Post-ReLU activation `[N, C, H, W]`.
    pub post: Tensor<4>,
}

impl SpaceMaps {
    /// The map at `tap`.
    pub fn at(&self, tap: Tap) -> &Tensor<4> {
        match tap {
            Tap::Pre => &self.pre,
            Tap::Post => &self.post,
        }
    }
}

/// Records the maps of one forward pass: every tap point, or every BatchNorm's output.
struct Recorder {
    taps: Option<Vec<Option<SpaceMaps>>>,
    bn_layers: Option<Vec<String>>,
    bn_outputs: Vec<Option<Tensor<4>>>,
}

impl ForwardHooks for Recorder {
    fn tap(&mut self, tap: usize, pre: &Tensor<4>, post: &Tensor<4>) {
        if let Some(taps) = self.taps.as_mut()
            && let Some(slot) = taps.get_mut(tap)
        {
            *slot = Some(SpaceMaps { pre: pre.clone(), post: post.clone() });
        }
    }

    fn batch_norm(&mut self, layer: &str, bn: &BatchNorm, z: Tensor<4>) -> Tensor<4> {
        let y = bn.forward(z);
        if let Some(k) = self.bn_layers.as_ref().and_then(|l| l.iter().position(|n| n == layer)) {
            self.bn_outputs[k] = Some(y.clone());
        }
        y
    }
}

/// What one pass records per net.
enum Record {
    Taps,
    BatchNorms,
}

/// Stream `loader` through `nets` in inference mode; per batch, `visit` gets one recording per
/// net (taps or BatchNorm outputs, by index).
fn pass<N: Network>(nets: &[&N], what: Record, loader: &Loader, device: &Device, progress: &ProgressBar, mut visit: impl FnMut(&[Recorder])) {
    let Some(first) = nets.first() else { return };
    let n_taps = first.tap_points().len();
    let bn_layers: Vec<String> = first.structure().batch_norm_layers().into_iter().map(|(l, _)| l.to_string()).collect();
    // Taps need only the maps, so BatchNorm may be folded away; recording BatchNorm outputs
    // needs the layers.
    let nets: Vec<N> = nets
        .iter()
        .map(|n| match what {
            Record::Taps => n.for_evaluation(),
            Record::BatchNorms => n.for_inference(),
        })
        .collect();
    let device = device.clone().inner();
    for (x, _) in loader.iter(0, &device) {
        let batch = x.dims()[0];
        let recs: Vec<Recorder> = nets
            .iter()
            .map(|net| {
                let mut rec = match what {
                    Record::Taps => Recorder { taps: Some(vec![None; n_taps]), bn_layers: None, bn_outputs: Vec::new() },
                    Record::BatchNorms => Recorder { taps: None, bn_outputs: vec![None; bn_layers.len()], bn_layers: Some(bn_layers.clone()) },
                };
                let _ = net.forward_hooked(x.clone(), &mut rec);
                rec
            })
            .collect();
        visit(&recs);
        progress.inc(batch as u64);
    }
}

/// Stream `loader` through `nets` (inference mode, on `device`'s inner backend). For every batch
/// and every tap point `t` (in the order of the first net's [`Network::tap_points`]),
/// `visit(t, maps)` gets one [`SpaceMaps`] per net, in the order of `nets`. All nets must share
/// one structure.
pub fn stream<N: Network>(nets: &[&N], loader: &Loader, device: &Device, progress: &ProgressBar, mut visit: impl FnMut(usize, &[SpaceMaps])) {
    pass(nets, Record::Taps, loader, device, progress, |recs| {
        let n_taps = recs.first().and_then(|r| r.taps.as_ref()).map_or(0, Vec::len);
        for t in 0..n_taps {
            let maps: Vec<SpaceMaps> = recs.iter().map(|r| r.taps.as_ref().and_then(|m| m[t].clone()).expect("every tap point is reported")).collect();
            visit(t, &maps);
        }
    });
}

/// Joint statistics of `a` and `b` at `tap`, per tap point (outer) and per entry of `taps`
/// (inner), over one pass.
pub fn pair_stats<N: Network>(a: &N, b: &N, taps: &[Tap], loader: &Loader, device: &Device, progress: &ProgressBar) -> Vec<Vec<PairStats>> {
    let sizes = |n: &N| -> Vec<usize> {
        let spaces = n.structure().spaces;
        n.tap_points().iter().map(|t| spaces[t.space].size).collect()
    };
    let mut stats: Vec<Vec<PairStats>> = sizes(a).into_iter().zip(sizes(b)).map(|(ca, cb)| taps.iter().map(|_| PairStats::new(ca, cb)).collect()).collect();
    stream(&[a, b], loader, device, progress, |t, maps| {
        for (k, &tap) in taps.iter().enumerate() {
            stats[t][k].update(maps[0].at(tap).clone(), maps[1].at(tap).clone());
        }
    });
    stats
}

/// Statistics of one network at `tap`, per tap point, over one pass.
pub fn channel_stats<N: Network>(net: &N, tap: Tap, loader: &Loader, device: &Device, progress: &ProgressBar) -> Vec<ChannelStats> {
    let spaces = net.structure().spaces;
    let mut stats: Vec<ChannelStats> = net.tap_points().iter().map(|t| ChannelStats::new(spaces[t.space].size)).collect();
    stream(&[net], loader, device, progress, |t, maps| stats[t].update(maps[0].at(tap).clone()));
    stats
}

/// Joint statistics of the outputs of every BatchNorm of `a` and `b` (in the order of
/// [`crate::nets::Structure::batch_norm_layers`]), over one pass.
pub fn pair_batch_norm_stats<N: Network>(a: &N, b: &N, loader: &Loader, device: &Device, progress: &ProgressBar) -> Vec<PairStats> {
    let sizes = |n: &N| -> Vec<usize> {
        let s = n.structure();
        s.batch_norm_layers().iter().map(|&(_, sp)| s.spaces[sp].size).collect()
    };
    let mut stats: Vec<PairStats> = sizes(a).into_iter().zip(sizes(b)).map(|(ca, cb)| PairStats::new(ca, cb)).collect();
    pass(&[a, b], Record::BatchNorms, loader, device, progress, |recs| {
        for (k, st) in stats.iter_mut().enumerate() {
            let out = |r: &Recorder| r.bn_outputs[k].clone().expect("every BatchNorm is applied");
            st.update(out(&recs[0]), out(&recs[1]));
        }
    });
    stats
}

/// Statistics of the output of every BatchNorm of `net` (in the order of
/// [`crate::nets::Structure::batch_norm_layers`]), over one pass.
pub fn batch_norm_stats<N: Network>(net: &N, loader: &Loader, device: &Device, progress: &ProgressBar) -> Vec<ChannelStats> {
    let s = net.structure();
    let mut stats: Vec<ChannelStats> = s.batch_norm_layers().iter().map(|&(_, sp)| ChannelStats::new(s.spaces[sp].size)).collect();
    pass(&[net], Record::BatchNorms, loader, device, progress, |recs| {
        for (k, st) in stats.iter_mut().enumerate() {
            st.update(recs[0].bn_outputs[k].clone().expect("every BatchNorm is applied"));
        }
    });
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SyntheticSpec;
    use crate::nets::VggConfig;

    #[test]
    fn every_space_is_visited_once_per_batch_with_one_map_per_net_of_the_right_width() {
        let device = Device::flex();
        let splits = SyntheticSpec { n_train: 20, n_test: 10, seed: 1, ..SyntheticSpec::default() }.generate();
        let a = VggConfig::vgg11(0.125).with_batch_norm(true).init(&device, 1).unwrap();
        let b = VggConfig::vgg11(0.125).with_batch_norm(true).init(&device, 2).unwrap();
        let loader = Loader::ordered(&splits.train, 8);
        let widths: Vec<usize> = a.structure().spaces.iter().map(|s| s.size).collect();
        let mut visits = vec![0usize; widths.len()];
        stream(&[&a, &b], &loader, &device, &ProgressBar::hidden(), |s, maps| {
            visits[s] += 1;
            assert_eq!(maps.len(), 2);
            for m in maps {
                assert_eq!(m.pre.dims()[1], widths[s]);
                // the post tap is the ReLU of the pre tap
                let relu = m.pre.clone().clamp_min(0.0);
                assert_eq!(relu.into_data().try_to_vec::<f32>().unwrap(), m.post.clone().into_data().try_to_vec::<f32>().unwrap());
            }
        });
        assert_eq!(visits, vec![3; widths.len()], "20 images in batches of 8 are 3 batches");
    }

    #[test]
    fn pair_stats_of_a_net_with_itself_have_unit_correlation_on_live_channels() {
        let device = Device::flex();
        let splits = SyntheticSpec { n_train: 40, n_test: 10, seed: 2, ..SyntheticSpec::default() }.generate();
        let a = VggConfig::vgg11(0.125).init(&device, 3).unwrap();
        let stats = pair_stats(&a, &a, &[Tap::Pre], &Loader::ordered(&splits.train, 16), &device, &ProgressBar::hidden());
        for layer in &stats {
            let corr = layer[0].corr();
            for k in 0..corr.nrows() {
                if corr[[k, k]].is_finite() {
                    assert!((corr[[k, k]] - 1.0).abs() < 1e-6, "self-correlation {}", corr[[k, k]]);
                }
            }
        }
        // and the single-net statistics agree with the pair's first half
        let single = channel_stats(&a, Tap::Pre, &Loader::ordered(&splits.train, 16), &device, &ProgressBar::hidden());
        for (s, p) in single.iter().zip(&stats) {
            assert_eq!(s.mean, p[0].a.mean);
        }
    }
}
