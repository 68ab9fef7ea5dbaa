//! # relu-symmetries
//!
//! A Rust reproduction of *Investigating how ReLU-networks encode symmetries* (Bökman & Kahl,
//! NeurIPS 2023). The modules follow the paper's concepts:
//!
//! * [`group`]: finite groups acting on images and kernels (horizontal flip first).
//! * [`nets`]: VGG11 and the kernel-transformed ("flipped") network.
//! * [`data`]: CIFAR-10, Fashion-MNIST, a synthetic symmetric dataset; augmentation.
//! * [`train`]: the training loop (REPAIR's recipe), invariance loss, checkpoints.
//! * [`device`]: choosing between burn's flex (CPU) and wgpu (GPU) backends.

pub mod activations;
pub mod align;
pub mod batches;
pub mod bench;
pub mod data;
pub mod device;
pub mod experiments;
pub mod group;
pub mod merge;
pub mod metrics;
pub mod nets;
pub mod plots;
pub mod provenance;
pub mod stats;
pub mod tables;
pub mod testing;
pub mod theory;
pub mod train;
