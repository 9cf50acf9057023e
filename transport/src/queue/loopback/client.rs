//! The calling side: a [`Broker`] whose queues live in another process.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{RequestBuilder, StatusCode};
use serde::Serialize;

use super::{Receipts, Receive, Send};
use crate::queue::{Broker, Delivery, Depth, Queue};
use crate::{Error, chain};

/// Time allowed for a call, on top of a receive's long-poll wait.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Queues served by [`serve`](super::serve) at a base URL.
#[derive(Debug, Clone)]
pub struct LoopbackBroker {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl LoopbackBroker {
    /// A broker for the queues at `base` (`http://127.0.0.1:PORT`), authorised by `token`.
    pub fn new(base: &str, token: &str) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .build()
            .expect("a plain-HTTP client always builds");
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    fn queue(&self, name: &str) -> Arc<dyn Queue> {
        Arc::new(LoopbackQueue {
            broker: self.clone(),
            url: format!("{}/queues/{name}", self.base),
        })
    }

    fn call(&self, request: RequestBuilder) -> RequestBuilder {
        request.bearer_auth(&self.token).timeout(CALL_TIMEOUT)
    }
}

#[async_trait]
impl Broker for LoopbackBroker {
    async fn create(&self, name: &str) -> Result<Arc<dyn Queue>, Error> {
        let queue = self.queue(name);
        let url = format!("{}/queues/{name}", self.base);
        send(self.call(self.client.post(url)), name).await?;
        Ok(queue)
    }

    async fn open(&self, name: &str) -> Result<Arc<dyn Queue>, Error> {
        let url = format!("{}/queues/{name}", self.base);
        send(self.call(self.client.get(url)), name).await?;
        Ok(self.queue(name))
    }
}

/// One queue in the serving process.
#[derive(Debug)]
struct LoopbackQueue {
    broker: LoopbackBroker,
    url: String,
}

impl LoopbackQueue {
    async fn post(
        &self,
        operation: &str,
        body: &impl Serialize,
    ) -> Result<reqwest::Response, Error> {
        let request = self.broker.client.post(format!("{}/{operation}", self.url));
        send(self.broker.call(request).json(body), &self.url).await
    }
}

#[async_trait]
impl Queue for LoopbackQueue {
    async fn send(&self, body: String) -> Result<(), Error> {
        self.post("send", &Send { body }).await.map(drop)
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, Error> {
        let receive = Receive {
            max,
            wait_ms: wait.as_millis() as u64,
        };
        let request = self.broker.client.post(format!("{}/receive", self.url));
        let request = self
            .broker
            .call(request)
            .timeout(wait + CALL_TIMEOUT)
            .json(&receive);
        let response = send(request, &self.url).await?;
        response.json().await.map_err(|e| Error::Remote(chain(&e)))
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), Error> {
        let receipts = Receipts {
            receipts: receipts.to_vec(),
            visibility_ms: 0,
        };
        self.post("delete", &receipts).await.map(drop)
    }

    async fn extend(&self, receipts: &[String], visibility: Duration) -> Result<(), Error> {
        let receipts = Receipts {
            receipts: receipts.to_vec(),
            visibility_ms: visibility.as_millis() as u64,
        };
        self.post("extend", &receipts).await.map(drop)
    }

    async fn depth(&self) -> Result<Depth, Error> {
        let request = self.broker.client.get(format!("{}/depth", self.url));
        let response = send(self.broker.call(request), &self.url).await?;
        response.json().await.map_err(|e| Error::Remote(chain(&e)))
    }
}

/// Sends `request`; a 404 means the queue `name` is missing, another failure status carries
/// the server's one-line reason.
async fn send(request: RequestBuilder, name: &str) -> Result<reqwest::Response, Error> {
    let response = request.send().await.map_err(|e| Error::Remote(chain(&e)))?;
    match response.status() {
        status if status.is_success() => Ok(response),
        StatusCode::NOT_FOUND => Err(Error::NoSuchQueue(
            name.rsplit('/').next().unwrap_or(name).to_owned(),
        )),
        status => {
            let reason = response.text().await.unwrap_or_default();
            Err(Error::Remote(format!(
                "queue service answered {status}: {reason}"
            )))
        }
    }
}
