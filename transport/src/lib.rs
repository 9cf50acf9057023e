//! What recog's tiers say to each other and where they put things.
//!
//! The edge and the workers never call each other: the edge stores an upload in the input
//! bucket and sends a small [`message::Request`] naming it; a worker answers with a
//! [`message::Response`] on the reply queue the request names.
//!
//! Layout:
//! - [`message`]: the request and response bodies.
//! - [`queue`]: the [`queue::Queue`] trait (SQS semantics), the embedded in-memory queue, and
//!   its loopback service for worker processes.
//! - [`bucket`]: the [`bucket::Bucket`] trait and the local-directory bucket.
//! - [`metrics`]: every metric name recog exports, described in one place.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod bucket;
mod error;
pub mod message;
pub mod metrics;
pub mod queue;

pub use error::{Error, chain};
