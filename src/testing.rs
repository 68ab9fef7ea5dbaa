//! Small helpers shared by the crate's unit tests and integration tests.

use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A batch `[n, c, size, size]` of standard-normal-ish random values (seeded, host-generated).
pub fn random_images(device: &Device, n: usize, c: usize, size: usize, seed: u64) -> Tensor<4> {
    let mut rng = StdRng::seed_from_u64(seed);
    let len = n * c * size * size;
    // sum of uniforms: cheap, zero mean, unit-ish variance
    let v: Vec<f32> = (0..len).map(|_| (0..4).map(|_| rng.random_range(-1.0f32..1.0)).sum::<f32>() * 0.866).collect();
    Tensor::from_data(TensorData::new(v, [n, c, size, size]), device)
}

/// max |a − b| over all entries.
pub fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}
