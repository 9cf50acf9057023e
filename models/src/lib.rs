//! Turns image bytes into ImageNet labels with a pretrained CNN.
//!
//! A model is described by a JSON [`Manifest`] written by `models/export.py`: where its ONNX
//! and TorchScript files are, its label list and its preprocessing. [`Model`] ties a manifest to
//! one [`Backend`] and runs batches through it in the chunk size that backend is fastest at.
//!
//! Layout:
//! - [`manifest`]: the manifest and its label list.
//! - [`preprocess`]: decoding, resizing, cropping and normalising one image.
//! - `resample`: Pillow-exact bilinear resizing.
//! - [`backend`]: the [`Backend`] trait with `ort` (ONNX Runtime) and `tch` (libtorch).
//! - [`model`]: batching, softmax and top-k over a backend.
#![warn(missing_docs, unreachable_pub)]

pub mod backend;
mod error;
pub mod manifest;
pub mod model;
pub mod preprocess;
mod resample;

pub use backend::{Backend, BackendKind};
pub use error::Error;
pub use manifest::Manifest;
pub use model::{Model, Prediction};
