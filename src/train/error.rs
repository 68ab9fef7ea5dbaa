//! Errors of training, evaluation and checkpoint handling.

use std::path::PathBuf;

/// Everything that can go wrong while training or reading a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A hyperparameter is out of range.
    #[error(transparent)]
    Config(#[from] super::ConfigError),
    /// The network configuration is invalid.
    #[error(transparent)]
    Model(#[from] crate::nets::VggError),
    /// The data could not be loaded.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A JSON file is malformed.
    #[error("{path}: malformed JSON: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    /// A weights file could not be encoded or decoded.
    #[error("{path}: {message}")]
    Record { path: PathBuf, message: String },
    /// A checkpoint does not fit the request (other dataset shape, other config on resume, …).
    #[error("{path}: {message}")]
    Mismatch { path: PathBuf, message: String },
    /// The training diverged: the training loss, or the test loss after an epoch, became NaN or
    /// infinite. Nothing of the diverging epoch is written: the checkpoint directory keeps the
    /// last good epoch's weights and resume state.
    #[error("training diverged at epoch {epoch}, step {step}: loss {loss}; {}", match last_good {
        Some(e) => format!("{} keeps the checkpoint of epoch {e}", dir.display()),
        None => format!("no epoch had finished, so {} holds no weights", dir.display()),
    })]
    Diverged {
        /// The epoch (1-based) in which the loss stopped being finite.
        epoch: usize,
        /// The optimiser step.
        step: usize,
        /// The loss value seen.
        loss: f32,
        /// The last finished epoch, whose checkpoint is kept.
        last_good: Option<usize>,
        /// The checkpoint directory.
        dir: PathBuf,
    },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
        let path = path.into();
        move |source| TrainError::Io { path, source }
    }
}
