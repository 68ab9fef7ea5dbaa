//! relu-symmetries' patch of burn-tch 0.22.1 (see `PATCHED.md` at the crate's root): batch
//! normalisation through PyTorch's own kernels, where upstream burn-tch leaves `batch_norm`,
//! `batch_norm_train` and `batch_norm_train_backward` to burn-backend's generic formulas (about
//! ten tensor operations each way, with copies for the transposed per-channel reductions).
//!
//! * Inference with given statistics: `aten::batch_norm` in evaluation mode.
//! * Training: `aten::native_batch_norm` with the batch's own statistics. It returns the mean
//!   and `1/sqrt(variance + eps)`; burn wants the biased variance itself. Given zeroed running
//!   statistics and momentum 1, PyTorch writes the batch's unbiased variance into the running
//!   variance, and `· (n − 1)/n` makes it biased; a constant channel reads exactly 0. (Taking
//!   `invstd⁻² − eps` instead would leave a rounding residue of order 10⁻¹² there.)
//! * Its backward: `aten::native_batch_norm_backward`, which tch 0.22 does not wrap, through
//!   `burn_tch_batch_norm_backward` in `src/aten_shim.cpp`.

use crate::{LibTorch, TchTensor};
use burn_backend::ops::{BatchNormTrain, BatchNormTrainBackward};
use torch_sys::C_tensor;

unsafe extern "C" {
    fn burn_tch_batch_norm_backward(
        grad: *const C_tensor,
        x: *const C_tensor,
        weight: *const C_tensor,
        mean: *const C_tensor,
        invstd: *const C_tensor,
        eps: f64,
        out: *mut *mut C_tensor,
    ) -> i32;
}

/// `(x − mean) / sqrt(variance + eps) · gamma + beta` per channel (axis 1).
pub(crate) fn batch_norm(
    x: TchTensor,
    gamma: TchTensor,
    beta: TchTensor,
    mean: TchTensor,
    variance: TchTensor,
    epsilon: f64,
) -> TchTensor {
    TchTensor::new(x.tensor.batch_norm(
        Some(&gamma.tensor),
        Some(&beta.tensor),
        Some(&mean.tensor),
        Some(&variance.tensor),
        false,
        0.0,
        epsilon,
        false,
    ))
}

/// Batch normalisation with the batch's own statistics; returns them (mean and biased
/// variance per channel) beside the output.
pub(crate) fn batch_norm_train(
    x: TchTensor,
    gamma: TchTensor,
    beta: TchTensor,
    epsilon: f64,
) -> BatchNormTrain<LibTorch> {
    let size = x.tensor.size();
    let channels = size[1];
    let per_channel = size.iter().product::<i64>() / channels.max(1);
    let zeros = || tch::Tensor::zeros([channels], (x.tensor.kind(), x.tensor.device()));
    let (running_mean, running_var) = (zeros(), zeros());
    let (output, mean, _invstd) = x.tensor.native_batch_norm(
        Some(&gamma.tensor),
        Some(&beta.tensor),
        Some(&running_mean),
        Some(&running_var),
        true,
        1.0,
        epsilon,
    );
    // With one value per channel the unbiased variance is 0/0; the biased one is 0.
    let variance = if per_channel > 1 {
        running_var * ((per_channel - 1) as f64 / per_channel as f64)
    } else {
        zeros()
    };
    BatchNormTrain::new(
        TchTensor::new(output),
        TchTensor::new(mean),
        TchTensor::new(variance),
    )
}

/// The gradients of [`batch_norm_train`] with respect to `x`, `gamma` and `beta`, given the
/// gradient of its output and the statistics it returned.
pub(crate) fn batch_norm_train_backward(
    x: TchTensor,
    gamma: TchTensor,
    mean: TchTensor,
    variance: TchTensor,
    epsilon: f64,
    output_grad: TchTensor,
) -> BatchNormTrainBackward<LibTorch> {
    let invstd = (variance.tensor + epsilon).rsqrt();
    let mut out: [*mut C_tensor; 3] = [std::ptr::null_mut(); 3];
    // SAFETY: the five tensors are live for the call; the shim only reads them and writes three
    // new tensors into `out` (three slots), which tch then owns and frees.
    let failed = unsafe {
        burn_tch_batch_norm_backward(
            output_grad.tensor.as_ptr(),
            x.tensor.as_ptr(),
            gamma.tensor.as_ptr(),
            mean.tensor.as_ptr(),
            invstd.as_ptr(),
            epsilon,
            out.as_mut_ptr(),
        )
    };
    assert!(
        failed == 0,
        "aten::native_batch_norm_backward failed (x {:?}, gamma {:?})",
        x.tensor.size(),
        gamma.tensor.size()
    );
    // SAFETY: three tensors the shim allocated with `new`, as tch's own wrappers do.
    let [x_grad, gamma_grad, beta_grad] =
        out.map(|ptr| TchTensor::new(unsafe { tch::Tensor::from_ptr(ptr) }));
    BatchNormTrainBackward::new(x_grad, gamma_grad, beta_grad)
}
