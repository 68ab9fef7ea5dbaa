//! Experiments: configured runs of the library's pieces that produce the paper's numbers.
//!
//! * [`merge`]: align a network with its flipped self (the GCNN barrier) or with an
//!   independently trained twin (the ordinary barrier), merge along an α grid, repair, measure.
//! * [`imagenet`]: the ImageNet experiment (torchvision's ResNet50 merged with its flipped self,
//!   the official notebook's table and first-layer filter figure).
//! * [`resnet_flip`]: how far a flipped ResNet (strided, even input sizes) is from
//!   `x ↦ f(hflip x)`, and the cost of a forward pass.
//! * [`study`]: the decisive study — a matrix of training variants, seeds, kept epochs and
//!   widths, with GCNN and ordinary barriers measured for all of it.
//! * [`results`]: the typed result of every command, which the binary prints and the report
//!   reads back.
//! * [`mlp_conjecture`]: the MLP-sized conjecture experiment (trained invariant MLPs, how close
//!   to layerwise equivariant).

pub mod imagenet;
pub mod merge;
pub mod mlp_conjecture;
pub mod report;
pub mod resnet_flip;
pub mod results;
pub mod study;
