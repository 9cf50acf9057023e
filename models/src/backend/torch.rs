//! libtorch through `tch`, running the TorchScript export.

use tch::{CModule, Device, Kind, Tensor};

use super::{Backend, BackendKind, Options};
use crate::{Error, Manifest};

pub(super) struct TchBackend {
    module: CModule,
    classes: usize,
}

impl TchBackend {
    pub(super) fn load(manifest: &Manifest, options: &Options) -> Result<Self, Error> {
        // Limitation: libtorch's intra-op thread count is per process, so the last backend
        // loaded sets it for all.
        tch::set_num_threads(options.threads as i32);
        let mut module = CModule::load_on_device(manifest.torchscript_path(), Device::Cpu)?;
        module.set_eval();
        Ok(Self {
            module,
            classes: manifest.classes,
        })
    }
}

impl Backend for TchBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Tch
    }

    fn forward(&mut self, input: &[f32], count: usize, side: usize) -> Result<Vec<f32>, Error> {
        let batch = Tensor::from_slice(input).reshape([count as i64, 3, side as i64, side as i64]);
        let logits = tch::no_grad(|| self.module.forward_ts(&[batch]))?;
        let logits = logits.to_kind(Kind::Float).contiguous().view(-1);
        let logits = Vec::<f32>::try_from(&logits)?;

        let expected = count * self.classes;
        if logits.len() != expected {
            return Err(Error::OutputShape {
                expected,
                found: logits.len(),
            });
        }
        Ok(logits)
    }
}
