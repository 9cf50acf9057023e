//! Request and response bodies, serialised as JSON on the queues.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Asks a worker to classify one stored image. Carries a reference to the image, never the image
/// itself, so it stays small whatever the upload's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The request id, also the key of the image in the input bucket.
    pub id: Uuid,
    /// Key of the uploaded image in the input bucket.
    pub key: String,
    /// The client's file name, kept only as metadata.
    pub file: String,
    /// Name of the queue the response goes to.
    pub reply_to: String,
    /// Unix time in milliseconds after which nobody waits for the answer.
    pub deadline_ms: u64,
}

/// A worker's answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The id of the request this answers.
    pub id: Uuid,
    /// What the worker found.
    pub outcome: Outcome,
}

/// The result of classifying one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The image was classified.
    Classified(Classification),
    /// The image could not be classified; the reason is safe to show the client.
    Rejected {
        /// One line saying what was wrong with the input.
        reason: String,
    },
    /// recog failed on every allowed attempt; the request went to the dead-letter queue.
    Failed {
        /// One line saying what failed.
        reason: String,
    },
}

/// The five most likely labels and where the time went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Labels by descending score; the first is the answer.
    pub top5: Vec<Score>,
    /// Time spent on this image by stage.
    pub timings: Timings,
}

impl Classification {
    /// The most likely label.
    pub fn label(&self) -> &str {
        self.top5.first().map_or("", |s| s.label.as_str())
    }
}

/// One label with its softmax probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The ImageNet class name.
    pub label: String,
    /// Softmax probability in `[0, 1]`.
    pub score: f32,
}

/// Seconds spent on one image, by stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// From the edge's enqueue to the worker's receive.
    pub queue_seconds: f64,
    /// Decoding and preprocessing.
    pub preprocess_seconds: f64,
    /// The forward pass of the batch this image was in.
    pub inference_seconds: f64,
    /// Images in that batch.
    pub batch_size: usize,
}

/// Milliseconds since the Unix epoch, the clock that deadlines are stated in.
pub fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_through_json() {
        let request = Request {
            id: Uuid::new_v4(),
            key: "input/x".into(),
            file: "../etc/passwd\u{0}.jpg".into(),
            reply_to: "replies-1".into(),
            deadline_ms: 42,
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), request);
    }

    #[test]
    fn rejected_outcome_is_tagged() {
        let outcome = Outcome::Rejected {
            reason: "not an image".into(),
        };
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(json["rejected"]["reason"], "not an image");
    }
}
