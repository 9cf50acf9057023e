//! One batch, start to finish: read the requests, fetch and preprocess the images in parallel,
//! one forward pass, then for each request store the result, reply, and only then acknowledge.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::join_all;
use rayon::prelude::*;
use recog_models::{Model, Prediction, preprocess};
use recog_transport::bucket::Metadata;
use recog_transport::message::{
    Classification, Outcome, Request, Response, Score, Timings, now_ms,
};
use recog_transport::metrics::{
    BATCH_SIZE, IMAGES_CLASSIFIED, IMAGES_REJECTED, INFERENCE_DURATION, MESSAGES_REDELIVERED,
    PREPROCESS_DURATION, QUEUE_WAIT,
};
use recog_transport::queue::Delivery;

use crate::Links;

/// A request this worker will answer.
struct Job {
    receipt: String,
    request: Request,
    queue_seconds: f64,
}

/// An image ready for the model, or the reason it is not.
type Prepared = Result<(Vec<f32>, f64), String>;

/// Runs one batch and acknowledges every message it answered or found unanswerable.
pub(crate) async fn run(model: &Arc<Mutex<Model>>, links: &Links, deliveries: Vec<Delivery>) {
    let (jobs, mut done) = triage(deliveries);
    let (jobs, replayed) = replay_finished(links, jobs).await;
    done.extend(replayed);

    let prepared = prepare(model, links, &jobs).await;
    match classify(model, prepared).await {
        Ok(outcomes) => {
            let finished = join_all(jobs.into_iter().zip(outcomes).map(|(job, outcome)| {
                let response = Response {
                    id: job.request.id,
                    outcome,
                };
                finish(links, job, response)
            }));
            done.extend(finished.await.into_iter().flatten());
        }
        Err(error) => tracing::error!(%error, "Forward pass failed; the batch will be redelivered"),
    }

    if let Err(error) = links.requests.delete(&done).await {
        tracing::warn!(%error, "Cannot acknowledge a batch; it will be redelivered");
    }
}

/// Splits deliveries into jobs and receipts to acknowledge at once (unreadable or expired).
fn triage(deliveries: Vec<Delivery>) -> (Vec<Job>, Vec<String>) {
    let now = now_ms();
    let (mut jobs, mut done) = (Vec::new(), Vec::new());
    for delivery in deliveries {
        if delivery.receive_count > 1 {
            metrics::counter!(MESSAGES_REDELIVERED).increment(1);
        }
        match serde_json::from_str::<Request>(&delivery.body) {
            Err(error) => {
                tracing::warn!(%error, "Dropping unreadable request");
                done.push(delivery.receipt);
            }
            Ok(request) if request.deadline_ms <= now => {
                tracing::debug!(id = %request.id, "Dropping request past its deadline");
                metrics::counter!(IMAGES_REJECTED, "reason" => "expired").increment(1);
                done.push(delivery.receipt);
            }
            Ok(request) => {
                let queue_seconds = now.saturating_sub(delivery.sent_ms) as f64 / 1000.0;
                metrics::histogram!(QUEUE_WAIT).record(queue_seconds);
                jobs.push(Job {
                    receipt: delivery.receipt,
                    request,
                    queue_seconds,
                });
            }
        }
    }
    (jobs, done)
}

/// Re-sends answers already stored by an earlier delivery of the same request, so a
/// redelivered message is never classified twice.
async fn replay_finished(links: &Links, jobs: Vec<Job>) -> (Vec<Job>, Vec<String>) {
    let stored = join_all(jobs.iter().map(|job| links.outputs.get(&job.request.key))).await;
    let (mut fresh, mut replayed) = (Vec::new(), Vec::new());
    for (job, stored) in jobs.into_iter().zip(stored) {
        match stored
            .ok()
            .and_then(|body| serde_json::from_slice::<Response>(&body).ok())
        {
            Some(response) => replayed.push(finish(links, job, response)),
            None => fresh.push(job),
        }
    }
    let replayed = join_all(replayed).await.into_iter().flatten().collect();
    (fresh, replayed)
}

/// Fetches every job's image and preprocesses them in parallel.
async fn prepare(model: &Arc<Mutex<Model>>, links: &Links, jobs: &[Job]) -> Vec<Prepared> {
    let images = join_all(jobs.iter().map(|job| links.inputs.get(&job.request.key))).await;
    let images: Vec<Result<Bytes, String>> = images
        .into_iter()
        .map(|image| image.map_err(|error| format!("uploaded image is gone: {error}")))
        .collect();
    let spec = model
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .preprocess()
        .clone();

    let preprocessed = tokio::task::spawn_blocking(move || {
        images
            .par_iter()
            .map(|image| preprocess_one(image.as_ref(), &spec))
            .collect()
    });
    preprocessed.await.expect("preprocessing never panics")
}

