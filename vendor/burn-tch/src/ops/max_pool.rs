//! relu-symmetries' patch of burn-tch 0.22.1 (see `PATCHED.md` at the crate's root): 2×2
//! max-pooling with stride 2 on a plain-layout (contiguous `[N, C, H, W]`) float map through the
//! shim's own kernel (`src/aten_shim.cpp`), with the indices for training and without them for
//! inference, and its gradient in one pass. aten's `max_pool2d_with_indices` loops over a general
//! window for every output in this layout, several times slower; the channels-last layout, which
//! aten's kernel vectorises over channels, and every other window keep aten's kernels.

use torch_sys::C_tensor;

unsafe extern "C" {
    fn burn_tch_max_pool2x2(x: *const C_tensor, with_indices: i32, out: *mut *mut C_tensor) -> i32;
    fn burn_tch_max_pool2x2_backward(
        grad: *const C_tensor,
        indices: *const C_tensor,
        h: i64,
        w: i64,
    ) -> *mut C_tensor;
}

/// Whether the shim's kernels take `x`: a float map contiguous in the plain layout.
pub(crate) fn takes(x: &tch::Tensor) -> bool {
    x.kind() == tch::Kind::Float && x.is_contiguous()
}

/// The 2×2 max-pooling of `x` `[N, C, H, W]` (stride 2, floor mode) and, if `with_indices`, the
/// flat index `h·W + w` of each window's maximum (int64), as `aten::max_pool2d_with_indices`
/// computes both: the first of tied maxima, a NaN wins. `x` must satisfy [`takes`].
pub(crate) fn max_pool_2x2(
    x: &tch::Tensor,
    with_indices: bool,
) -> (tch::Tensor, Option<tch::Tensor>) {
    let mut out = [std::ptr::null_mut(); 2];
    // SAFETY: `x` is live for the call; the shim only reads it and writes one or two new tensors
    // to `out`, which tch then owns and frees.
    let status = unsafe { burn_tch_max_pool2x2(x.as_ptr(), with_indices as i32, out.as_mut_ptr()) };
    assert!(
        status == 0,
        "2×2 max-pooling failed (x {:?}, {:?})",
        x.size(),
        x.kind()
    );
    // SAFETY: tensors the shim allocated with `new`, as tch's own wrappers do.
    unsafe {
        (
            tch::Tensor::from_ptr(out[0]),
            with_indices.then(|| tch::Tensor::from_ptr(out[1])),
        )
    }
}

/// The gradient of that pooling with respect to its input of spatial size `h × w`, given the
/// gradient of its output and its indices; `None` where the shim does not take them (not both
/// contiguous, not float and int64, or an index outside its window), for aten's kernel to compute
/// instead.
pub(crate) fn max_pool_2x2_backward(
    grad: &tch::Tensor,
    indices: &tch::Tensor,
    h: i64,
    w: i64,
) -> Option<tch::Tensor> {
    if !takes(grad) || indices.kind() != tch::Kind::Int64 || !indices.is_contiguous() {
        return None;
    }
    // SAFETY: both tensors are live for the call; the shim only reads them and returns a new
    // tensor (or null) that tch then owns and frees.
    let ptr = unsafe { burn_tch_max_pool2x2_backward(grad.as_ptr(), indices.as_ptr(), h, w) };
    // SAFETY: as above, a tensor the shim allocated with `new`.
    (!ptr.is_null()).then(|| unsafe { tch::Tensor::from_ptr(ptr) })
}
