//! REPAIR's activation matching: align channels by the correlation of their activations.
//!
//! Stream data through both networks; for every hidden space (a conv's output, after ReLU and
//! before pooling) accumulate channel means, variances and the channel-by-channel covariance over
//! all N·H·W positions ([`crate::stats::PairStats`]: centred per batch on the device in f32,
//! combined in f64 on the host), then solve a linear assignment maximising the summed Pearson
//! correlation. The permutation `p` found for a space is applied to the second network, so its
//! new channel `i` is its old channel `p(i)`, the one most correlated with channel `i` of the first.
//!
//! # Dead channels
//!
//! A channel whose activation is constant over the stream (a dead ReLU: zero on every position)
//! has no correlation with anything: its row of the correlation matrix is NaN, and an assignment
//! solver would place it arbitrarily, inflating every measure computed from the permutation.
//! Such channels ([`live_channels`] says which are not) are therefore matched only to each other,
//! and live channels only to live channels (if the two networks have different numbers of dead
//! channels, the surplus live channels of one side fill the other side's dead slots). Among dead
//! channels the assignment follows the correlation of their *pre-activations* (conv + BN output,
//! which a dead ReLU hides but which is not constant), and the identity where that is undefined
//! too. The pre-activations matter: a channel dead on the statistics stream may fire on other
//! images, and in a GCNN a dead mirror pair matched by identity instead of to each other would
//! break the exact equivariance of the merge. The matched correlation is the mean over live–live
//! pairs only; the dead counts are reported beside it.
//!
//! # Residual streams: several taps per space
//!
//! A ResNet's residual stream is one hidden space written by several layers (the stem or a
//! projection, then every block of the stage), and one permutation must serve all of them. Its
//! statistics are taken at every tap point of the space (the stream after each layer writing into
//! it, [`crate::nets::Network::tap_points`]) and the correlation matrices of those taps are
//! averaged before the assignment (each entry over the taps where it is defined), as Git Re-Basin
//! and REPAIR do for ResNets: a permutation is scored by how well it aligns the stream after
//! every block, not after one chosen block. A channel is live when it is live at any tap; dead
//! channels are ordered by the averaged pre-activation correlation. With one tap per space (VGG)
//! all of this is the plain per-layer matching.
//!
//! REPAIR matches layers front to back, recomputing the second network's activations after each
//! permutation. Permuting a hidden space (outputs of one layer and inputs of the next) leaves every
//! other space's activations unchanged, so that recomputation yields the same statistics as one
//! joint pass; this module makes the one pass, and the test
//! `one_pass_equals_layer_by_layer_recomputation` checks the equivalence.

use burn::tensor::Device;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::{Perm, PermSet, assign_max};
use crate::activations::{Tap, pair_stats};
use crate::batches::Loader;
use crate::nets::Network;
use crate::stats::{ChannelStats, PairStats};

/// Result of activation matching.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActivationMatching {
    /// One permutation per hidden space, to apply to the second network.
    pub perms: PermSet,
    /// Per space, the mean correlation of matched live–live channel pairs after alignment.
    pub matched_corr: Vec<f64>,
    /// Per space, the mean correlation of channel `i` with channel `i` before alignment (over
    /// channels live in both networks).
    pub identity_corr: Vec<f64>,
    /// Per space, which channels of the first network are live (not constant over the stream).
    pub live_a: Vec<Vec<bool>>,
    /// Per space, which channels of the second network are live.
    pub live_b: Vec<Vec<bool>>,
    /// Images streamed.
    pub images: usize,
    /// Whether the stream was augmented.
    pub augmented: bool,
}

/// Joint statistics of one hidden space of two networks, one entry per tap point of the space
/// (one in VGG; a ResNet's residual stream has one per layer writing into it).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerStats {
    /// Of the activations (after ReLU), per tap: what is matched.
    pub post: Vec<PairStats>,
    /// Of the pre-activations (before ReLU), per tap: what orders the dead channels.
    pub pre: Vec<PairStats>,
}

impl LayerStats {
    /// Correlation of the activations, averaged over the taps (entry-wise over the taps where it
    /// is finite; NaN where it is nowhere). `[C_a, C_b]`.
    pub fn post_corr(&self) -> ndarray::Array2<f64> {
        mean_corr(&self.post)
    }

    /// Correlation of the pre-activations, averaged like [`LayerStats::post_corr`].
    pub fn pre_corr(&self) -> ndarray::Array2<f64> {
        mean_corr(&self.pre)
    }

    /// Which channels of the first network are live (at some tap).
    pub fn live_a(&self) -> Vec<bool> {
        any_live(self.post.iter().map(|s| &s.a))
    }

    /// Which channels of the second network are live (at some tap).
    pub fn live_b(&self) -> Vec<bool> {
        any_live(self.post.iter().map(|s| &s.b))
    }
}

