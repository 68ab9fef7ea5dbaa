//! Generated from notebooks/04-gcnn.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused)]
#[rustfmt::skip]
fn main() {

    use relu_symmetries::nets::{GcnnConfig, VggConfig};
    let d = burn::tensor::Device::flex();
    let g = GcnnConfig { vgg: VggConfig::vgg11(0.25), self_fraction: 0.25 }.init(&d, 0).unwrap();
    let net = g.export();
    let x = relu_symmetries::testing::random_images(&d, 2, 3, 32, 1);
    println!("invariance error {}", relu_symmetries::testing::max_abs_diff(net.forward(x.clone()), net.forward(x.flip([3]))));
    println!("layouts {:?}", g.layouts());
}
