//! The one error type of the models crate.

use std::path::PathBuf;

/// What can go wrong loading a model or running it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manifest or label file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A manifest is not valid JSON of the expected shape.
    #[error("invalid manifest {path}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The label list does not have one label per model output.
    #[error("{path} has {found} labels, the model has {expected} classes")]
    Labels {
        /// The label file.
        path: PathBuf,
        /// Labels found.
        found: usize,
        /// Classes in the manifest.
        expected: usize,
    },
    /// An input that cannot be classified; the message is safe to show a client.
    #[error("{0}")]
    Image(String),
    /// The ONNX Runtime library could not be loaded.
    #[error("cannot load onnxruntime: {0}")]
    OrtLibrary(String),
    /// ONNX Runtime failed.
    #[error("onnxruntime: {0}")]
    Ort(#[from] ort::Error),
    /// libtorch failed.
    #[error("libtorch: {0}")]
    Tch(#[from] tch::TchError),
    /// A backend returned output of the wrong shape.
    #[error("model output has {found} values, expected {expected}")]
    OutputShape {
        /// Values expected.
        expected: usize,
        /// Values returned.
        found: usize,
    },
}
