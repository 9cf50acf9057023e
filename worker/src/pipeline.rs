//! One batch, start to finish: read the requests, fetch and preprocess the images in parallel,
//! one forward pass, then for each request store the result, reply, and only then acknowledge.
//!
//! A request that fails for a reason that may pass (the bucket or the backend failing) is left
//! for redelivery; on its last allowed delivery its caller is told, and the queue's redrive
//! policy moves it to the dead-letter queue.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::join_all;
use rayon::prelude::*;
use recog_models::manifest::Preprocess;
use recog_models::{Model, Prediction, preprocess};
use recog_transport::bucket::Metadata;
use recog_transport::message::{
    Classification, Outcome, Request, Response, Score, Timings, now_ms,
};
use recog_transport::metrics::{
    BATCH_SIZE, IMAGES_CLASSIFIED, IMAGES_REJECTED, INFERENCE_DURATION, MESSAGES_DEAD_LETTERED,
    MESSAGES_REDELIVERED, PREPROCESS_DURATION, QUEUE_WAIT,
};
use recog_transport::queue::Delivery;

use crate::Links;

/// A request this worker will answer.
struct Job {
    receipt: String,
    request: Request,
    queue_seconds: f64,
    last_attempt: bool,
}

/// Why an image did not reach the model.
enum Failure {
    /// The input is at fault; retrying cannot help.
    Invalid(String),
    /// Something that may recover failed.
    Unavailable(String),
}

/// An image ready for the model, with its preprocessing time, or why not.
type Prepared = Result<(Vec<f32>, f64), Failure>;

/// What becomes of one job.
enum Disposition {
    /// Store, reply, acknowledge.
    Answer(Outcome),
    /// Leave the message for redelivery.
    Retry(String),
}

/// Runs one batch and acknowledges every message it answered or found unanswerable.
pub(crate) async fn run(
    model: &Arc<Mutex<Model>>,
    links: &Links,
    deliveries: Vec<Delivery>,
    max_receives: u32,
) {
    let (jobs, mut done, exhausted) = triage(deliveries, max_receives);
    join_all(
        exhausted
            .iter()
            .map(|request| give_up(links, request, max_receives)),
    )
    .await;
    let (jobs, replayed) = replay_finished(links, jobs).await;
    done.extend(replayed);

    let prepared = prepare(model, links, &jobs).await;
    let dispositions = classify(model, prepared).await;
    let settled = jobs
        .into_iter()
        .zip(dispositions)
        .map(|(job, disposition)| settle(links, job, disposition));
    done.extend(join_all(settled).await.into_iter().flatten());

    if let Err(error) = links.requests.delete(&done).await {
        tracing::warn!(%error, "Cannot acknowledge a batch; it will be redelivered");
    }
}

/// Splits deliveries into jobs and receipts to acknowledge at once: unreadable, expired, or
/// delivered more often than allowed on a queue without a redrive policy. The last are also
/// returned, for their callers to be told.
fn triage(deliveries: Vec<Delivery>, max_receives: u32) -> (Vec<Job>, Vec<String>, Vec<Request>) {
    let now = now_ms();
    let (mut jobs, mut done, mut exhausted) = (Vec::new(), Vec::new(), Vec::new());
    for delivery in deliveries {
        if delivery.receive_count > 1 {
            metrics::counter!(MESSAGES_REDELIVERED).increment(1);
        }
        match serde_json::from_str::<Request>(&delivery.body) {
            Err(error) => {
                tracing::warn!(%error, "Dropping unreadable request");
                done.push(delivery.receipt);
            }
            Ok(request) if delivery.receive_count > max_receives => {
                tracing::warn!(id = %request.id, "Dropping request delivered too often");
                metrics::counter!(MESSAGES_DEAD_LETTERED).increment(1);
                done.push(delivery.receipt);
                exhausted.push(request);
            }
            Ok(request) if request.deadline_ms <= now => {
                tracing::debug!(id = %request.id, "Dropping request past its deadline");
                metrics::counter!(IMAGES_REJECTED, "reason" => "expired").increment(1);
                done.push(delivery.receipt);
            }
            Ok(request) => {
                let queue_seconds = now.saturating_sub(delivery.sent_ms) as f64 / 1000.0;
                metrics::histogram!(QUEUE_WAIT).record(queue_seconds);
                let last_attempt = delivery.receive_count >= max_receives;
                jobs.push(Job {
                    receipt: delivery.receipt,
                    request,
                    queue_seconds,
                    last_attempt,
                });
            }
        }
    }
    (jobs, done, exhausted)
}

/// Re-sends answers already stored by an earlier delivery of the same request, so a
/// redelivered message is never classified twice.
async fn replay_finished(links: &Links, jobs: Vec<Job>) -> (Vec<Job>, Vec<String>) {
    let stored = join_all(jobs.iter().map(|job| stored_answer(links, &job.request))).await;
    let (mut fresh, mut replayed) = (Vec::new(), Vec::new());
    for (job, stored) in jobs.into_iter().zip(stored) {
        match stored {
            Some(response) => replayed.push(finish(links, job, response)),
            None => fresh.push(job),
        }
    }
    let replayed = join_all(replayed).await.into_iter().flatten().collect();
    (fresh, replayed)
}

