// relu-symmetries' patch of burn-tch: a 2D convolution's gradients through PyTorch's own
// aten::convolution_backward (oneDNN's backward kernels on the CPU), which tch 0.22 does not
// wrap (its generator skips functions taking a bool[3] mask). See ../PATCHED.md.
#include <ATen/ATen.h>  // tch hands over torch::Tensor pointers; torch::Tensor is at::Tensor

extern "C" {
// The gradient of a 2D convolution (no transposition, no output padding) with respect to its
// input (`which == 0`) or its weight (`which == 1`). Returns a new tensor, or null when
// PyTorch throws (the caller then falls back to burn's generic formulas).
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
}
