//! `recog aws init`: creates, idempotently, the request queue with its dead-letter queue and
//! redrive policy, and both buckets.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use recog_transport::Error;

use crate::{Aws, remote};

/// What `init` creates.
#[derive(Debug, Clone)]
pub struct Resources {
    /// The request queue.
    pub request_queue: String,
    /// Where requests received too often go.
    pub dead_letter_queue: String,
    /// The uploaded images.
    pub input_bucket: String,
    /// The answers.
    pub output_bucket: String,
    /// The request queue's visibility timeout.
    pub visibility: Duration,
    /// Receives after which a request moves to the dead-letter queue.
    pub max_receives: u32,
}

/// Creates whatever is missing and returns one line per resource saying what exists.
pub async fn init(aws: &Aws, resources: &Resources) -> Result<Vec<String>, Error> {
    let dead_letter_url = create_queue(aws, &resources.dead_letter_queue).await?;
    let arn = queue_arn(aws, &dead_letter_url).await?;
    let request_url = create_queue(aws, &resources.request_queue).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": arn,
        "maxReceiveCount": resources.max_receives.to_string(),
    });
    aws.sqs
        .set_queue_attributes()
        .queue_url(&request_url)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            resources.visibility.as_secs().to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(remote)?;

    create_bucket(aws, &resources.input_bucket).await?;
    create_bucket(aws, &resources.output_bucket).await?;
    Ok(vec![
        format!(
            "queue {request_url} (visibility {}s, dead letters after {} receives)",
            resources.visibility.as_secs(),
            resources.max_receives
        ),
        format!("queue {dead_letter_url}"),
        format!("bucket s3://{}", resources.input_bucket),
        format!("bucket s3://{}", resources.output_bucket),
    ])
}

async fn create_queue(aws: &Aws, name: &str) -> Result<String, Error> {
    let output = aws
        .sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(remote)?;
    Ok(output.queue_url().unwrap_or_default().to_owned())
}

async fn queue_arn(aws: &Aws, url: &str) -> Result<String, Error> {
    let output = aws
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(remote)?;
    let arn = output
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn));
    Ok(arn.cloned().unwrap_or_default())
}

async fn create_bucket(aws: &Aws, name: &str) -> Result<(), Error> {
    match aws.s3.create_bucket().bucket(name).send().await {
        Ok(_) => Ok(()),
        Err(error) => match error.as_service_error() {
            Some(service) if service.is_bucket_already_owned_by_you() => Ok(()),
            _ => Err(remote(error)),
        },
    }
}
