//! One pass of data through one or more networks, with tap points on every hidden space.
//!
//! Matching (REPAIR's correlations), REPAIR's goal statistics, the variance-collapse measurement
//! and the diagnostics all need the same thing: stream a [`Loader`] through networks in inference
//! mode and look at each hidden space's maps. The hidden spaces and the block whose output defines
//! each come from the model's [`crate::nets::Structure`]; at each space two taps are offered:
//!
//! * [`Tap::Pre`]: the pre-activation (conv, then BatchNorm if the block has one), before the ReLU;
//! * [`Tap::Post`]: the activation after the ReLU and before any pooling.
//!
//! [`stream`] is the pass; [`pair_stats`] and [`channel_stats`] are the accumulations the rest of
//! the crate uses. Every network in one pass sees the same batch, so joint statistics pair the
//! same images.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use indicatif::ProgressBar;

use crate::batches::Loader;
use crate::nets::Vgg;
use crate::stats::{ChannelStats, PairStats};

/// Where on a hidden space to look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tap {
    /// Before the ReLU: conv output, after BatchNorm when the block has one.
    Pre,
    /// After the ReLU, before pooling.
    Post,
}

/// The maps of one hidden space of one network for one batch.
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

/// Stream `loader` through `nets` (inference mode, on `device`'s inner backend). For every batch
/// and every hidden space `s` (in the order of the first net's structure), `visit(s, maps)` gets
/// one [`SpaceMaps`] per net, in the order of `nets`. All nets must share one structure.
pub fn stream(nets: &[&Vgg], loader: &Loader, device: &Device, progress: &ProgressBar, mut visit: impl FnMut(usize, &[SpaceMaps])) {
    let Some(first) = nets.first() else { return };
    let blocks: Vec<usize> = first.structure().spaces.iter().map(|s| s.block).collect();
    let last = blocks.iter().copied().max().unwrap_or(0);
    let nets: Vec<Vgg> = nets.iter().map(|n| n.valid()).collect();
    let device = device.clone().inner();
    for (x, _) in loader.iter(0, &device) {
        let batch = x.dims()[0];
        // maps[net][block]
        let maps: Vec<Vec<SpaceMaps>> = nets
            .iter()
            .map(|net| {
                let mut per_block = Vec::with_capacity(last + 1);
                net.forward_inspect(x.clone(), last, |_, pre, post| per_block.push(SpaceMaps { pre: pre.clone(), post: post.clone() }));
                per_block
            })
            .collect();
        for (s, &block) in blocks.iter().enumerate() {
            let at_space: Vec<SpaceMaps> = maps.iter().map(|m| m[block].clone()).collect();
            visit(s, &at_space);
        }
        progress.inc(batch as u64);
    }
}

/// Joint statistics of `a` and `b` at `tap`, per hidden space, over one pass.
pub fn pair_stats(a: &Vgg, b: &Vgg, taps: &[Tap], loader: &Loader, device: &Device, progress: &ProgressBar) -> Vec<Vec<PairStats>> {
    let sizes: Vec<(usize, usize)> = a.structure().spaces.iter().zip(b.structure().spaces).map(|(x, y)| (x.size, y.size)).collect();
    let mut stats: Vec<Vec<PairStats>> = sizes.iter().map(|&(ca, cb)| taps.iter().map(|_| PairStats::new(ca, cb)).collect()).collect();
    stream(&[a, b], loader, device, progress, |s, maps| {
        for (t, &tap) in taps.iter().enumerate() {
            stats[s][t].update(maps[0].at(tap).clone(), maps[1].at(tap).clone());
        }
    });
    stats
}

/// Statistics of one network at `tap`, per hidden space, over one pass.
pub fn channel_stats(net: &Vgg, tap: Tap, loader: &Loader, device: &Device, progress: &ProgressBar) -> Vec<ChannelStats> {
    let mut stats: Vec<ChannelStats> = net.structure().spaces.iter().map(|s| ChannelStats::new(s.size)).collect();
    stream(&[net], loader, device, progress, |s, maps| stats[s].update(maps[0].at(tap).clone()));
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