fn preprocess_one(
    image: Result<&Bytes, &String>,
    spec: &recog_models::manifest::Preprocess,
) -> Prepared {
    let start = Instant::now();
    let bytes = image.map_err(Clone::clone)?;
    let tensor = preprocess::tensor(bytes, spec).map_err(|error| error.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    metrics::histogram!(PREPROCESS_DURATION).record(seconds);
    Ok((tensor, seconds))
}

/// Runs the model on the prepared images and pairs every job with its outcome.
async fn classify(
    model: &Arc<Mutex<Model>>,
    prepared: Vec<Prepared>,
) -> Result<Vec<Outcome>, recog_models::Error> {
    let mut tensors = Vec::with_capacity(prepared.len());
    let slots: Vec<Result<f64, String>> = prepared
        .into_iter()
        .map(|p| {
            p.map(|(tensor, seconds)| {
                tensors.push(tensor);
                seconds
            })
        })
        .collect();
    let count = tensors.len();
    let (predictions, inference_seconds) = match count {
        0 => (Vec::new(), 0.0),
        _ => forward(model.clone(), tensors).await?,
    };

    let mut predictions = predictions.into_iter();
    let outcomes = slots.into_iter().map(|slot| match slot {
        Ok(preprocess_seconds) => {
            let prediction = predictions
                .next()
                .expect("one prediction per prepared image");
            let timings = Timings {
                queue_seconds: 0.0,
                preprocess_seconds,
                inference_seconds,
                batch_size: count,
            };
            Outcome::Classified(classification(prediction, timings))
        }
        Err(reason) => {
            metrics::counter!(IMAGES_REJECTED, "reason" => "invalid").increment(1);
            Outcome::Rejected { reason }
        }
    });
    Ok(outcomes.collect())
}

/// One batched forward pass on a blocking thread; returns the predictions and its duration.
async fn forward(
    model: Arc<Mutex<Model>>,
    tensors: Vec<Vec<f32>>,
) -> Result<(Vec<Prediction>, f64), recog_models::Error> {
    tokio::task::spawn_blocking(move || {
        let mut model = model.lock().unwrap_or_else(|p| p.into_inner());
        let start = Instant::now();
        let predictions = model.classify(&tensors)?;
        let seconds = start.elapsed().as_secs_f64();

        let backend = model.backend().to_string();
        metrics::histogram!(BATCH_SIZE).record(tensors.len() as f64);
        metrics::histogram!(INFERENCE_DURATION, "backend" => backend.clone()).record(seconds);
        metrics::counter!(IMAGES_CLASSIFIED, "backend" => backend).increment(tensors.len() as u64);
        Ok((predictions, seconds))
    })
    .await
    .expect("the forward pass never panics")
}

fn classification(prediction: Prediction, timings: Timings) -> Classification {
    let top5 = prediction
        .top
        .into_iter()
        .map(|(label, score)| Score { label, score })
        .collect();
    Classification { top5, timings }
}

/// Stores the response, sends it to the caller's reply queue, and returns the receipt to
/// acknowledge; `None` leaves the message for redelivery.
async fn finish(links: &Links, job: Job, mut response: Response) -> Option<String> {
    if let Outcome::Classified(classification) = &mut response.outcome {
        classification.timings.queue_seconds = job.queue_seconds;
    }
    let body = serde_json::to_string(&response).expect("a response always serialises");
    let metadata = Metadata {
        file: job.request.file.clone(),
        content_type: "application/json".into(),
    };
    if let Err(error) = links
        .outputs
        .put(&job.request.key, body.clone().into(), &metadata)
        .await
    {
        tracing::warn!(%error, id = %job.request.id, "Cannot store result; will retry");
        return None;
    }

    match links.broker.open(&job.request.reply_to).await {
        Ok(replies) => {
            if let Err(error) = replies.send(body).await {
                tracing::warn!(%error, id = %job.request.id, "Cannot send reply; will retry");
                return None;
            }
        }
        Err(error) => tracing::debug!(%error, id = %job.request.id, "Caller's reply queue is gone"),
    }
    Some(job.receipt)
}
