//! The exported EfficientNet-Lite0 on the 100 course images, on both backends, against the
//! PyTorch + PIL reference that scripts/setup writes.

use std::path::{Path, PathBuf};

use recog_models::backend::Options;
use recog_models::{BackendKind, Manifest, Model, preprocess};

const MODELS: &str = env!("CARGO_MANIFEST_DIR");

fn images_dir() -> PathBuf {
    Path::new(MODELS).join("../../shared/data/imagenet-100")
}

fn manifest() -> Manifest {
    Manifest::load(&Path::new(MODELS).join("efficientnet_lite0.json"))
        .expect("scripts/setup exports the model")
}

fn model(kind: BackendKind) -> Model {
    let options = Options {
        kind,
        threads: 2,
        ort_library: Path::new(MODELS).join("libonnxruntime.so"),
    };
    Model::load(manifest(), &options, None).unwrap()
}

/// The 100 images in name order, preprocessed.
fn course_tensors() -> Vec<(String, Vec<f32>)> {
    let spec = manifest().preprocess;
    let mut names: Vec<String> = std::fs::read_dir(images_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(images_dir().join(&name)).unwrap();
            let tensor = preprocess::tensor(&bytes, &spec).unwrap();
            (name, tensor)
        })
        .collect()
}

fn top1(model: &mut Model, tensors: &[(String, Vec<f32>)]) -> Vec<String> {
    let images: Vec<Vec<f32>> = tensors.iter().map(|(_, t)| t.clone()).collect();
    let predictions = images
        .chunks(10)
        .flat_map(|batch| model.classify(batch).unwrap());
    predictions.map(|p| p.label().to_owned()).collect()
}

#[test]
fn preprocessing_matches_pil_and_torchvision() {
    let reference = std::fs::read(Path::new(MODELS).join("reference/test_0.f32")).unwrap();
    let expected: Vec<f32> = reference
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();

    let bytes = std::fs::read(images_dir().join("test_0.JPEG")).unwrap();
    let actual = preprocess::tensor(&bytes, &manifest().preprocess).unwrap();

    assert_eq!(actual.len(), expected.len());
    let diffs: Vec<f32> = actual
        .iter()
        .zip(&expected)
        .map(|(a, e)| (a - e).abs())
        .collect();
    let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
    let max = diffs.iter().copied().fold(0.0, f32::max);
    println!("mean abs diff {mean:e}, max abs diff {max:e}");
    assert!(max < 1e-3, "max abs diff {max}, mean {mean}");
}

#[test]
fn both_backends_give_the_same_top1() {
    let tensors = course_tensors();
    let ort = top1(&mut model(BackendKind::Ort), &tensors);
    let tch = top1(&mut model(BackendKind::Tch), &tensors);
    let differing: Vec<_> = tensors
        .iter()
        .zip(ort.iter().zip(&tch))
        .filter(|(_, (o, t))| o != t)
        .map(|((name, _), (o, t))| format!("{name}: ort {o}, tch {t}"))
        .collect();
    assert!(differing.is_empty(), "{differing:#?}");
}

#[test]
fn chunked_and_whole_batches_agree() {
    let tensors: Vec<Vec<f32>> = course_tensors()
        .into_iter()
        .take(7)
        .map(|(_, t)| t)
        .collect();
    let options = Options {
        kind: BackendKind::Ort,
        threads: 2,
        ort_library: Path::new(MODELS).join("libonnxruntime.so"),
    };
    let mut whole = Model::load(manifest(), &options, Some(7)).unwrap();
    let mut chunked = Model::load(manifest(), &options, Some(3)).unwrap();
    let whole = whole.classify(&tensors).unwrap();
    let chunked = chunked.classify(&tensors).unwrap();
    assert_eq!(whole.len(), 7);
    for (w, c) in whole.iter().zip(&chunked) {
        assert_eq!(w.label(), c.label());
        assert!((w.top[0].1 - c.top[0].1).abs() < 1e-4);
    }
}
