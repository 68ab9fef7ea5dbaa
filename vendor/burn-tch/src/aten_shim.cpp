// relu-symmetries' patch of burn-tch: two PyTorch kernels that tch 0.22 does not wrap (its
// generator skips functions taking a bool[3] mask), called from src/ops/conv_backward.rs and
// src/ops/batch_norm.rs, and a 2×2 max-pooling with indices for the plain layout, called from
// src/ops/max_pool.rs. See ../PATCHED.md.
#include <ATen/ATen.h>  // tch hands over torch::Tensor pointers; torch::Tensor is at::Tensor
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// 2×2 max-pooling with stride 2 (no padding, floor mode) of a contiguous [N, C, H, W] float map,
// and for training the flat index h·W + w of each window's maximum, as
// aten::max_pool2d_with_indices gives them: the window is scanned row by row and a value replaces
// the maximum when it is larger or NaN (so the first of tied maxima wins, and a NaN wins). aten's
// kernel loops over a general window per output in this layout, several times slower
// (results/cpu/max-pool.txt, results/cpu/max-pool-shim.txt).

// One output row: windows over input rows `r0` and `r1` (`r1 = r0 + w`), the first at flat index
// `base`; maxima to `o`, indices to `k` unless it is null. Branch-free: which of a window's four
// values is largest is unpredictable on real maps, and a mispredicted branch per window cost more
// than the rest.
static void max_pool2x2_row(const float *r0, const float *r1, float *o, int64_t *k, int64_t ow, int64_t base,
                            int64_t w) {
  // the index of window j's maximum from its offset in the window: 0, 1 (top row), 2, 3 (bottom)
  const auto index = [=](int64_t j, int32_t off) { return base + 2 * j + (off & 1) + (off >> 1) * w; };
#if defined(__SSE2__)
  // One select step in every lane: where `v` is larger than the maximum so far or NaN, it becomes
  // the maximum and `which` the offset.
  const auto take = [](__m128 &m, __m128i &off, __m128 v, int32_t which) {
    const __m128 t = _mm_or_ps(_mm_cmpgt_ps(v, m), _mm_cmpunord_ps(v, v));
    m = _mm_or_ps(_mm_and_ps(t, v), _mm_andnot_ps(t, m));
    const __m128i ti = _mm_castps_si128(t);
    off = _mm_or_si128(_mm_and_si128(ti, _mm_set1_epi32(which)), _mm_andnot_si128(ti, off));
  };
  // Four windows whose top rows are the 8 values at `top` and bottom rows at `bottom`: their
  // maxima to `m_out`, their offsets to `off_out`. Even and odd columns of both rows, then three
  // select steps.
  const auto four = [&take](const float *top, const float *bottom, float *m_out, int32_t *off_out) {
    const __m128 t0 = _mm_loadu_ps(top), t1 = _mm_loadu_ps(top + 4);
    const __m128 u0 = _mm_loadu_ps(bottom), u1 = _mm_loadu_ps(bottom + 4);
    __m128 m = _mm_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));  // top left of each window
    __m128i off = _mm_setzero_si128();
    take(m, off, _mm_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1)), 1);  // top right
    take(m, off, _mm_shuffle_ps(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)), 2);  // bottom left
    take(m, off, _mm_shuffle_ps(u0, u1, _MM_SHUFFLE(3, 1, 3, 1)), 3);  // bottom right
    _mm_storeu_ps(m_out, m);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(off_out), off);
  };
  int32_t offs[4];
  int64_t j = 0;
  for (; j + 4 <= ow; j += 4) {
    four(r0 + 2 * j, r1 + 2 * j, o + j, offs);
    if (k != nullptr)
      for (int l = 0; l < 4; ++l) k[j + l] = index(j + l, offs[l]);
  }
  for (; j < ow; ++j) {
    // the last one to three windows of a row, one at a time in the lowest lane (scalar loads: a
    // padded copy stalled on store forwarding)
    __m128 m = _mm_load_ss(r0 + 2 * j);
    __m128i off = _mm_setzero_si128();
    take(m, off, _mm_load_ss(r0 + 2 * j + 1), 1);
    take(m, off, _mm_load_ss(r1 + 2 * j), 2);
    take(m, off, _mm_load_ss(r1 + 2 * j + 1), 3);
    o[j] = _mm_cvtss_f32(m);
    if (k != nullptr) k[j] = index(j, _mm_cvtsi128_si32(off));
  }
