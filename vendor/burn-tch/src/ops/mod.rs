mod activation;
mod base;
mod bool_tensor;
#[cfg(conv_backward_kernel)]
mod conv_backward;
mod int_tensor;
mod module;
mod qtensor;
mod tensor;
mod transaction;

pub(crate) use base::*;
