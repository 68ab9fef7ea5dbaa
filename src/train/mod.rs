//! Training VGG nets, flip-GCNNs and ResNets with REPAIR's recipe: SGD with momentum and weight decay, per-iteration
//! warm-up and linear decay, crop/flip augmentation, an optional invariance loss, per-epoch
//! evaluation, atomic checkpoints and exact resume.

mod checkpoint;
mod config;
mod error;
mod eval;
mod fit;
mod net;
mod schedule;

pub use checkpoint::{Checkpoint, CheckpointMeta, DatasetInfo, EpochRecord};
pub use config::{ConfigError, ModelKind, RECOMMENDED_INVARIANCE_WEIGHT, Scale, TrainConfig};
pub use error::TrainError;
pub use eval::{EvalMetrics, GroupInvariance, accuracy_and_loss, evaluate, evaluate_on, invariance_under};
pub use fit::{TrainOptions, TrainSummary, train};
pub use net::TrainableNet;
pub use schedule::lr_at;
