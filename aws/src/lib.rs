//! recog's queues and buckets on AWS: the [`Queue`] and [`Broker`] traits over SQS and the
//! [`Bucket`] trait over S3, so the edge and the workers run unchanged on separate machines.
//!
//! Credentials and region come from the standard AWS chain. An endpoint URL (the
//! `--aws-endpoint-url` flag, or the standard `AWS_ENDPOINT_URL*` variables) points recog at
//! any compatible server; S3 then uses path-style addressing.
//!
//! Layout:
//! - [`sqs`]: SQS queues and the broker that finds them by name.
//! - [`s3`]: S3 buckets.
//! - [`setup`]: creating the request queue, its dead-letter queue and the buckets.
//!
//! [`Queue`]: recog_transport::queue::Queue
//! [`Broker`]: recog_transport::queue::Broker
//! [`Bucket`]: recog_transport::bucket::Bucket
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod s3;
pub mod setup;
pub mod sqs;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;

/// How long one attempt at a call may take: past SQS's 20 s long poll, so that a server that
/// accepts a connection and never answers fails the call, which is then retried, instead of
/// hanging it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Clients for SQS and S3 sharing one configuration.
#[derive(Debug, Clone)]
pub struct Aws {
    /// The configuration the clients were made from, for other services' clients.
    pub config: aws_config::SdkConfig,
    /// The SQS client.
    pub sqs: aws_sdk_sqs::Client,
    /// The S3 client.
    pub s3: aws_sdk_s3::Client,
}

impl Aws {
    /// Loads the standard AWS configuration, pointed at `endpoint` when one is given.
    pub async fn connect(endpoint: Option<&str>) -> Aws {
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;

        let custom_endpoint = endpoint.is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        Aws::from_config(&config, custom_endpoint)
    }

    /// Clients for an already loaded configuration; `path_style` addresses S3 buckets by path,
    /// as servers other than AWS need.
    pub fn from_config(config: &aws_config::SdkConfig, path_style: bool) -> Aws {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        Aws {
            config: config.clone(),
            sqs: aws_sdk_sqs::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
        }
    }
}

/// Turns an SDK error into the transport's, keeping its full description for the log.
fn remote(error: impl std::error::Error) -> recog_transport::Error {
    recog_transport::Error::Remote(recog_transport::chain(&error))
}
