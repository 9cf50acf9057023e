//! The one error type of the transport layer.

/// What can go wrong talking to a queue or a bucket.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The named queue does not exist.
    #[error("queue {0:?} does not exist")]
    NoSuchQueue(String),
    /// An object key that could escape its bucket or is otherwise unusable.
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    /// No object under this key.
    #[error("object {0:?} not found")]
    NotFound(String),
    /// The local filesystem failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A remote queue or object store failed.
    #[error("remote: {0}")]
    Remote(String),
    /// Metadata could not be encoded or decoded.
    #[error("metadata: {0}")]
    Metadata(#[from] serde_json::Error),
}

/// An error and its sources, joined with `: `, for errors that cross into this crate's
/// string-carrying variants or into logs.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