#else
  for (int64_t j = 0; j < ow; ++j) {
    const float v[4] = {r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1]};
    float m = v[0];
    int32_t off = 0;
    for (int32_t q = 1; q < 4; ++q) {
      const bool t = (v[q] > m) | std::isnan(v[q]);
      m = t ? v[q] : m;
      off = t ? q : off;
    }
    o[j] = m;
    if (k != nullptr) k[j] = index(j, off);
  }
#endif
}

// Writes the output and, if `with_indices`, the int64 indices to `out` and returns 0, or returns 1
// when the input does not qualify or PyTorch throws.
int burn_tch_max_pool2x2(at::Tensor *x, int with_indices, at::Tensor **out) {
  try {
    const at::Tensor &input = *x;
    if (input.dim() != 4 || input.scalar_type() != at::kFloat || !input.is_contiguous()) return 1;
    const int64_t h = input.size(2), w = input.size(3), oh = h / 2, ow = w / 2;
    const int64_t planes = input.size(0) * input.size(1);
    auto output = at::empty({input.size(0), input.size(1), oh, ow}, input.options());
    at::Tensor indices;
    if (with_indices) indices = at::empty({input.size(0), input.size(1), oh, ow}, input.options().dtype(at::kLong));
    const float *src = input.const_data_ptr<float>();
    float *dst = output.mutable_data_ptr<float>();
    int64_t *idx = with_indices ? indices.mutable_data_ptr<int64_t>() : nullptr;
    const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(1, h * w));
    at::parallel_for(0, planes, grain, [=](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        for (int64_t i = 0; i < oh; ++i) {
          const float *r0 = src + p * h * w + 2 * i * w;
          int64_t *k = idx == nullptr ? nullptr : idx + (p * oh + i) * ow;
          max_pool2x2_row(r0, r0 + w, dst + (p * oh + i) * ow, k, ow, 2 * i * w, w);
        }
      }
    });
    out[0] = new at::Tensor(output);
    if (with_indices) out[1] = new at::Tensor(indices);
    return 0;
  } catch (const std::exception &) {
    return 1;
  }
}

// The gradient of that pooling with respect to its [N, C, h, w] input, given the contiguous
// gradient of its output and its contiguous int64 indices: each window's gradient goes to the
// position its index names and the window's other three positions get 0 (the windows do not
// overlap, so this is aten::max_pool2d_with_indices_backward's scatter-add, written a row pair
// at a time while it is in cache); a last odd row or column, in no window, gets 0. Returns a new
// tensor, or null when the inputs do not qualify, an index lies outside its window, or PyTorch
// throws.
at::Tensor *burn_tch_max_pool2x2_backward(at::Tensor *grad, at::Tensor *indices, int64_t h, int64_t w) {
  try {
    const at::Tensor &g = *grad, &ix = *indices;
    if (g.dim() != 4 || g.scalar_type() != at::kFloat || !g.is_contiguous() || ix.scalar_type() != at::kLong ||
        !ix.is_contiguous() || ix.sizes() != g.sizes() || g.size(2) != h / 2 || g.size(3) != w / 2)
      return nullptr;
    const int64_t oh = h / 2, ow = w / 2, planes = g.size(0) * g.size(1);
    auto result = at::empty({g.size(0), g.size(1), h, w}, g.options());
    const float *src = g.const_data_ptr<float>();
    const int64_t *idx = ix.const_data_ptr<int64_t>();
    float *dst = result.mutable_data_ptr<float>();
    std::atomic<bool> outside{false};
    const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(1, h * w));
    at::parallel_for(0, planes, grain, [=, &outside](int64_t begin, int64_t end) {
      bool bad = false;
      for (int64_t p = begin; p < end; ++p) {
        float *plane = dst + p * h * w;
        for (int64_t i = 0; i < oh; ++i) {
          float *r0 = plane + 2 * i * w;
          const float *go = src + (p * oh + i) * ow;
          const int64_t *k = idx + (p * oh + i) * ow;
          std::fill(r0, r0 + 2 * w, 0.0f);
          for (int64_t j = 0; j < ow; ++j) {
            const int64_t off = k[j] - 2 * i * w - 2 * j;  // 0, 1, w or w + 1 inside the window
            const bool inside = (off == 0) | (off == 1) | (off == w) | (off == w + 1);
            bad |= !inside;
            r0[2 * j + (inside ? off : 0)] += inside ? go[j] : 0.0f;
          }
        }
        if (h % 2 != 0) std::fill(plane + (h - 1) * w, plane + h * w, 0.0f);
      }
      if (bad) outside = true;
    });
    if (outside) return nullptr;
    return new at::Tensor(result);
  } catch (const std::exception &) {
    return nullptr;
  }
}
}
