//! Host-side copies of a network's parameters, keyed by name.
//!
//! Matching and merging work on a [`ParamMap`] (f32 `ndarray`s on the host): it is small
//! (VGG11 at width 1 has 9.2 M parameters), exact, and independent of the device.

use std::collections::BTreeMap;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{ArrayD, IxDyn};

/// Parameters (and running statistics) by name, e.g. `convs.0.weight` → `[C_out, C_in, 3, 3]`.
pub type ParamMap = BTreeMap<String, ArrayD<f32>>;

/// Copy a tensor to the host.
pub fn tensor_to_array<const D: usize>(t: Tensor<D>) -> ArrayD<f32> {
    let shape = t.dims().to_vec();
    let data = t.into_data().convert::<f32>().try_into_vec::<f32>().expect("float tensor converts to f32");
    ArrayD::from_shape_vec(IxDyn(&shape), data).expect("data length matches shape")
}

/// Upload a host array as a rank-`D` tensor.
pub fn array_to_tensor<const D: usize>(a: &ArrayD<f32>, device: &Device) -> Tensor<D> {
    assert_eq!(a.ndim(), D, "array of rank {} where rank {D} was expected", a.ndim());
    let shape: Vec<usize> = a.shape().to_vec();
    let data: Vec<f32> = a.iter().copied().collect();
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// The parameter with new values (keeping its id and training state, so records still match).
pub fn replace_param<const D: usize>(p: &Param<Tensor<D>>, a: &ArrayD<f32>) -> Param<Tensor<D>> {
    p.clone().map(|t| array_to_tensor::<D>(a, &t.device()))
}
