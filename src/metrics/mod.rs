//! Measurements of merged and aligned networks: loss/accuracy barriers along the interpolation
//! path, layerwise equivariance errors after aligning a net with its flipped self, and the
//! variance collapse of merged nets.

mod barrier;
mod equivariance;

pub use barrier::{Barriers, CurvePoint, barriers};
pub use equivariance::{LayerEquivariance, layerwise_equivariance, variance_ratios};
