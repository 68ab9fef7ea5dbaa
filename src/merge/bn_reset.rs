//! BatchNorm reset: recompute running statistics over a data pass, exactly.
//!
//! As REPAIR's `reset_bn_stats` (PyTorch with `momentum=None`): every BatchNorm normalises with
//! the batch's own statistics during the pass, and its running mean and variance become the plain
//! average over batches of the batch means and unbiased batch variances — not an exponential
//! moving average. Every BatchNorm of the network is reset (VGG: one per conv; ResNet: the stem's,
//! both of every block, and every projection shortcut's), through the BatchNorm hook of
//! [`Network::forward_hooked`].

use std::collections::BTreeMap;

use burn::nn::BatchNorm;
use burn::tensor::module::batch_norm_train;
use burn::tensor::{Device, Tensor};
use indicatif::ProgressBar;
use ndarray::{Array1, Ix1};

use crate::batches::Loader;
use crate::nets::{ForwardHooks, Network, ParamMap, tensor_to_array};

/// Per BatchNorm layer, the sums over batches of the per-channel batch mean and variance of a
/// map, for the averages that BN reset and REPAIR's BatchNorm pass take over a data pass.
#[derive(Default)]
pub(super) struct BatchMoments {
    /// Layer → (Σ batch means, Σ batch variances), each `[C]`.
    sums: BTreeMap<String, (Array1<f64>, Array1<f64>)>,
}

impl BatchMoments {
    /// Adds one batch's `[1, C, 1, 1]` mean and variance of `layer`'s map.
    pub(super) fn add(&mut self, layer: &str, mean: Tensor<4>, var: Tensor<4>) {
        let c = mean.dims()[1];
        let host = |t: Tensor<4>| tensor_to_array(t.reshape([c])).mapv(f64::from).into_dimensionality::<Ix1>().expect("1-D");
        let (m, v) = (host(mean), host(var));
        let entry = self.sums.entry(layer.to_string()).or_insert_with(|| (Array1::zeros(c), Array1::zeros(c)));
        entry.0 += &m;
        entry.1 += &v;
    }

    /// Per layer seen, the average batch mean and variance over `batches` batches.
    pub(super) fn into_averages(self, batches: usize) -> BTreeMap<String, (Array1<f64>, Array1<f64>)> {
        let k = batches.max(1) as f64;
        self.sums.into_iter().map(|(layer, (m, v))| (layer, (m / k, v / k))).collect()
    }
}

/// Streams `loader` through `net` (already in inference mode) with `hooks`; returns the number
/// of batches.
pub(super) fn hooked_pass<N: Network>(net: &N, hooks: &mut dyn ForwardHooks, loader: &Loader, device: &Device, progress: &ProgressBar) -> usize {
    let mut batches = 0usize;
    for (x, _) in loader.iter(0, device) {
        let b = x.dims()[0];
        let _ = net.forward_hooked(x, hooks);
        batches += 1;
        progress.inc(b as u64);
    }
    batches
}

/// Normalises every BatchNorm with batch statistics and sums those statistics per layer (the
/// variance unbiased, as PyTorch's running statistics are). The normalisation and the statistics
/// are one call of the backend's training-mode BatchNorm (`aten::native_batch_norm` on LibTorch).
#[derive(Default)]
struct BatchStatistics(BatchMoments);

impl ForwardHooks for BatchStatistics {
    fn batch_norm(&mut self, layer: &str, bn: &BatchNorm, z: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = z.dims();
        let count = (n * h * w) as f32;
        let out = batch_norm_train(z, bn.gamma.val(), bn.beta.val(), bn.epsilon);
        let unbiased = count / (count - 1.0).max(1.0);
        self.0.add(layer, out.mean.reshape([1, c, 1, 1]), out.variance.reshape([1, c, 1, 1]) * unbiased);
        out.output
    }
}

/// `net` with every BatchNorm's running statistics recomputed over one pass of `loader`.
/// A net without BatchNorm is returned unchanged.
pub fn reset_batch_norm<N: Network>(net: &N, loader: &Loader, device: &Device, progress: &ProgressBar) -> N {
    if !net.has_batch_norm() {
        return net.clone();
    }
    let model = net.for_inference();
    let device = device.clone().inner();
    let mut hooks = BatchStatistics::default();
    let batches = hooked_pass(&model, &mut hooks, loader, &device, progress);
    let mut params = ParamMap::new();
    for (layer, (m, v)) in hooks.0.into_averages(batches) {
        params.insert(format!("{layer}.running_mean"), m.mapv(|x| x as f32).into_dyn());
        params.insert(format!("{layer}.running_var"), v.mapv(|x| x as f32).into_dyn());
    }
    net.with_params(&params)
}
