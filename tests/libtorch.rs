//! burn's LibTorch backend (`--device libtorch`) computes what flex computes: the same training,
//! the same merge and (through the patched burn-tch of vendor/burn-tch) the same convolution
//! gradients, up to floating-point summation order.
//!
//! Built only with the `libtorch` feature (linked against a local PyTorch 2.9.0; `just libtorch`
//! builds the binary, `just test-libtorch` these tests), so CI, which builds the default features,
//! does not run them.
#![cfg(feature = "libtorch")]

mod common;

use burn::module::Module;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use relu_symmetries::batches::prefers_channels_last;
use relu_symmetries::device::DeviceChoice;
use relu_symmetries::experiments::merge::{MergeConfig, Method, Partner, merge_experiment};
use relu_symmetries::merge::RepairMode;
use relu_symmetries::nets::ParamMap;
use relu_symmetries::train::{Checkpoint, ModelKind, TrainOptions, train};

fn max_param_diff(a: &ParamMap, b: &ParamMap) -> f32 {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "different parameter names");
    a.iter().map(|(k, x)| x.iter().zip(&b[k]).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max)).fold(0.0, f32::max)
}

#[test]
fn libtorch_is_the_backend_it_claims_to_be() {
    let d = DeviceChoice::Libtorch.resolve();
    assert_eq!(d.backend, "libtorch");
    assert!(d.description.starts_with("libtorch (CPU"), "{}", d.description);
}

#[test]
fn batches_are_channels_last_on_libtorch_only() {
    let libtorch = DeviceChoice::Libtorch.resolve().device;
    assert!(prefers_channels_last(&libtorch) && prefers_channels_last(&libtorch.clone().autodiff()));
    assert!(!prefers_channels_last(&Device::flex()) && !prefers_channels_last(&Device::flex().autodiff()));
}

/// `n` values spread over [-1, 1], different for each `seed`.
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0 - 1.0).collect()
}

/// The convolution's gradients on LibTorch (PyTorch's own backward kernels, vendor/burn-tch) equal
/// flex's (burn's generic formulas) for strides, dilations, groups and asymmetric padding.
#[test]
fn convolution_gradients_on_libtorch_equal_flexs_for_every_stride_padding_dilation_and_grouping() {
    let cases = [
        ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        ConvOptions::new([2, 2], [1, 1], [1, 1], 1),
        ConvOptions::new([1, 2], [0, 2], [2, 1], 1),
        ConvOptions::new([1, 1], [1, 1], [1, 1], 2),
        ConvOptions::new_with_padding([1, 2], [(0, 1), (2, 1)], [1, 1], 1),
    ];
    for options in cases {
        let gradients = |device: Device| {
            let dev = device.autodiff();
            let groups = options.groups;
            let x = Tensor::<4>::from_data(TensorData::new(values(3 * 4 * 9 * 8, 1), [3, 4, 9, 8]), &dev).require_grad();
            let w = Tensor::<4>::from_data(TensorData::new(values(6 * (4 / groups) * 9, 2), [6, 4 / groups, 3, 3]), &dev).require_grad();
            let y = conv2d(x.clone(), w.clone(), None, options.clone());
            let g = Tensor::<4>::from_data(TensorData::new(values(y.shape().num_elements(), 3), y.dims()), &dev);
            let grads = (y * g).sum().backward();
            let host = |t: Tensor<4>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
            (host(x.grad(&grads).unwrap()), host(w.grad(&grads).unwrap()))
        };
        let (x_flex, w_flex) = gradients(Device::flex());
        let (x_tch, w_tch) = gradients(DeviceChoice::Libtorch.resolve().device);
        for (what, a, b) in [("x", &x_flex, &x_tch), ("weight", &w_flex, &w_tch)] {
            assert_eq!(a.len(), b.len(), "{what}: shapes differ for {options:?}");
            let scale = a.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let diff = a.iter().zip(b).fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
            assert!(diff <= 1e-5 * scale, "{what} gradients differ by {diff} (scale {scale}) for {options:?}");
        }
    }
}

#[test]
fn training_on_libtorch_follows_flex_to_within_rounding() {
    let splits = tiny_splits(200, 100, 3);
    let cfg = quick_config(ModelKind::Vgg11Bn, 2, 4);
    let run = |choice: DeviceChoice, tag: &str| {
        let dir = temp_dir(tag);
        let opts = TrainOptions { out: dir.clone(), resume: false, progress: false, log_epochs: false, stop_after: None, keep_epochs: Vec::new() };
        let summary = train(&cfg, &splits, info(&splits), &choice.resolve(), &opts).expect("training runs");
        (summary, Checkpoint::open(&dir).unwrap().load_model(&Device::flex()).unwrap().to_params())
    };
    let (s_flex, p_flex) = run(DeviceChoice::Cpu, "tch-train-flex");
    let (s_tch, p_tch) = run(DeviceChoice::Libtorch, "tch-train-libtorch");
    let diff = max_param_diff(&p_flex, &p_tch);
    // measured: 2.4e-7 (PyTorch 2.9.0, 2026-12-06)
    assert!(diff < 1e-4, "weights after 8 steps differ by {diff}");
    // one test image in 100 may fall the other way at a near-tie
    assert!((s_flex.test.accuracy - s_tch.test.accuracy).abs() <= 0.01 + 1e-9, "{} vs {}", s_flex.test.accuracy, s_tch.test.accuracy);
    assert!((s_flex.test.loss - s_tch.test.loss).abs() < 1e-3, "{} vs {}", s_flex.test.loss, s_tch.test.loss);
}

#[test]
fn a_flip_self_merge_on_libtorch_finds_the_same_permutations_and_accuracies() {
    let (a, splits) = trained_net(ModelKind::Vgg11Bn, 5, "tch-merge");
    let cfg = MergeConfig {
        method: Method::Activation,
        repair: RepairMode::BnReset,
        alphas: vec![0.0, 0.5, 1.0],
        stats_images: 400,
        batch_size: 200,
        ..MergeConfig::default()
    };
    let on = |choice: DeviceChoice| {
        let device = choice.resolve().device;
        let net = a.clone().to_device(&device);
        merge_experiment(&net, Partner::Flip, &cfg, &splits, &device, false).unwrap()
    };
    let (flex, tch) = (on(DeviceChoice::Cpu), on(DeviceChoice::Libtorch));
    assert_eq!(flex.alignment.perms, tch.alignment.perms, "the matching differs");
    for (p, q) in flex.curve.iter().zip(&tch.curve) {
        assert!((p.accuracy - q.accuracy).abs() <= 1.0 / 250.0 + 1e-9, "α = {}: {} vs {}", p.alpha, p.accuracy, q.accuracy);
        assert!((p.loss - q.loss).abs() < 1e-4, "α = {}: {} vs {}", p.alpha, p.loss, q.loss);
    }
}
