//! recog's worker: takes up to ten requests at a time, decodes and preprocesses their images in
//! parallel, runs them through the model in one batched call, stores and sends each answer, and
//! only then acknowledges the messages, so a worker that dies loses nothing.
//!
//! Layout:
//! - `batch`: receiving a batch within a short delay.
//! - `pipeline`: one batch from messages to acknowledged answers.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod batch;
mod pipeline;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use recog_models::Model;
use recog_transport::bucket::Bucket;
use recog_transport::queue::{Broker, Queue};
use tokio_util::sync::CancellationToken;

/// The queues and buckets a worker talks through.
#[derive(Clone)]
pub struct Links {
    /// Where requests arrive.
    pub requests: Arc<dyn Queue>,
    /// Finds each request's reply queue.
    pub broker: Arc<dyn Broker>,
    /// The uploaded images.
    pub inputs: Arc<dyn Bucket>,
    /// The answers, one per request id.
    pub outputs: Arc<dyn Bucket>,
}

/// How a worker batches.
#[derive(Debug, Clone)]
pub struct Config {
    /// Most requests taken at once (at most 10, as SQS allows).
    pub max_batch: usize,
    /// How long one receive waits for the first request.
    pub poll_wait: Duration,
    /// How long a batch waits for more requests once it has one.
    pub batch_delay: Duration,
    /// The request queue's visibility timeout; a batch running past half of it extends it.
    pub visibility: Duration,
    /// Deliveries a request gets; on the last, a request that still fails is answered with
    /// an error and left to the queue's dead-letter policy.
    pub max_receives: u32,
    /// True while the worker holds a batch, so that a scaler retires only idle workers.
    pub busy: tokio::sync::watch::Sender<bool>,
}

/// Runs `work`, extending the visibility of `receipts` every half timeout while it lasts, so a
/// slow batch is not delivered to a second worker.
async fn keep_hidden(
    queue: &dyn Queue,
    receipts: &[String],
    visibility: Duration,
    work: impl std::future::Future<Output = ()>,
) {
    let half = (visibility / 2).max(Duration::from_millis(1));
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + half, half);
    tokio::pin!(work);
    loop {
        tokio::select! {
            () = &mut work => return,
            _ = heartbeat.tick() => {
                if let Err(error) = queue.extend(receipts, visibility).await {
                    tracing::warn!(%error, "Cannot extend a slow batch's visibility");
                }
            }
        }
    }
}

/// Pause after a failed receive, doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Answers requests until `shutdown` is cancelled; a batch in hand is finished and acknowledged
/// first.
pub async fn run(model: Model, links: Links, config: Config, shutdown: CancellationToken) {
    let model = Arc::new(Mutex::new(model));
    let mut backoff = FIRST_BACKOFF;
    while !shutdown.is_cancelled() {
        // Shutdown does not cut a receive short: one already sent may have taken messages off
        // the queue (SQS, or the loopback service of `recog serve`), and dropping its answer
        // would hide them until their visibility timeout. It lasts at most `poll_wait`, and
        // what it brings is run and acknowledged before the loop ends.
        let received = links
            .requests
            .receive(config.max_batch, config.poll_wait)
            .await;
        match received {
            Ok(deliveries) if deliveries.is_empty() => {}
            Ok(deliveries) => {
                backoff = FIRST_BACKOFF;
                config.busy.send_replace(true);
                let requests = links.requests.as_ref();
                let batch = batch::fill(requests, deliveries, config.max_batch, config.batch_delay);
                let batch = batch.await;
                let receipts: Vec<String> = batch.iter().map(|d| d.receipt.clone()).collect();
                let work = pipeline::run(&model, &links, batch, config.max_receives);
                keep_hidden(requests, &receipts, config.visibility, work).await;
                config.busy.send_replace(false);
            }
            Err(error) => {
                tracing::warn!(%error, backoff_ms = backoff.as_millis(), "Request queue receive failed");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.cancelled() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    tracing::info!("Worker stopped");
}
