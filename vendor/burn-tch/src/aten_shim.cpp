// relu-symmetries' patch of burn-tch: two PyTorch kernels that tch 0.22 does not wrap (its
// generator skips functions taking a bool[3] mask), called from src/ops/conv_backward.rs and
// src/ops/batch_norm.rs. See ../PATCHED.md.
#include <ATen/ATen.h>  // tch hands over torch::Tensor pointers; torch::Tensor is at::Tensor

extern "C" {
// The gradient of a 2D convolution (no transposition, no output padding) with respect to its
// input (`which == 0`) or its weight (`which == 1`), through aten::convolution_backward
// (oneDNN's backward kernels on the CPU). Returns a new tensor, or null when PyTorch throws.
at::Tensor *burn_tch_conv2d_backward(at::Tensor *grad, at::Tensor *x, at::Tensor *weight,
                                         const int64_t *stride, const int64_t *padding,
                                         const int64_t *dilation, int64_t groups, int which) {
  try {
    std::array<bool, 3> mask = {which == 0, which == 1, false};
    auto out = at::convolution_backward(*grad, *x, *weight, c10::nullopt, at::IntArrayRef(stride, 2),
                                        at::IntArrayRef(padding, 2), at::IntArrayRef(dilation, 2), false,
                                        at::IntArrayRef({0, 0}), groups, mask);
    return new at::Tensor(which == 0 ? std::get<0>(out) : std::get<1>(out));
  } catch (const std::exception &) {
    return nullptr;
  }
}

// The gradients of a training-mode batch normalisation (statistics of the batch itself) with
// respect to its input, scale and shift, through aten::native_batch_norm_backward: `mean` and
// `invstd` (1/sqrt(variance + eps), per channel) are the batch statistics of the forward pass.
// Writes three new tensors to `out` and returns 0, or returns 1 when PyTorch throws.
int burn_tch_batch_norm_backward(at::Tensor *grad, at::Tensor *x, at::Tensor *weight, at::Tensor *mean,
                                 at::Tensor *invstd, double eps, at::Tensor **out) {
  try {
    std::array<bool, 3> mask = {true, true, true};
    auto grads = at::native_batch_norm_backward(*grad, *x, *weight, c10::nullopt, c10::nullopt, *mean,
                                                *invstd, true, eps, mask);
    out[0] = new at::Tensor(std::get<0>(grads));
    out[1] = new at::Tensor(std::get<1>(grads));
    out[2] = new at::Tensor(std::get<2>(grads));
    return 0;
  } catch (const std::exception &) {
    return 1;
  }
}
}
