//! recog's HTTP edge. Each upload gets an id; the image goes into the input bucket, a request
//! naming it onto the request queue, and the HTTP call waits in the [`waiters`] map until the
//! response listener hands it the worker's answer, or its deadline passes (504).
//!
//! Layout:
//! - [`service`]: the routes and how an upload becomes an answer.
//! - [`upload`]: reading the image out of a multipart body.
//! - [`waiters`]: the in-flight map from request id to a one-shot slot.
//! - [`reply`]: plain-text and JSON reply bodies.
//! - [`error`]: why a request failed, mapped to a status in one place.
//! - `listener`: the reply-queue long poll; `server`: connections and graceful shutdown.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod error;
mod listener;
pub mod reply;
mod server;
pub mod service;
pub mod upload;
pub mod waiters;

use recog_transport::bucket::Bucket;
use recog_transport::queue::Queue;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use reply::ReplyFormat;
pub use service::Config;
pub use waiters::Waiters;

/// The queues and bucket an edge talks through.
pub struct Links {
    /// Where requests go.
    pub requests: Arc<dyn Queue>,
    /// This edge's own reply queue.
    pub replies: Arc<dyn Queue>,
    /// The reply queue's name, written into each request.
    pub reply_queue: String,
    /// Where uploads are stored.
    pub inputs: Arc<dyn Bucket>,
}

/// Serves the edge on `listener` until `shutdown` is cancelled, then drains open connections
/// for up to `config.grace`.
pub async fn run(listener: TcpListener, links: Links, config: Config, shutdown: CancellationToken) {
    let waiters = Waiters::new(config.max_in_flight);
    let listening = CancellationToken::new();
    let listener_task = tokio::spawn(listener::listen(
        links.replies,
        waiters.clone(),
        listening.clone(),
    ));

    let edge = Arc::new(service::Edge {
        config,
        requests: links.requests,
        reply_queue: links.reply_queue,
        inputs: links.inputs,
        waiters,
    });
    server::serve(listener, edge, shutdown).await;

    listening.cancel();
    let _ = listener_task.await;
}
