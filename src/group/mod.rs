//! Finite groups acting on images, feature maps and convolution kernels.
//!
//! The paper studies the horizontal flip `h` (G = Z2 = {e, h}), but nothing here is special to
//! it: an element is one of the eight symmetries of the square (the dihedral group D4), and a
//! [`FiniteGroup`] is any subgroup of D4 given by its elements. Horizontal flips, vertical flips
//! and 90° rotations therefore share one code path.
//!
//! # Why kernels can be transformed instead of images
//!
//! For a convolution (cross-correlation) with a k×k kernel, stride 1 and symmetric zero padding
//! (k−1)/2 on a square feature map, every symmetry T of the square satisfies
//!
//! ```text
//! conv(T x, W) = T conv(x, T W),
//! ```
//!
//! where `T W` applies T to the two spatial axes of the kernel (for the flip: reverse the width
//! axis). ReLU, BatchNorm (per channel) and 2×2 max-pooling on even sizes commute with T too. So
//! a VGG whose kernels are all transformed by T computes `x ↦ f(T x)` exactly, as long as the
//! classifier sees a 1×1 map (see [`crate::nets::Vgg::transformed`]). With stride-2 layers on even
//! sizes the sampling grid is shifted by the flip and the identity only holds approximately.
//!
//! A flip acts on a network's hidden channels by a permutation; [`Perm`] (permutations as data)
//! lives here, below the models that use it for their symmetry structure.

mod d4;
mod finite;
mod perm;

pub use d4::D4;
pub use finite::FiniteGroup;
pub use perm::{CycleCounts, NotAPermutation, Perm};
