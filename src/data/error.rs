//! Typed errors of the data module.
//!
//! Every variant that concerns a file names it. Files inside an archive or a
//! folder are named either as `path` = the archive/folder plus `member` = the
//! member's relative name, or (for whole-file problems) as the virtual path
//! `<archive>/<member>`.

use std::path::PathBuf;

/// Everything that can go wrong while reading, decoding or caching a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// An operating-system I/O error on `path` (open, read, write, rename, ...).
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A tar.gz archive could not be read (corrupt gzip stream or tar header).
    #[error("cannot read archive {path}: {source}")]
    Archive {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A fixed-size record file ends in the middle of a record.
    #[error(
        "truncated file {path}: {actual} bytes is not a whole number of {record_size}-byte records \
         (record {record} is cut short)"
    )]
    Truncated { path: PathBuf, record_size: usize, record: usize, actual: u64 },

    /// A label byte outside `0..classes`.
    #[error("bad label {label} in {path}, record {record}: labels must be < {classes}")]
    BadLabel { path: PathBuf, record: usize, label: u8, classes: usize },

    /// An image file that the `image` crate could not decode.
    #[error("cannot decode image {member} in {path}: {source}")]
    Decode {
        path: PathBuf,
        member: String,
        #[source]
        source: image::ImageError,
    },

    /// An image whose size differs from the dataset's.
    #[error(
        "image {member} in {path} is {actual_width}x{actual_height}, expected \
         {expected_width}x{expected_height} (width x height)"
    )]
    ImageSize { path: PathBuf, member: String, expected_width: usize, expected_height: usize, actual_width: usize, actual_height: usize },

    /// A class folder whose name is not one of the known classes.
    #[error("unknown class folder {folder:?} ({member}) in {path}; known classes: {known:?}")]
    UnknownClass { path: PathBuf, member: String, folder: String, known: Vec<String> },

    /// A source that contains no usable samples for `what`.
    #[error("no {what} found in {path}")]
    Empty { path: PathBuf, what: String },

    /// A source whose layout is none of the supported ones, or is inconsistent.
    #[error("unrecognised dataset layout in {path}: {reason}")]
    Layout { path: PathBuf, reason: String },

    /// An IDX file with the wrong magic number.
    #[error("bad IDX magic in {path}: found {found:#010x}, expected {expected:#010x}")]
    IdxMagic { path: PathBuf, found: u32, expected: u32 },

    /// An IDX file whose byte count disagrees with its header, or an image/label
    /// pair whose counts or shapes disagree.
    #[error("IDX size mismatch in {path}: {reason}")]
    IdxSize { path: PathBuf, reason: String },

    /// A cache file that is truncated, has a bad magic/version/header, or fails
    /// its checksum.
    #[error("corrupt dataset cache {path}: {reason}")]
    CacheCorrupt { path: PathBuf, reason: String },

    /// A dataset name not understood by [`crate::data::DatasetKind::parse`].
    #[error("unknown dataset {name:?}; expected one of \"cifar10\", \"fashion-mnist\", \"synthetic\", \"imagenet\"")]
    UnknownDataset { name: String },

    /// In-memory data that is inconsistent (buffer length vs. shape, labels vs. classes).
    #[error("invalid dataset {name:?}: {reason}")]
    Invalid { name: String, reason: String },
    /// A dataset kind that cannot be opened as a train/test pair (ImageNet folders).
    #[error("{kind} cannot be opened as a train/test dataset: {reason}")]
    NotOpenable { kind: String, reason: String },
}

impl DataError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_error_is_send_sync_static_for_anyhow_and_clap() {
        fn check<T: std::error::Error + Send + Sync + 'static>() {}
        check::<DataError>();
    }

    #[test]
    fn io_error_names_the_path() {
        let e = DataError::io("/some/file", std::io::Error::other("boom"));
        assert_eq!(e.to_string(), "I/O error on /some/file: boom");
    }
}
