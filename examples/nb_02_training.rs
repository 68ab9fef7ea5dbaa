//! Generated from notebooks/02-training.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused)]
#[rustfmt::skip]
fn main() {

    use relu_symmetries::{data::SyntheticSpec, device::DeviceChoice, train::*};
    let splits = SyntheticSpec { n_train: 600, n_test: 200, ..SyntheticSpec::default() }.generate();
    let info = relu_symmetries::data::DatasetInfo::describe(relu_symmetries::data::DatasetKind::Synthetic, None, &splits);
    let cfg = TrainConfig { model: ModelKind::Vgg11Bn, width: 0.125, epochs: 3, batch_size: 50, warmup_epochs: 0.5, ..TrainConfig::default() };
    let opts = TrainOptions { out: "/tmp/nb-train".into(), resume: false, progress: false, log_epochs: true, stop_after: None, keep_epochs: Vec::new() };
    let summary = train(&cfg, &splits, info, &DeviceChoice::Cpu.resolve(), &opts).unwrap();
    println!("test accuracy {:.3}, flip agreement {:.3}", summary.test.accuracy, summary.test.flip_agreement);

    use relu_symmetries::{nets::VggConfig, testing::*};
    let d = burn::tensor::Device::flex();
    let net = VggConfig::vgg11(0.25).init(&d, 1).unwrap();
    let x = random_images(&d, 2, 3, 32, 2);
    println!("max |f_flipped(x) - f(hflip x)| = {}", max_abs_diff(net.flipped().forward(x.clone()), net.forward(x.flip([3]))));
}
