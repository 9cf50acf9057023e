//! S3 buckets. The client's file name travels as object metadata, escaped to ASCII because
//! S3 metadata are HTTP headers.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use recog_transport::Error;
use recog_transport::bucket::{Bucket, Metadata, check_key};

use crate::remote;

/// The metadata key holding the client's file name.
const FILE_METADATA: &str = "file";

/// One S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    client: Client,
    bucket: String,
}

impl S3Bucket {
    /// The bucket named `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl Bucket for S3Bucket {
    async fn put(&self, key: &str, body: Bytes, metadata: &Metadata) -> Result<(), Error> {
        check_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .content_type(&metadata.content_type)
            .metadata(FILE_METADATA, metadata.file.escape_default().to_string())
            .send()
            .await
            .map_err(remote)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes, Error> {
        check_key(key)?;
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let output = output.map_err(|error| match error.as_service_error() {
            Some(service) if service.is_no_such_key() => Error::NotFound(key.to_owned()),
            _ => remote(error),
        })?;
        Ok(output.body.collect().await.map_err(remote)?.into_bytes())
    }

    async fn metadata(&self, key: &str) -> Result<Metadata, Error> {
        check_key(key)?;
        let output = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let output = output.map_err(|error| match error.as_service_error() {
            Some(service) if service.is_not_found() => Error::NotFound(key.to_owned()),
            _ => remote(error),
        })?;
        let file = output
            .metadata()
            .and_then(|m| m.get(FILE_METADATA))
            .cloned()
            .unwrap_or_default();
        Ok(Metadata {
            file,
            content_type: output.content_type().unwrap_or_default().to_owned(),
        })
    }

    async fn keys(&self) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(remote)?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key().map(str::to_owned)),
            );
        }
        keys.sort();
        Ok(keys)
    }
}
