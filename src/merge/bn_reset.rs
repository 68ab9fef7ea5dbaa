//! BatchNorm reset: recompute running statistics over a data pass, exactly.
//!
//! As REPAIR's `reset_bn_stats` (PyTorch with `momentum=None`): every BatchNorm normalises with
//! the batch's own statistics during the pass, and its running mean and variance become the plain
//! average over batches of the batch means and unbiased batch variances — not an exponential
//! moving average.

use burn::module::Module;
use burn::tensor::Device;
use burn::tensor::activation::relu;
use indicatif::ProgressBar;
use ndarray::Array1;

use crate::batches::Loader;
use crate::nets::{ParamMap, Vgg, tensor_to_array};

/// `net` with every BatchNorm's running statistics recomputed over one pass of `loader`.
/// A net without BatchNorm is returned unchanged.
pub fn reset_batch_norm(net: &Vgg, loader: &Loader, device: &Device, progress: &ProgressBar) -> Vgg {
    if !net.has_batch_norm() {
        return net.clone();
    }
    let model = net.valid();
    let device = device.clone().inner();
    let mut sums: Vec<(Array1<f64>, Array1<f64>)> = model.conv_channels().iter().map(|&c| (Array1::zeros(c), Array1::zeros(c))).collect();
    let mut batches = 0usize;
    for (x, _) in loader.iter(0, &device) {
        let b = x.dims()[0];
        let mut x = x;
        for (i, (conv, bn)) in model.convs.iter().zip(&model.norms).enumerate() {
            let z = conv.forward(x);
            let [bn_, c, h, w] = z.dims();
            let count = (bn_ * h * w) as f32;
            let mean = z.clone().mean_dim(0).mean_dim(2).mean_dim(3); // [1, C, 1, 1]
            let centred = z - mean.clone();
            let var = centred.clone().powi_scalar(2).mean_dim(0).mean_dim(2).mean_dim(3);
            let scale = bn.gamma.val().reshape([1, c, 1, 1]) / (var.clone() + bn.epsilon).sqrt();
            let y = centred * scale + bn.beta.val().reshape([1, c, 1, 1]);
            let unbiased = var * (count / (count - 1.0).max(1.0));
            let m = tensor_to_array(mean.reshape([c]));
            let v = tensor_to_array(unbiased.reshape([c]));
            sums[i].0 += &m.mapv(f64::from).into_dimensionality::<ndarray::Ix1>().expect("1-D");
            sums[i].1 += &v.mapv(f64::from).into_dimensionality::<ndarray::Ix1>().expect("1-D");
            x = model.pool_if_after(i, relu(y));
        }
        batches += 1;
        progress.inc(b as u64);
    }
    let k = batches.max(1) as f64;
    let structure = net.structure();
    let mut params = ParamMap::new();
    for (i, (m, v)) in sums.into_iter().enumerate() {
        let (Some(mean), Some(var)) = (structure.batch_norm_param(i, "running_mean"), structure.batch_norm_param(i, "running_var")) else { continue };
        params.insert(mean.to_string(), (m / k).mapv(|x| x as f32).into_dyn());
        params.insert(var.to_string(), (v / k).mapv(|x| x as f32).into_dyn());
    }
    net.with_params(&params)
}
