//! Linear interpolation of parameters, and applying a permutation set to a whole model.

use super::MergeError;
use crate::align::{PermSpec, apply_perms};
use crate::nets::{Network, ParamMap};

/// θ_α = (1−α)θ_a + αθ_b for every tensor (BatchNorm running statistics included).
pub fn interpolate(a: &ParamMap, b: &ParamMap, alpha: f64) -> Result<ParamMap, MergeError> {
    if a.len() != b.len() || a.keys().zip(b.keys()).any(|(x, y)| x != y) {
        return Err(MergeError::Mismatch("the two networks have different parameter names".into()));
    }
    let (wa, wb) = ((1.0 - alpha) as f32, alpha as f32);
    a.iter()
        .map(|(name, ta)| {
            let tb = &b[name];
            if ta.shape() != tb.shape() {
                return Err(MergeError::Mismatch(format!("{name}: shapes {:?} and {:?}", ta.shape(), tb.shape())));
            }
            Ok((name.clone(), ta * wa + tb * wb))
        })
        .collect()
}

/// The network with its hidden channels permuted (computes the same function).
pub fn permute_model<N: Network>(net: &N, perms: &[crate::align::Perm]) -> Result<N, MergeError> {
    let spec = PermSpec::from_structure(&net.structure())?;
    Ok(net.with_params(&apply_perms(&net.to_params(), &spec, perms)?))
}
