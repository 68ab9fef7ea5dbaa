mod activation;
mod base;
#[cfg(aten_shim)]
mod batch_norm;
mod bool_tensor;
#[cfg(aten_shim)]
mod conv_backward;
mod int_tensor;
#[cfg(aten_shim)]
mod max_pool;
mod module;
mod qtensor;
mod tensor;
mod transaction;

pub(crate) use base::*;
