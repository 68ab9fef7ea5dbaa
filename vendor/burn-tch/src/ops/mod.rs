mod activation;
mod base;
mod bool_tensor;
#[cfg(aten_shim)]
mod batch_norm;
#[cfg(aten_shim)]
mod conv_backward;
mod int_tensor;
mod module;
mod qtensor;
mod tensor;
mod transaction;

pub(crate) use base::*;
