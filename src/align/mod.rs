//! Aligning networks: permutations of hidden channels that make two networks (or a network and
//! its flipped copy) as similar as possible.
//!
//! * [`Perm`]: permutations as data (gather convention); defined in [`crate::group`], below the
//!   models that use it, and re-exported here.
//! * [`PermSpec`]: which tensor axes each hidden permutation touches, derived from a model's
//!   [`crate::nets::Structure`].
//! * [`assign_max`]: exact linear assignment.
//! * [`weight_matching`]: Git Re-Basin's coordinate descent on weights.
//! * [`activation_matching`]: REPAIR's correlation matching on activations.

mod activation_matching;
mod error;
#[cfg(test)]
pub(crate) mod fixtures;
mod lap;
mod spec;
mod weight_matching;

pub use crate::group::{CycleCounts, NotAPermutation, Perm};
pub use activation_matching::{
    ActivationMatching, DEAD_RELATIVE_STD, LayerStats, activation_matching, activation_stats, identity_for, live_channels, perms_from_stats,
};
pub use error::AlignError;
pub use lap::{assign_max, assignment_score};
pub use spec::*;
pub use weight_matching::*;
