//! SQS queues. Receive long-polls in whole seconds, as SQS does; batches of deletes and
//! visibility changes go ten at a time, SQS's limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
};
use recog_transport::Error;
use recog_transport::queue::{Broker, Delivery, Depth, MAX_RECEIVE, Queue};

use crate::remote;

/// The message attribute that carries the request id on replies.
pub const REQUEST_ID_ATTRIBUTE: &str = "request_id";

/// One SQS queue, by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(client: Client, url: String) -> Self {
        Self { client, url }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

fn delivery(message: &Message) -> Option<Delivery> {
    let attribute = |name: MessageSystemAttributeName| {
        message
            .attributes()
            .and_then(|attributes| attributes.get(&name))
            .map(String::as_str)
    };
    let receive_count = attribute(MessageSystemAttributeName::ApproximateReceiveCount);
    let sent_ms = attribute(MessageSystemAttributeName::SentTimestamp);
    Some(Delivery {
        body: message.body()?.to_owned(),
        receipt: message.receipt_handle()?.to_owned(),
        receive_count: receive_count.and_then(|v| v.parse().ok()).unwrap_or(1),
        sent_ms: sent_ms.and_then(|v| v.parse().ok()).unwrap_or(0),
    })
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, body: String) -> Result<(), Error> {
        let request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body);
        request.send().await.map_err(remote)?;
        Ok(())
    }

    async fn send_tagged(&self, body: String, id: &str) -> Result<(), Error> {
        let tag = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(id)
            .build();
        let request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body);
        request
            .message_attributes(REQUEST_ID_ATTRIBUTE, tag.map_err(remote)?)
            .send()
            .await
            .map_err(remote)?;
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, Error> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, MAX_RECEIVE) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(remote)?;
        Ok(output.messages().iter().filter_map(delivery).collect())
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), Error> {
        for chunk in receipts.chunks(MAX_RECEIVE) {
            let entries = chunk.iter().enumerate().map(|(i, receipt)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .build()
            });
            let entries = entries.collect::<Result<Vec<_>, _>>().map_err(remote)?;
            let request = self.client.delete_message_batch().queue_url(&self.url);
            request
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(remote)?;
        }
        Ok(())
    }

    async fn extend(&self, receipts: &[String], visibility: Duration) -> Result<(), Error> {
        for chunk in receipts.chunks(MAX_RECEIVE) {
            let entries = chunk.iter().enumerate().map(|(i, receipt)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .visibility_timeout(visibility.as_secs() as i32)
                    .build()
            });
            let entries = entries.collect::<Result<Vec<_>, _>>().map_err(remote)?;
            let request = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.url);
            request
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(remote)?;
        }
        Ok(())
    }

    async fn depth(&self) -> Result<Depth, Error> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(remote)?;
        let count = |name: QueueAttributeName| -> usize {
            let attributes = output.attributes();
            attributes
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(Depth {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages)
                + count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        })
    }
}

/// Finds SQS queues by name and remembers their URLs.
#[derive(Debug, Clone)]
pub struct SqsBroker {
    client: Client,
    visibility: Duration,
    urls: Arc<Mutex<HashMap<String, String>>>,
}

impl SqsBroker {
    /// A broker whose created queues get `visibility` as their visibility timeout.
    pub fn new(client: Client, visibility: Duration) -> Self {
        Self {
            client,
            visibility,
            urls: Arc::default(),
        }
    }

    /// Deletes the named queue.
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        let url = self.url(name).await?;
        self.client
            .delete_queue()
            .queue_url(&url)
            .send()
            .await
            .map_err(remote)?;
        self.urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        Ok(())
    }

    /// The named queue's URL, or [`Error::NoSuchQueue`].
    pub async fn url(&self, name: &str) -> Result<String, Error> {
        if let Some(url) = self
            .urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(url.clone());
        }
        let output = self
            .client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(service) if service.is_queue_does_not_exist() => {
                    Error::NoSuchQueue(name.to_owned())
                }
                _ => remote(error),
            })?;
        let url = output.queue_url().unwrap_or_default().to_owned();
        self.remember(name, &url);
        Ok(url)
    }

    fn remember(&self, name: &str, url: &str) {
        self.urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), url.to_owned());
    }
}

#[async_trait]
impl Broker for SqsBroker {
    async fn create(&self, name: &str) -> Result<Arc<dyn Queue>, Error> {
        let output = self
            .client
            .create_queue()
            .queue_name(name)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                self.visibility.as_secs().to_string(),
            )
            .send()
            .await
            .map_err(remote)?;
        let url = output.queue_url().unwrap_or_default().to_owned();
        self.remember(name, &url);
        Ok(Arc::new(SqsQueue::new(self.client.clone(), url)))
    }

    async fn open(&self, name: &str) -> Result<Arc<dyn Queue>, Error> {
        let url = self.url(name).await?;
        Ok(Arc::new(SqsQueue::new(self.client.clone(), url)))
    }
}
