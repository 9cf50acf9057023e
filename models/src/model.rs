//! A loaded model: a backend, its labels, and the batching, softmax and top-k around it.

use crate::backend::{self, Backend, BackendKind, Options};
use crate::manifest::Preprocess;
use crate::{Error, Manifest};

/// How many labels a prediction keeps.
pub const TOP_K: usize = 5;

/// The most likely labels for one image, by descending probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// `(label, softmax probability)` pairs, best first.
    pub top: Vec<(String, f32)>,
}

impl Prediction {
    /// The best label.
    pub fn label(&self) -> &str {
        self.top.first().map_or("", |(label, _)| label)
    }
}

/// A model ready to classify preprocessed images.
pub struct Model {
    manifest: Manifest,
    labels: Vec<String>,
    backend: Box<dyn Backend>,
    chunk: usize,
}

impl Model {
    /// Loads the manifest's model into a backend; `chunk` overrides the backend's best batch size.
    pub fn load(
        manifest: Manifest,
        options: &Options,
        chunk: Option<usize>,
    ) -> Result<Self, Error> {
        let labels = manifest.load_labels()?;
        let backend = backend::load(&manifest, options)?;
        let chunk = chunk.unwrap_or(options.kind.default_chunk()).max(1);
        Ok(Self {
            manifest,
            labels,
            backend,
            chunk,
        })
    }

    /// How images must be prepared for this model.
    pub fn preprocess(&self) -> &Preprocess {
        &self.manifest.preprocess
    }

    /// Which backend runs the model.
    pub fn backend(&self) -> BackendKind {
        self.backend.kind()
    }

    /// The largest number of images given to the backend in one call.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// Classifies preprocessed images, in backend calls of at most [`Model::chunk`] images.
    pub fn classify(&mut self, images: &[Vec<f32>]) -> Result<Vec<Prediction>, Error> {
        let side = self.manifest.preprocess.crop as usize;
        let mut predictions = Vec::with_capacity(images.len());
        let mut input = Vec::with_capacity(self.chunk * 3 * side * side);
        for chunk in images.chunks(self.chunk) {
            input.clear();
            chunk
                .iter()
                .for_each(|image| input.extend_from_slice(image));
            let logits = self.backend.forward(&input, chunk.len(), side)?;
            predictions.extend(
                logits
                    .chunks(self.manifest.classes)
                    .map(|row| self.rank(row)),
            );
        }
        Ok(predictions)
    }

    fn rank(&self, logits: &[f32]) -> Prediction {
        let probabilities = softmax(logits);
        let top = top_k(&probabilities, TOP_K)
            .into_iter()
            .map(|(class, p)| (self.labels[class].clone(), p))
            .collect();
        Prediction { top }
    }
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&x| (x - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// The `k` largest values with their indices, largest first; ties keep the lower index first.
pub fn top_k(values: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut indexed: Vec<(usize, f32)> = values.iter().copied().enumerate().collect();
    indexed.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    indexed.truncate(k);
    indexed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[1.0, 3.0, 2.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[2] && p[2] > p[0]);
        let huge = softmax(&[0.0, 1000.0]);
        assert_eq!(huge, [0.0, 1.0]);
    }

    #[test]
    fn top_k_returns_largest_first() {
        assert_eq!(
            top_k(&[0.1, 0.5, 0.2, 0.5], 3),
            vec![(1, 0.5), (3, 0.5), (2, 0.2)]
        );
        assert_eq!(top_k(&[0.3], 5), vec![(0, 0.3)]);
    }
}
