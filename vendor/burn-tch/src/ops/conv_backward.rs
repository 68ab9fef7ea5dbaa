//! relu-symmetries' patch of burn-tch 0.22.1 (see `PATCHED.md` at the crate's root): a 2D
//! convolution's gradients with respect to its input and its weight through PyTorch's own
//! `aten::convolution_backward` (oneDNN's backward kernels on the CPU), where upstream burn-tch
//! leaves them to burn-backend's generic formulas (a transposed convolution for the input, a
//! convolution over swapped batch and channel axes for the weight, whose "kernel" is then the
//! whole feature map). tch 0.22 does not wrap `convolution_backward`, so `src/aten_shim.cpp`
//! does, compiled by `build.rs` against the headers of the libtorch this crate links.

use crate::{LibTorch, TchTensor};
use burn_backend::ops::{ConvOptions, conv::pad_asymmetric_conv_input};
use torch_sys::C_tensor;

unsafe extern "C" {
    fn burn_tch_conv2d_backward(
        grad: *const C_tensor,
        x: *const C_tensor,
        weight: *const C_tensor,
        stride: *const i64,
        padding: *const i64,
        dilation: *const i64,
        groups: i64,
        which: i32,
    ) -> *mut C_tensor;
}

/// Which gradient of a 2D convolution.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gradient {
    /// With respect to the input `x`.
    Input = 0,
    /// With respect to the weight.
    Weight = 1,
}

/// The gradient `which` of `conv2d(x, weight)` given the gradient of its output. Asymmetric
/// padding is applied to `x` first (as in the forward pass); the input's gradient is then
/// cropped back to `x`'s shape.
pub(crate) fn conv2d_backward(
    x: TchTensor,
    weight: TchTensor,
    output_grad: TchTensor,
    options: ConvOptions<2>,
    which: Gradient,
) -> TchTensor {
    let input_size = x.tensor.size();
    let asymmetric = options.is_asymmetric();
    let padding_begin = options.padding_begin();
    let (x, options) = pad_asymmetric_conv_input::<LibTorch, 2>(x, options);
    let stride = options.stride.map(|v| v as i64);
    let padding = options.padding_begin().map(|v| v as i64);
    let dilation = options.dilation.map(|v| v as i64);
    // SAFETY: the three tensors are live for the call; the shim only reads them and the
    // arrays (two entries each), and returns a new tensor that tch then owns and frees.
    let ptr = unsafe {
        burn_tch_conv2d_backward(
            output_grad.tensor.as_ptr(),
            x.tensor.as_ptr(),
            weight.tensor.as_ptr(),
            stride.as_ptr(),
            padding.as_ptr(),
            dilation.as_ptr(),
            options.groups as i64,
            which as i32,
        )
    };
    assert!(
        !ptr.is_null(),
        "aten::convolution_backward failed (x {input_size:?}, weight {:?})",
        weight.tensor.size()
    );
    // SAFETY: a tensor the shim allocated with `new`, as tch's own wrappers do.
    let mut grad = unsafe { tch::Tensor::from_ptr(ptr) };
    if which == Gradient::Input && asymmetric {
        for (dim, begin) in padding_begin.iter().enumerate() {
            grad = grad.narrow(dim as i64 + 2, *begin as i64, input_size[dim + 2]);
        }
    }
    TchTensor::new(grad)
}
