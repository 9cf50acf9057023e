//! The embedded queues shared with worker processes over loopback: `recog serve` holds the
//! queues and serves their operations as JSON over HTTP; its `recog worker` children reach them
//! through [`LoopbackBroker`]. Every call carries a bearer token the parent hands its children,
//! so other local users cannot read or feed the queues.
//!
//! `POST /queues/{name}` creates a queue, `GET /queues/{name}` opens one (404 if missing), and
//! `POST /queues/{name}/{send,receive,delete,extend}` and `GET /queues/{name}/depth` are the
//! [`Queue`](super::Queue) operations.

mod client;
mod server;

pub use client::LoopbackBroker;
pub use server::serve;

use serde::{Deserialize, Serialize};

/// `send`'s body.
#[derive(Debug, Serialize, Deserialize)]
struct Send {
    body: String,
}

/// `receive`'s body.
#[derive(Debug, Serialize, Deserialize)]
struct Receive {
    max: usize,
    wait_ms: u64,
}

/// `delete`'s and `extend`'s body.
#[derive(Debug, Serialize, Deserialize)]
struct Receipts {
    receipts: Vec<String>,
    #[serde(default)]
    visibility_ms: u64,
}

/// Whether `name` is usable as a queue name (and so as a path segment), as in SQS.
fn valid_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
