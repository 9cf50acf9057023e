//! Object storage for the uploaded images and their labels, keyed by request id.

mod dir;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use dir::DirBucket;

use crate::Error;

/// What is kept beside an object. The client's file name lives here, never in a key or path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The file name the client gave, as sent.
    pub file: String,
    /// The MIME type of the object.
    pub content_type: String,
}

/// An object store holding one object per key.
#[async_trait]
pub trait Bucket: Send + Sync {
    /// Stores `body` under `key`, replacing any object already there.
    async fn put(&self, key: &str, body: Bytes, metadata: &Metadata) -> Result<(), Error>;

    /// Returns the object under `key`, or [`Error::NotFound`].
    async fn get(&self, key: &str) -> Result<Bytes, Error>;

    /// Returns the metadata stored with `key`.
    async fn metadata(&self, key: &str) -> Result<Metadata, Error>;

    /// Lists every key, sorted.
    async fn keys(&self) -> Result<Vec<String>, Error>;
}

/// Accepts only keys made of ASCII letters, digits, `-`, `_` and `.` that do not start with a
/// dot, so a key can never name a path outside its bucket or a hidden file.
pub fn check_key(key: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if key.is_empty() || key.starts_with('.') || !key.chars().all(allowed) {
        return Err(Error::InvalidKey(key.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_escape_are_refused() {
        for key in ["", "..", "../x", "a/b", ".hidden", "a\0b", "é"] {
            assert!(check_key(key).is_err(), "{key:?} was accepted");
        }
        check_key("0b6f1c9e-3c1e-4d5b-9f61-2a8c1e0b7d11").unwrap();
    }
}
