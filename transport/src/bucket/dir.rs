//! A bucket that is a local directory: `<dir>/<key>` holds the object and `<dir>/.<key>.meta`
//! its metadata.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use super::{Bucket, Metadata, check_key};
use crate::Error;

/// A directory used as a bucket.
#[derive(Debug, Clone)]
pub struct DirBucket {
    dir: PathBuf,
}

impl DirBucket {
    /// Opens `dir` as a bucket, creating it if needed.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir).await?;
        Ok(Self { dir })
    }

    fn path(&self, key: &str) -> Result<PathBuf, Error> {
        check_key(key)?;
        Ok(self.dir.join(key))
    }

    fn metadata_path(&self, key: &str) -> Result<PathBuf, Error> {
        check_key(key)?;
        Ok(self.dir.join(format!(".{key}.meta")))
    }
}

/// Where an object is written before its rename: a dot file beside it, so that what a writer
/// killed mid-write leaves behind is never listed as a key.
// Limitation: nothing removes such leftovers; they stay on disk until someone deletes them.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4()))
}

/// Writes through a temporary file and a rename, so a reader never sees half an object.
async fn write_atomically(path: &Path, body: &[u8]) -> Result<(), Error> {
    let temporary = temporary_path(path);
    tokio::fs::write(&temporary, body).await?;
    tokio::fs::rename(&temporary, path).await?;
    Ok(())
}

fn not_found(key: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |error| match error.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound(key.to_owned()),
        _ => Error::Io(error),
    }
}

#[async_trait]
impl Bucket for DirBucket {
    async fn put(&self, key: &str, body: Bytes, metadata: &Metadata) -> Result<(), Error> {
        write_atomically(&self.metadata_path(key)?, &serde_json::to_vec(metadata)?).await?;
        write_atomically(&self.path(key)?, &body).await
    }

    async fn get(&self, key: &str) -> Result<Bytes, Error> {
        let body = tokio::fs::read(self.path(key)?)
            .await
            .map_err(not_found(key))?;
        Ok(Bytes::from(body))
    }

    async fn metadata(&self, key: &str) -> Result<Metadata, Error> {
        let raw = tokio::fs::read(self.metadata_path(key)?)
            .await
            .map_err(not_found(key))?;
        Ok(serde_json::from_slice(&raw)?)
    }

    async fn keys(&self) -> Result<Vec<String>, Error> {
        let mut entries = tokio::fs::read_dir(&self.dir).await?;
        let mut keys = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                keys.push(name);
            }
        }
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_object_and_metadata_under_the_key_only() {
        let root = tempfile::tempdir().unwrap();
        let bucket = DirBucket::open(root.path().join("input")).await.unwrap();
        let metadata = Metadata {
            file: "../../etc/passwd".into(),
            content_type: "image/jpeg".into(),
        };

        bucket
            .put("abc", Bytes::from_static(b"jpeg"), &metadata)
            .await
            .unwrap();

        assert_eq!(
            bucket.get("abc").await.unwrap(),
            Bytes::from_static(b"jpeg")
        );
        assert_eq!(bucket.metadata("abc").await.unwrap(), metadata);
        assert_eq!(bucket.keys().await.unwrap(), vec!["abc".to_owned()]);
        assert!(!root.path().join("etc").exists());
    }

    #[tokio::test]
    async fn half_written_object_of_a_killed_writer_is_not_a_key() {
        let root = tempfile::tempdir().unwrap();
        let bucket = DirBucket::open(root.path()).await.unwrap();
        let left_behind = temporary_path(&root.path().join("abc"));
        tokio::fs::write(&left_behind, b"jp").await.unwrap();

        assert_eq!(left_behind.parent(), Some(root.path()));
        assert!(bucket.keys().await.unwrap().is_empty());
        assert!(matches!(bucket.get("abc").await, Err(Error::NotFound(_))));
    }

    #[tokio::test]
    async fn missing_object_is_not_found() {
        let root = tempfile::tempdir().unwrap();
        let bucket = DirBucket::open(root.path()).await.unwrap();
        assert!(matches!(bucket.get("nope").await, Err(Error::NotFound(_))));
    }

    #[tokio::test]
    async fn putting_twice_keeps_one_object() {
        let root = tempfile::tempdir().unwrap();
        let bucket = DirBucket::open(root.path()).await.unwrap();
        let metadata = Metadata::default();
        bucket
            .put("k", Bytes::from_static(b"1"), &metadata)
            .await
            .unwrap();
        bucket
            .put("k", Bytes::from_static(b"2"), &metadata)
            .await
            .unwrap();
        assert_eq!(bucket.keys().await.unwrap().len(), 1);
        assert_eq!(bucket.get("k").await.unwrap(), Bytes::from_static(b"2"));
    }
}