fn mean_corr(taps: &[PairStats]) -> ndarray::Array2<f64> {
    let corrs: Vec<ndarray::Array2<f64>> = taps.iter().map(PairStats::corr).collect();
    let Some(first) = corrs.first() else { return ndarray::Array2::zeros((0, 0)) };
    ndarray::Array2::from_shape_fn(first.dim(), |ij| {
        let (mut sum, mut n) = (0.0, 0usize);
        for c in &corrs {
            if c[ij].is_finite() {
                sum += c[ij];
                n += 1;
            }
        }
        if n == 0 { f64::NAN } else { sum / n as f64 }
    })
}

fn any_live<'a>(stats: impl Iterator<Item = &'a ChannelStats>) -> Vec<bool> {
    let mut out: Vec<bool> = Vec::new();
    for s in stats {
        let live = live_channels(s);
        if out.is_empty() {
            out = live;
        } else {
            out.iter_mut().zip(live).for_each(|(o, l)| *o |= l);
        }
    }
    out
}

/// Activation statistics of every hidden space of two networks over one pass of `loader`, one
/// [`LayerStats`] per space (in the order of the structure), gathering each space's tap points.
pub fn activation_stats<N: Network>(a: &N, b: &N, loader: &Loader, device: &Device, progress: &ProgressBar) -> Vec<LayerStats> {
    let n_spaces = a.structure().spaces.len();
    let mut out: Vec<LayerStats> = (0..n_spaces).map(|_| LayerStats { post: Vec::new(), pre: Vec::new() }).collect();
    let per_tap = pair_stats(a, b, &[Tap::Post, Tap::Pre], loader, device, progress);
    for (tap, mut views) in a.tap_points().into_iter().zip(per_tap) {
        let pre = views.pop().expect("two views");
        let post = views.pop().expect("two views");
        out[tap.space].post.push(post);
        out[tap.space].pre.push(pre);
    }
    out
}

/// A channel counts as dead (constant) when its standard deviation over the stream is at most
/// this fraction of the largest one in its layer (exactly dead ReLUs have 0).
pub const DEAD_RELATIVE_STD: f64 = 1e-6;

/// Which channels are live: standard deviation above [`DEAD_RELATIVE_STD`] times the layer's largest.
pub fn live_channels(stats: &ChannelStats) -> Vec<bool> {
    let std = stats.std();
    let max = std.iter().copied().fold(0.0f64, f64::max);
    std.iter().map(|&s| s > DEAD_RELATIVE_STD * max && s > 0.0).collect()
}

// ANCHOR: perms_from_stats
/// Permutations aligning `b` to `a` from correlation statistics (one per hidden space); dead
/// channels are matched among themselves (see the module docs).
pub fn perms_from_stats(stats: &[LayerStats]) -> ActivationMatching {
    let mut out = ActivationMatching {
        perms: Vec::new(),
        matched_corr: Vec::new(),
        identity_corr: Vec::new(),
        live_a: Vec::new(),
        live_b: Vec::new(),
        images: 0,
        augmented: false,
    };
    for st in stats {
        let corr = st.post_corr();
        let pre = st.pre_corr();
        let (la, lb) = (st.live_a(), st.live_b());
        // live–live: the activation correlation; dead–dead: the pre-activation correlation, a
        // hair more on the diagonal (identity breaks exact ties); live–dead: below anything else,
        // so as many live–live pairs as possible are formed. With equal dead counts the two
        // blocks are independent assignment problems, so their scales do not interact.
        let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
        let score = ndarray::Array2::from_shape_fn(corr.dim(), |(i, j)| match (la[i], lb[j]) {
            (true, true) => finite(corr[[i, j]]),
            (false, false) => finite(pre[[i, j]]) + if i == j { 1e-9 } else { 0.0 },
            _ => -3.0,
        });
        let p = assign_max(&score);
        let mean_over = |pairs: &mut dyn Iterator<Item = (usize, usize)>| {
            let (mut sum, mut n) = (0.0, 0usize);
            for (i, j) in pairs {
                if la[i] && lb[j] && corr[[i, j]].is_finite() {
                    sum += corr[[i, j]];
                    n += 1;
                }
            }
            if n == 0 { 0.0 } else { sum / n as f64 }
        };
        out.matched_corr.push(mean_over(&mut (0..p.len()).map(|i| (i, p.get(i)))));
        out.identity_corr.push(mean_over(&mut (0..p.len().min(lb.len())).map(|i| (i, i))));
        out.perms.push(p);
        out.live_a.push(la);
        out.live_b.push(lb);
    }
    out
}

// ANCHOR_END: perms_from_stats
/// Align `b` to `a` by activation matching over one pass of `loader`.
pub fn activation_matching<N: Network>(a: &N, b: &N, loader: &Loader, device: &Device, progress: &ProgressBar) -> ActivationMatching {
    let stats = activation_stats(a, b, loader, device, progress);
    let mut m = perms_from_stats(&stats);
    m.images = loader.images();
    m.augmented = loader.is_augmented();
    m
}

/// The identity permutation on each hidden space of `net`.
pub fn identity_for<N: Network>(net: &N) -> PermSet {
    net.structure().spaces.iter().map(|s| Perm::identity(s.size)).collect()
}
