//! Seeded, host-side parameter initialisation.
//!
//! Weights are drawn on the host from a seeded [`StdRng`] and then uploaded, so the same seed
//! gives bit-identical initial weights on every device (flex, wgpu) and thread count.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A seeded source of initial parameters.
pub struct ParamInit {
    rng: StdRng,
}

impl ParamInit {
    /// A source seeded by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed) }
    }

    /// `U(-bound, bound)` values of the given shape as a trainable parameter.
    pub fn uniform<const D: usize>(&mut self, shape: [usize; D], bound: f64, device: &Device) -> Param<Tensor<D>> {
        Param::from_tensor(init_uniform(&mut self.rng, shape, bound, device))
    }

    /// `N(0, std²)` values of the given shape as a trainable parameter.
    pub fn normal<const D: usize>(&mut self, shape: [usize; D], std: f64, device: &Device) -> Param<Tensor<D>> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| (standard_normal(&mut self.rng) * std) as f32).collect();
        Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// All zeros as a trainable parameter.
    pub fn zeros<const D: usize>(&mut self, shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
        Param::from_tensor(Tensor::zeros(shape, device))
    }

    /// PyTorch's default for conv and linear layers (Kaiming uniform with a = √5):
    /// weights and biases `U(-1/√fan_in, 1/√fan_in)`.
    pub fn torch_default<const D: usize>(&mut self, shape: [usize; D], fan_in: usize, device: &Device) -> Param<Tensor<D>> {
        self.uniform(shape, 1.0 / (fan_in as f64).sqrt(), device)
    }

    /// A bias-free `k × k` convolution `c_in → c_out` with "same" padding (`k / 2`) and the given
    /// stride, its weights Kaiming-normal in fan-out mode with the ReLU gain,
    /// `N(0, 2 / (k² c_out))` (torchvision's ResNet initialisation).
    pub fn kaiming_conv(&mut self, c_out: usize, c_in: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
        Conv2d {
            weight: self.normal([c_out, c_in, k, k], (2.0 / (k * k * c_out) as f64).sqrt(), device),
            bias: None,
            stride: [stride, stride],
            kernel_size: [k, k],
            dilation: [1, 1],
            groups: 1,
            padding: PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2),
        }
    }
}

/// A tensor of `U(-bound, bound)` values drawn from `rng`.
pub fn init_uniform<const D: usize>(rng: &mut StdRng, shape: [usize; D], bound: f64, device: &Device) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..bound) as f32).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// One standard-normal draw (Box–Muller from two uniforms).
pub fn standard_normal(rng: &mut impl rand::Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
