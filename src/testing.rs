//! Small helpers shared by the crate's unit tests and integration tests.

use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::align::{Perm, PermSpec, identity_perms, random_perms};
use crate::nets::Network;

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

/// `net` with every BatchNorm's running variance and γ drawn from U(0.5, 1.5) and its running
/// mean and β from U(−0.5, 0.5) (seeded): permuting or resetting such BatchNorms is not
/// trivially harmless, and no ReLU is dead on random images.
pub fn with_random_batch_norms<N: Network>(net: &N, seed: u64) -> N {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut params = net.to_params();
    for (name, a) in params.iter_mut() {
        if name.ends_with("running_var") || name.ends_with("gamma") {
            a.mapv_inplace(|_| rng.random_range(0.5f32..1.5));
        } else if name.ends_with("running_mean") || name.ends_with("beta") {
            a.mapv_inplace(|_| rng.random_range(-0.5f32..0.5));
        }
    }
    net.with_params(&params)
}

/// max |y_a − y_b| / max |y_a| between the logits of two networks (in inference mode) on four
/// random 32 × 32 images drawn from `seed`.
pub fn relative_logit_diff<N: Network>(a: &N, b: &N, seed: u64) -> f32 {
    let x = random_images(&Device::flex(), 4, 3, 32, seed);
    let (ya, yb) = (a.for_inference().forward(x.clone()), b.for_inference().forward(x));
    relative_diff(ya, yb)
}

/// max |other − reference| / max |reference| (the scale floored at 1e-6).
pub fn relative_diff<const D: usize>(reference: Tensor<D>, other: Tensor<D>) -> f32 {
    let scale = reference.clone().abs().max().into_scalar::<f32>().max(1e-6);
    max_abs_diff(reference, other) / scale
}

/// Permutation sets that each move one of `spaces` (a random permutation there, the identity
/// elsewhere), followed by one set that moves every space of `spec` at once.
pub fn one_space_then_all(spec: &PermSpec, spaces: &[usize], rng: &mut StdRng) -> Vec<Vec<Perm>> {
    let mut sets: Vec<Vec<Perm>> = spaces
        .iter()
        .map(|&s| {
            let mut p = identity_perms(spec);
            p[s] = Perm::random(spec.groups[s].size, rng);
            p
        })
        .collect();
    sets.push(random_perms(spec, rng));
    sets
}
