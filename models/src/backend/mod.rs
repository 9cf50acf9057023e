//! The inference backends behind one trait: `ort` (ONNX Runtime, loaded at run time from the
//! library the `onnxruntime` Python wheel ships) and `tch` (libtorch from the `torch` wheel).

mod onnx;
mod torch;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::{Error, Manifest};

/// Runs a CNN's forward pass on a batch of preprocessed images.
pub trait Backend: Send {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// Runs `count` images of `3 × side × side` values, stacked in `input`, and returns
    /// `count × classes` logits.
    fn forward(&mut self, input: &[f32], count: usize, side: usize) -> Result<Vec<f32>, Error>;
}

/// The available backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// ONNX Runtime.
    Ort,
    /// libtorch through TorchScript.
    Tch,
}

impl BackendKind {
    /// The batch size this backend classifies fastest per image on a CPU, measured with
    /// `cargo bench --bench forward` on EfficientNet-Lite0 with two threads.
    pub fn default_chunk(self) -> usize {
        match self {
            BackendKind::Ort => 4,
            BackendKind::Tch => 2,
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Ort => "ort",
            BackendKind::Tch => "tch",
        })
    }
}

impl FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ort" => Ok(BackendKind::Ort),
            "tch" => Ok(BackendKind::Tch),
            other => Err(format!("unknown backend {other:?}: expected ort or tch")),
        }
    }
}

/// How to start a backend.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which backend.
    pub kind: BackendKind,
    /// Threads for one forward pass.
    pub threads: usize,
    /// The `libonnxruntime.so` to load for [`BackendKind::Ort`].
    pub ort_library: PathBuf,
}

/// Loads the manifest's model into the chosen backend.
pub fn load(manifest: &Manifest, options: &Options) -> Result<Box<dyn Backend>, Error> {
    match options.kind {
        BackendKind::Ort => Ok(Box::new(onnx::OrtBackend::load(manifest, options)?)),
        BackendKind::Tch => Ok(Box::new(torch::TchBackend::load(manifest, options)?)),
    }
}
