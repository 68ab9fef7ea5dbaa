//! REPAIR's activation matching: align channels by the correlation of their activations.
//!
//! Stream data through both networks; for every hidden space (a conv's output, after ReLU and
//! before pooling) accumulate channel means, variances and the channel-by-channel covariance over
//! all N·H·W positions ([`crate::stats::PairStats`]: centred per batch on the device in f32,
//! combined in f64 on the host), then solve a linear assignment maximising the summed Pearson
//! correlation. The permutation `p` found for a space is applied to the second network, so its
//! new channel `i` is its old channel `p(i)`, the one most correlated with channel `i` of the first.
//!
//! REPAIR matches layers front to back, recomputing the second network's activations after each
//! permutation. Permuting a hidden space (outputs of one layer and inputs of the next) leaves every
//! other space's activations unchanged, so that recomputation yields the same statistics as one
//! joint pass; this module makes the one pass, and the test
//! `one_pass_equals_layer_by_layer_recomputation` checks the equivalence.

use burn::module::Module;
use burn::tensor::Device;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::{Perm, PermSet, assign_max};
use crate::batches::Loader;
use crate::nets::Vgg;
use crate::stats::PairStats;

/// Result of activation matching.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActivationMatching {
    /// One permutation per hidden space, to apply to the second network.
    pub perms: PermSet,
    /// Per space, the mean correlation of matched channel pairs after alignment.
    pub matched_corr: Vec<f64>,
    /// Per space, the mean correlation of channel `i` with channel `i` before alignment.
    pub identity_corr: Vec<f64>,
    /// Images streamed.
    pub images: usize,
    /// Whether the stream was augmented.
    pub augmented: bool,
}

/// Activation statistics of every hidden space of two networks over one pass of `loader`.
pub fn activation_stats(a: &Vgg, b: &Vgg, loader: &Loader, device: &Device, progress: &ProgressBar) -> Vec<PairStats> {
    let (a, b) = (a.valid(), b.valid());
    let device = device.clone().inner();
    let n = a.convs.len();
    let mut stats: Vec<PairStats> = a
        .conv_channels()
        .into_iter()
        .zip(b.conv_channels())
        .map(|(ca, cb)| PairStats::new(ca, cb))
        .collect();
    for (x, _) in loader.iter(0, &device) {
        let batch = x.dims()[0];
        let mut posts_a = Vec::with_capacity(n);
        a.forward_inspect(x.clone(), n - 1, |_, _, post| posts_a.push(post.clone()));
        let mut i = 0;
        b.forward_inspect(x, n - 1, |_, _, post| {
            stats[i].update(posts_a[i].clone(), post.clone());
            i += 1;
        });
        progress.inc(batch as u64);
    }
    stats
}

// ANCHOR: perms_from_stats
/// Permutations aligning `b` to `a` from correlation statistics (one per hidden space).
pub fn perms_from_stats(stats: &[PairStats]) -> ActivationMatching {
    let mut perms = Vec::new();
    let (mut matched, mut ident) = (Vec::new(), Vec::new());
    for s in stats {
        let corr = s.corr();
        let p = assign_max(&corr);
        let n = p.len().max(1) as f64;
        let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
        matched.push((0..p.len()).map(|i| finite(corr[[i, p.get(i)]])).sum::<f64>() / n);
        ident.push((0..p.len()).map(|i| finite(corr[[i, i]])).sum::<f64>() / n);
        perms.push(p);
    }
    ActivationMatching { perms, matched_corr: matched, identity_corr: ident, images: 0, augmented: false }
}

// ANCHOR_END: perms_from_stats
/// Align `b` to `a` by activation matching over one pass of `loader`.
pub fn activation_matching(a: &Vgg, b: &Vgg, loader: &Loader, device: &Device, progress: &ProgressBar) -> ActivationMatching {
    let stats = activation_stats(a, b, loader, device, progress);
    let mut m = perms_from_stats(&stats);
    m.images = loader.images();
    m.augmented = loader.is_augmented();
    m
}

/// The identity permutation on each hidden space of `net`.
pub fn identity_for(net: &Vgg) -> PermSet {
    net.conv_channels().into_iter().map(Perm::identity).collect()
}
