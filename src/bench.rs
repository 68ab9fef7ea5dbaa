//! Throughput benchmark: training and inference images per second of VGG11 on a device.

use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::batches::{LayoutChoice, choose_layout, prefers_channels_last, random_batch};
use crate::device::ChosenDevice;
use crate::nets::{VggConfig, VggError};

/// Throughput of one width.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchRow {
    /// Width multiplier.
    pub width: f64,
    /// BatchNorm on.
    pub batch_norm: bool,
    /// Batch size.
    pub batch: usize,
    /// Training images/s (forward, backward, SGD step), mean over the timed steps.
    pub train_images_per_s: f64,
    /// Inference images/s (forward only, no autodiff).
    pub infer_images_per_s: f64,
    /// Timed training steps.
    pub train_steps: usize,
    /// Parameters.
    pub params: usize,
    /// The layout of the inputs, as measured or fixed before the timed steps
    /// ([`choose_layout`]; absent in reports written before it existed).
    #[serde(default)]
    pub layout: Option<LayoutChoice>,
}

/// Measure training and inference throughput of VGG11 at `width` on `device`: `warmup` untimed
/// steps, then `steps` timed ones (each ends with a read of the loss, so device work is included).
/// The random inputs are laid out in memory as the trainer's batches are on `device`: the layout
/// is chosen first, by timing a training step in both ([`choose_layout`]; LibTorch only).
pub fn bench_width(device: &ChosenDevice, width: f64, batch_norm: bool, batch: usize, warmup: usize, steps: usize) -> Result<BenchRow, VggError> {
    let ad = device.device.clone().autodiff();
    let mut model = VggConfig::vgg11(width).with_batch_norm(batch_norm).init(&ad, 0)?;
    let params = model.num_params();
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig { momentum: 0.9, dampening: 0.0, nesterov: false }))
        .with_weight_decay(Some(WeightDecayConfig::new(5e-4)))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let y = Tensor::<1, Int>::from_data(TensorData::new((0..batch as i64).map(|i| i % 10).collect::<Vec<_>>(), [batch]), &ad);
    let layout = choose_layout(&ad, [batch, 3, 32, 32], |x| {
        let _ = GradientsParams::from_grads(loss_fn.forward(model.forward(x), y.clone()).backward(), &model);
    });
    let x = random_batch([batch, 3, 32, 32], prefers_channels_last(&ad), &ad);
    let mut timed = 0.0;
    for s in 0..warmup + steps {
        let t = Instant::now();
        let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.01, model, grads);
        let _ = loss.into_scalar::<f32>();
        let _ = model.head.weight.val().sum().into_scalar::<f32>();
        if s >= warmup {
            timed += t.elapsed().as_secs_f64();
        }
    }
    let inference = model.valid();
    let xi = random_batch([batch, 3, 32, 32], prefers_channels_last(&device.device), &device.device);
    let _ = inference.forward(xi.clone()).sum().into_scalar::<f32>();
    let reps = steps.max(1);
    let t = Instant::now();
    for _ in 0..reps {
        let _ = inference.forward(xi.clone()).sum().into_scalar::<f32>();
    }
    let infer = t.elapsed().as_secs_f64();
    Ok(BenchRow {
        width,
        batch_norm,
        batch,
        train_images_per_s: (batch * steps) as f64 / timed.max(1e-9),
        infer_images_per_s: (batch * reps) as f64 / infer.max(1e-9),
        train_steps: steps,
        params,
        layout: Some(layout),
    })
}
