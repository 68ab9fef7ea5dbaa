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
use burn::tensor::{Device, Tensor};
use indicatif::ProgressBar;
use ndarray::{Array1, Ix1};

use crate::batches::Loader;
use crate::nets::{ForwardHooks, Network, ParamMap, tensor_to_array};

/// Normalises every BatchNorm with batch statistics and sums those statistics per layer.
#[derive(Default)]
struct BatchStatistics {
    /// Layer → (Σ batch means, Σ unbiased batch variances), each `[C]`.
    sums: BTreeMap<String, (Array1<f64>, Array1<f64>)>,
}

impl ForwardHooks for BatchStatistics {
    fn batch_norm(&mut self, layer: &str, bn: &BatchNorm, z: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = z.dims();
        let count = (n * h * w) as f32;
        let mean = z.clone().mean_dim(0).mean_dim(2).mean_dim(3); // [1, C, 1, 1]
        let centred = z - mean.clone();
        let var = centred.clone().powi_scalar(2).mean_dim(0).mean_dim(2).mean_dim(3);
        let scale = bn.gamma.val().reshape([1, c, 1, 1]) / (var.clone() + bn.epsilon).sqrt();
        let y = centred * scale + bn.beta.val().reshape([1, c, 1, 1]);
        let unbiased = var * (count / (count - 1.0).max(1.0));
        let host = |t: Tensor<4>| tensor_to_array(t.reshape([c])).mapv(f64::from).into_dimensionality::<Ix1>().expect("1-D");
        let (m, v) = (host(mean), host(unbiased));
        let entry = self.sums.entry(layer.to_string()).or_insert_with(|| (Array1::zeros(c), Array1::zeros(c)));
        entry.0 += &m;
        entry.1 += &v;
        y
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
    let mut batches = 0usize;
    for (x, _) in loader.iter(0, &device) {
        let b = x.dims()[0];
        let _ = model.forward_hooked(x, &mut hooks);
        batches += 1;
        progress.inc(b as u64);
    }
    let k = batches.max(1) as f64;
    let mut params = ParamMap::new();
    for (layer, (m, v)) in hooks.sums {
        params.insert(format!("{layer}.running_mean"), (m / k).mapv(|x| x as f32).into_dyn());
        params.insert(format!("{layer}.running_var"), (v / k).mapv(|x| x as f32).into_dyn());
    }
    net.with_params(&params)
}
