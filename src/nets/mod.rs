//! The networks of the paper: VGG11 (optionally with BatchNorm) and its kernel-transformed copy,
//! the flip-GCNN VGG, the CIFAR ResNet, torchvision's ResNet50 (ImageNet), and a small MLP.
//!
//! [`Network`] is what the experiment pipeline (statistics, matching, merging, repair,
//! evaluation) needs from a network; [`Vgg`], [`ResNet`] and [`ResNet50`] implement it, and [`Net`]
//! is any of them, as a checkpoint holds it (see [`Network`]'s module docs for why both exist).
//!
//! Every model describes its own layer structure (which conv feeds which, where BatchNorm and
//! pooling sit) so that permutation specs and activation statistics are derived from the model,
//! never written by hand.

mod gcnn;
mod init;
mod mlp;
mod network;
mod params;
mod resnet;
mod resnet50;
mod structure;
mod torchvision;
mod vgg;

pub use gcnn::{FlipLayout, GcnnConfig, GcnnVgg};
pub use init::{ParamInit, init_uniform, standard_normal};
pub use mlp::Mlp;
pub use network::{ForwardHooks, Net, NetConfig, Network, NoHooks, TapPoint};
pub use params::{ParamMap, array_to_tensor, replace_param, tensor_to_array};
pub use resnet::{BasicBlock, Projection, ResNet, ResNetConfig};
pub use resnet50::{Bottleneck, Downsample, EXPANSION, RESNET50_INNER, ResNet50, ResNet50Config};
pub use structure::{HiddenSpace, LayerKind, ParamAxes, Structure};
pub use torchvision::{WeightsError, infer_config, params_from_state_dict, read_state_dict, torchvision_name};
pub use vgg::{VGG11_CFG, Vgg, VggConfig, VggError};
