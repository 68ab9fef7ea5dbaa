//! Generated from notebooks/06-speed.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused)]
#[rustfmt::skip]
fn main() {

    let dev = relu_symmetries::device::DeviceChoice::Cpu.resolve();
    let row = relu_symmetries::bench::bench_width(&dev, 0.25, false, 100, 1, 2).unwrap();
    println!("{row:?}");
}
