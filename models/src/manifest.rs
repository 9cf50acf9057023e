//! The JSON manifest that `models/export.py` writes beside each exported model.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::Error;

/// Where a model's files are and how its inputs are prepared.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// The model's name, e.g. `efficientnet_lite0`.
    pub name: String,
    /// The ONNX file, relative to the manifest.
    pub onnx: PathBuf,
    /// The TorchScript file, relative to the manifest.
    pub torchscript: PathBuf,
    /// The label list, one per line, relative to the manifest.
    pub labels: PathBuf,
    /// Name of the ONNX input.
    pub input_name: String,
    /// Name of the ONNX output (logits).
    pub output_name: String,
    /// Number of classes the model outputs.
    pub classes: usize,
    /// How an image becomes an input tensor.
    pub preprocess: Preprocess,
    #[serde(skip)]
    dir: PathBuf,
}

/// How an image becomes a `3 × crop × crop` tensor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Preprocess {
    /// How the image is resized before cropping.
    pub resize: Resize,
    /// The resize target: the short side, or both sides for [`Resize::Exact`].
    pub resize_to: u32,
    /// Side of the centre crop taken after resizing.
    pub crop: u32,
    /// Each channel becomes `(pixel * scale - mean) / std`.
    pub scale: f32,
    /// Per-channel mean, RGB.
    pub mean: [f32; 3],
    /// Per-channel standard deviation, RGB.
    pub std: [f32; 3],
}

/// Resize modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resize {
    /// Keep the aspect ratio; the short side becomes `resize_to`.
    ShortSide,
    /// Stretch to `resize_to × resize_to`.
    Exact,
}

impl Manifest {
    /// Reads a manifest; its file paths are taken relative to its directory.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let raw = std::fs::read(path).map_err(|source| Error::Read {
            path: path.into(),
            source,
        })?;
        let mut manifest: Manifest =
            serde_json::from_slice(&raw).map_err(|source| Error::Manifest {
                path: path.into(),
                source,
            })?;
        manifest.dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(manifest)
    }

    /// The ONNX file's path.
    pub fn onnx_path(&self) -> PathBuf {
        self.dir.join(&self.onnx)
    }

    /// The TorchScript file's path.
    pub fn torchscript_path(&self) -> PathBuf {
        self.dir.join(&self.torchscript)
    }

    /// Reads the label list and checks it has one label per class.
    pub fn load_labels(&self) -> Result<Vec<String>, Error> {
        let path = self.dir.join(&self.labels);
        let raw = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let labels: Vec<String> = raw.lines().map(|line| line.trim().to_owned()).collect();
        if labels.len() != self.classes {
            return Err(Error::Labels {
                path,
                found: labels.len(),
                expected: self.classes,
            });
        }
        Ok(labels)
    }
}
