//! # relu-symmetries
//!
//! A Rust reproduction of *Investigating how ReLU-networks encode symmetries* (Bökman & Kahl,
//! NeurIPS 2023). The modules follow the paper's concepts; outside tests, each imports only from
//! modules listed before it:
//!
//! * [`theory`]: the paper's mathematics as executable f64 linear algebra (the lemma on
//!   ReLU-commuting matrices, layerwise equivariance, counterexamples, symmetrisation).
//! * [`allocator`]: keeping freed tensor memory in the process (glibc's malloc options).
//! * [`provenance`]: atomic file writes and the git revision of the code that ran.
//! * [`group`]: finite groups acting on images and kernels (horizontal flip first), and
//!   permutations of channels as data ([`group::Perm`]).
//! * [`data`]: CIFAR-10, Fashion-MNIST, a synthetic symmetric dataset, ImageNet-style folders;
//!   caching, augmentation.
//! * [`stats`]: streaming per-channel means, variances and cross-covariances.
//! * [`nets`]: VGG11 (with or without BatchNorm), the flip-GCNN VGG, the CIFAR ResNet,
//!   torchvision's ResNet50 (and its weight files), an MLP; each describes its hidden channel
//!   spaces as a [`nets::Structure`].
//! * [`device`]: choosing between burn's flex (CPU) and wgpu (GPU) backends.
//! * [`batches`]: device batches from host datasets (ordered or augmented streams).
//! * [`activations`]: one pass of data through networks with pre/post-ReLU taps.
//! * [`align`]: permutation specs, activation matching (REPAIR) and weight matching (Git Re-Basin).
//! * [`merge`]: interpolation, BatchNorm reset and REPAIR of merged networks.
//! * [`metrics`]: barriers, layerwise equivariance errors, variance ratios.
//! * [`train`]: the training loop (REPAIR's recipe), invariance loss, checkpoints, evaluation.
//! * [`mod@bench`]: training and inference throughput.
//! * [`display`]: rich output in notebooks (HTML, Markdown, SVG through evcxr).
//! * [`tables`], [`plots`]: result tables (CSV, Parquet through polars with the `parquet` feature, Markdown, HTML) and figures (plotters).
//! * [`experiments`]: the paper's experiments and the decisive study, their typed results and
//!   the book's generated tables and figures.
//! * [`notebook`]: paths and data for the Jupyter notebooks (the repository, CIFAR-10, scratch).
//! * [`testing`]: small helpers shared by the unit and integration tests.

/// The array crate of the theory module's matrices (re-exported, so that notebooks and users
/// write `relu_symmetries::ndarray::array![…]` without a second dependency).
pub use ndarray;

pub mod activations;
pub mod align;
pub mod allocator;
pub mod batches;
pub mod bench;
pub mod data;
pub mod device;
pub mod display;
pub mod experiments;
pub mod group;
pub mod merge;
pub mod metrics;
pub mod nets;
pub mod notebook;
pub mod plots;
pub mod provenance;
pub mod stats;
pub mod tables;
pub mod testing;
pub mod theory;
pub mod train;
