//! Merging aligned networks: interpolation of all parameters, and the two repairs that undo the
//! variance collapse of interpolated nets — BatchNorm statistics reset and REPAIR.
//!
//! * [`interpolate`]: θ_α = (1−α)θ_a + αθ_b, every parameter and running statistic.
//! * [`reset_batch_norm`]: recompute every BatchNorm's running statistics as the plain average
//!   over a data pass (BatchNorm nets).
//! * [`repair`] / [`repair_closed_form`]: REPAIR — reset each channel's mean and standard
//!   deviation at every repair point (BatchNorm outputs, or conv outputs in a plain net) to the
//!   interpolation of the endpoints' and fold the correction into the preceding affine map.
//!
//! Everything is generic over [`crate::nets::Network`] (VGG and ResNet alike).

mod bn_reset;
mod interpolate;
mod repair;

pub use bn_reset::reset_batch_norm;
pub use interpolate::{interpolate, permute_model};
pub use repair::{RepairMode, RepairPoint, RepairStats, endpoint_pre_stats, pre_activation_stats, repair, repair_closed_form, repair_points};

/// Errors of merging.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The two parameter maps do not have the same tensors.
    #[error("cannot interpolate: {0}")]
    Mismatch(String),
    /// A repair that does not apply to this kind of network.
    #[error("{0}")]
    NotApplicable(String),
    /// An alignment error.
    #[error(transparent)]
    Align(#[from] crate::align::AlignError),
}
