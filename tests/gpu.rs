//! The wgpu backend: a few training steps and a forward pass compared with flex.
//!
//! Runs on any wgpu adapter, including Mesa's software Vulkan driver (lavapipe). Built only with
//! the `gpu` feature, and then listed as *ignored* by a plain `cargo test --features gpu` (stable
//! Rust has no run-time skip, and a test that returns early on a machine without an adapter would
//! report "passed" for a check it never made); run it with `cargo test --features gpu --test gpu
//! -- --ignored` (`just test-gpu`), which fails if no adapter exists. `.ci/run` type-checks it
//! (`cargo check --features gpu --all-targets`) without running it.

#![cfg(feature = "gpu")]

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, DeviceKind, Int, Tensor, TensorData};
use relu_symmetries::device::wgpu_adapters;
use relu_symmetries::nets::VggConfig;
use relu_symmetries::testing::random_images;

#[test]
#[ignore = "needs a wgpu adapter (lavapipe: mesa-vulkan-drivers); run with --ignored"]
fn wgpu_trains_and_matches_flex_forward() {
    let adapters = wgpu_adapters();
    assert!(!adapters.is_empty(), "no wgpu adapter: install mesa-vulkan-drivers (lavapipe) or run on a machine with a GPU");
    eprintln!("wgpu adapters: {adapters:?}");
    let gpu = Device::wgpu(DeviceKind::DefaultDevice);
    let cpu = Device::flex();
    let cfg = VggConfig::vgg11(0.0625);
    let net_cpu = cfg.init(&cpu, 3).unwrap();
    let net_gpu = cfg.init(&gpu, 3).unwrap();
    assert_eq!(net_cpu.to_params(), net_gpu.to_params(), "host-side init is device-independent");
    let x_cpu = random_images(&cpu, 4, 3, 32, 1);
    let x_gpu = random_images(&gpu, 4, 3, 32, 1);
    let y_cpu = net_cpu.forward(x_cpu).into_data().try_into_vec::<f32>().unwrap();
    let y_gpu = net_gpu.forward(x_gpu).into_data().try_into_vec::<f32>().unwrap();
    let scale = y_cpu.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let err = y_cpu.iter().zip(&y_gpu).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max) / scale;
    assert!(err < 1e-3, "wgpu and flex forward passes differ by {err} (relative)");

    let ad = gpu.autodiff();
    let mut model = cfg.init(&ad, 4).unwrap();
    let mut optim = SgdConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let x = random_images(&ad, 8, 3, 32, 2);
    let y = Tensor::<1, Int>::from_data(TensorData::new((0..8i64).map(|i| i % 10).collect::<Vec<_>>(), [8]), &ad);
    let mut losses = Vec::new();
    for _ in 0..3 {
        let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
        losses.push(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.05, model, grads);
    }
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(losses[2] < losses[0], "loss did not fall on wgpu: {losses:?}");
    let _ = model.valid();
}
