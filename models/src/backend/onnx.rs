//! ONNX Runtime through `ort`, with the shared library loaded at run time.

use std::path::Path;
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;

use super::{Backend, BackendKind, Options};
use crate::{Error, Manifest};

/// ONNX Runtime allows one environment per process; every session shares it.
static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

fn environment(library: &Path) -> Result<Environment, Error> {
    let mut slot = ENVIRONMENT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(environment) = slot.as_ref() {
        return Ok(environment.clone());
    }
    let builder = ort::init_from(library).map_err(|e| {
        let reason =
            std::error::Error::source(&e).map_or(e.to_string(), |cause| format!("{e}: {cause}"));
        Error::OrtLibrary(format!(
            "{reason} (scripts/setup links it to models/libonnxruntime.so)"
        ))
    })?;
    let environment = builder.with_name("recog").with_telemetry(false).build()?;
    *slot = Some(environment.clone());
    Ok(environment)
}

pub(super) struct OrtBackend {
    session: Session,
    input: String,
    output: String,
    classes: usize,
}

impl OrtBackend {
    pub(super) fn load(manifest: &Manifest, options: &Options) -> Result<Self, Error> {
        let environment = environment(&options.ort_library)?;
        let session = session(&environment, manifest, options.threads)?;
        Ok(Self {
            session,
            input: manifest.input_name.clone(),
            output: manifest.output_name.clone(),
            classes: manifest.classes,
        })
    }
}

fn session(environment: &Environment, manifest: &Manifest, threads: usize) -> ort::Result<Session> {
    let session = Session::builder(environment)?
        .with_optimization_level(GraphOptimizationLevel::Level3)?
        .with_intra_threads(threads)?
        .with_inter_threads(1)?
        .commit_from_file(manifest.onnx_path())?;
    Ok(session)
}

impl Backend for OrtBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Ort
    }

    fn forward(&mut self, input: &[f32], count: usize, side: usize) -> Result<Vec<f32>, Error> {
        let shape = [count, 3, side, side];
        let tensor = TensorRef::from_array_view((shape, input))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input.as_str() => tensor])?;
        let (_, logits) = outputs[self.output.as_str()].try_extract_tensor::<f32>()?;

        let expected = count * self.classes;
        if logits.len() != expected {
            return Err(Error::OutputShape {
                expected,
                found: logits.len(),
            });
        }
        Ok(logits.to_vec())
    }
}
