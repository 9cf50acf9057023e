//! What every benchmark reads: the course images and the exported model.
#![allow(dead_code, reason = "each benchmark uses only part of this module")]

use std::path::{Path, PathBuf};

use recog_models::BackendKind;
use recog_models::Manifest;
use recog_models::backend::Options;

const BENCHES: &str = env!("CARGO_MANIFEST_DIR");

/// The 100 course images, in name order.
pub fn course_images() -> Vec<Vec<u8>> {
    let dir = Path::new(BENCHES).join("../../shared/data/imagenet-100");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("../shared/data/imagenet-100 holds the course images")
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect()
}

/// The EfficientNet-Lite0 manifest scripts/setup exports.
pub fn manifest() -> Manifest {
    Manifest::load(&Path::new(BENCHES).join("../models/efficientnet_lite0.json"))
        .expect("scripts/setup exports the model")
}

/// Backend options at two threads, the machine's core count.
pub fn options(kind: BackendKind) -> Options {
    let ort_library = Path::new(BENCHES).join("../models/libonnxruntime.so");
    Options {
        kind,
        threads: 2,
        ort_library,
    }
}
