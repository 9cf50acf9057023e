//! Queues with SQS semantics: at-least-once delivery, receive up to ten with a long-poll wait,
//! a visibility timeout after which an undeleted message is delivered again, delete by receipt.

pub mod loopback;
mod memory;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use memory::{MemoryBroker, MemoryQueue};

use crate::Error;

/// The most messages one receive returns, as in SQS.
pub const MAX_RECEIVE: usize = 10;

/// One delivery of a message. The same message may be delivered again, with a new receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The message body.
    pub body: String,
    /// Handle for deleting this delivery; stale once the message is delivered again.
    pub receipt: String,
    /// How many times the message has been delivered, this time included.
    pub receive_count: u32,
    /// Unix milliseconds when the message was first sent.
    pub sent_ms: u64,
}

/// Messages waiting in a queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Depth {
    /// Ready to be received.
    pub visible: usize,
    /// Received but neither deleted nor timed out yet.
    pub in_flight: usize,
}

impl Depth {
    /// Visible plus in flight: the work not yet done.
    pub fn total(&self) -> usize {
        self.visible + self.in_flight
    }
}

/// A queue with SQS semantics.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Appends a message.
    async fn send(&self, body: String) -> Result<(), Error>;

    /// Appends a message tagged with the request id it concerns, where the queue supports
    /// attributes; others send the body alone.
    async fn send_tagged(&self, body: String, id: &str) -> Result<(), Error> {
        let _ = id;
        self.send(body).await
    }

    /// Returns up to `max` (at most [`MAX_RECEIVE`]) messages, waiting up to `wait` for the first.
    /// Each stays invisible to other receivers for the visibility timeout.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, Error>;

    /// Deletes delivered messages; unknown or stale receipts are ignored.
    async fn delete(&self, receipts: &[String]) -> Result<(), Error>;

    /// Keeps delivered messages hidden for `visibility` from now; unknown receipts are ignored.
    async fn extend(&self, receipts: &[String], visibility: Duration) -> Result<(), Error>;

    /// How many messages are visible and in flight.
    async fn depth(&self) -> Result<Depth, Error>;
}

/// Finds queues by name, so a worker can answer on the reply queue a request names.
#[async_trait]
pub trait Broker: Send + Sync {
    /// Creates the queue if it does not exist and returns it.
    async fn create(&self, name: &str) -> Result<Arc<dyn Queue>, Error>;

    /// Returns an existing queue, or [`Error::NoSuchQueue`].
    async fn open(&self, name: &str) -> Result<Arc<dyn Queue>, Error>;
}