/// The answer an earlier delivery of `request` stored, if one did.
async fn stored_answer(links: &Links, request: &Request) -> Option<Response> {
    let body = links.outputs.get(&request.key).await.ok()?;
    serde_json::from_slice(&body).ok()
}

/// Fetches every job's image and preprocesses them in parallel.
async fn prepare(model: &Arc<Mutex<Model>>, links: &Links, jobs: &[Job]) -> Vec<Prepared> {
    let images = join_all(jobs.iter().map(|job| links.inputs.get(&job.request.key))).await;
    let images: Vec<Result<Bytes, String>> = images
        .into_iter()
        .map(|image| image.map_err(|error| format!("cannot read the uploaded image: {error}")))
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

fn preprocess_one(image: Result<&Bytes, &String>, spec: &Preprocess) -> Prepared {
    let start = Instant::now();
    let bytes = image.map_err(|reason| Failure::Unavailable(reason.clone()))?;
    let tensor = preprocess::tensor(bytes, spec).map_err(|e| Failure::Invalid(e.to_string()))?;
    let seconds = start.elapsed().as_secs_f64();
    metrics::histogram!(PREPROCESS_DURATION).record(seconds);
    Ok((tensor, seconds))
}

/// Runs the model on the prepared images and decides every job's fate.
async fn classify(model: &Arc<Mutex<Model>>, prepared: Vec<Prepared>) -> Vec<Disposition> {
    let mut tensors = Vec::with_capacity(prepared.len());
    let slots: Vec<Result<f64, Failure>> = prepared
        .into_iter()
        .map(|p| {
            p.map(|(tensor, seconds)| {
                tensors.push(tensor);
                seconds
            })
        })
        .collect();
    let count = tensors.len();
    let forwarded = match count {
        0 => Ok((Vec::new(), 0.0)),
        _ => forward(model.clone(), tensors).await,
    };

    let (mut predictions, inference_seconds) = match forwarded {
        Ok((predictions, seconds)) => (Some(predictions.into_iter()), seconds),
        Err(error) => {
            tracing::error!(%error, "Forward pass failed");
            (None, 0.0)
        }
    };
    let dispose = |slot: Result<f64, Failure>| match slot {
        Ok(preprocess_seconds) => match predictions.as_mut() {
            Some(predictions) => {
                let prediction = predictions
                    .next()
                    .expect("one prediction per prepared image");
                let timings = Timings {
                    queue_seconds: 0.0,
                    preprocess_seconds,
                    inference_seconds,
                    batch_size: count,
                };
                Disposition::Answer(Outcome::Classified(classification(prediction, timings)))
            }
            None => Disposition::Retry("the model failed on this batch".into()),
        },
        Err(Failure::Invalid(reason)) => {
            metrics::counter!(IMAGES_REJECTED, "reason" => "invalid").increment(1);
            Disposition::Answer(Outcome::Rejected { reason })
        }
        Err(Failure::Unavailable(reason)) => Disposition::Retry(reason),
    };
    slots.into_iter().map(dispose).collect()
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

/// Answers the caller of a request delivered more often than allowed: with its stored
/// answer if a worker got that far, else with a failure, since every delivery went to a worker
/// that died or stopped answering. A caller already answered drops this second reply.
async fn give_up(links: &Links, request: &Request, max_receives: u32) {
    let response = match stored_answer(links, request).await {
        Some(response) => response,
        None => Response {
            id: request.id,
            outcome: Outcome::Failed {
                reason: format!("no worker finished this request in {max_receives} deliveries"),
            },
        },
    };
    let body = serde_json::to_string(&response).expect("serialisable");
    reply(links, request, body).await;
}

/// Carries out a disposition; returns the receipt to acknowledge, if any.
async fn settle(links: &Links, job: Job, disposition: Disposition) -> Option<String> {
    match disposition {
        Disposition::Answer(outcome) => {
            let response = Response {
                id: job.request.id,
                outcome,
            };
            finish(links, job, response).await
        }
        Disposition::Retry(reason) if job.last_attempt => {
            tracing::warn!(id = %job.request.id, %reason, "Giving up on a request");
            let reason = format!("classification failed on every attempt: {reason}");
            let response = Response {
                id: job.request.id,
                outcome: Outcome::Failed { reason },
            };
            reply(
                links,
                &job.request,
                serde_json::to_string(&response).expect("serialisable"),
            )
            .await;
            None
        }
        Disposition::Retry(reason) => {
            tracing::debug!(id = %job.request.id, %reason, "Leaving a request for redelivery");
            None
        }
    }
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
    reply(links, &job.request, body)
        .await
        .then_some(job.receipt)
}

/// Sends `body` to the request's reply queue; false if it should be tried again. A reply
/// queue that no longer exists means nobody is waiting, which is not worth a retry.
async fn reply(links: &Links, request: &Request, body: String) -> bool {
    let replies = match links.broker.open(&request.reply_to).await {
        Ok(replies) => replies,
        Err(error) => {
            tracing::debug!(%error, id = %request.id, "Caller's reply queue is gone");
            return true;
        }
    };
    match replies.send_tagged(body, &request.id.to_string()).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, id = %request.id, "Cannot send reply; will retry");
            false
        }
    }
}
