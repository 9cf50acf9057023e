//! The response listener: long-polls this edge's reply queue and completes waiters.

use std::sync::Arc;
use std::time::Duration;

use recog_transport::message::Response;
use recog_transport::metrics::RESPONSES_DROPPED;
use recog_transport::queue::{Delivery, MAX_RECEIVE, Queue};
use tokio_util::sync::CancellationToken;

use crate::waiters::Waiters;

/// How long one receive waits for a response.
const POLL_WAIT: Duration = Duration::from_secs(20);
/// Pause after a failed receive, doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Completes waiters from `replies` until `shutdown` is cancelled.
pub(crate) async fn listen(
    replies: Arc<dyn Queue>,
    waiters: Arc<Waiters>,
    shutdown: CancellationToken,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return,
            received = replies.receive(MAX_RECEIVE, POLL_WAIT) => received,
        };
        match received {
            Ok(deliveries) => {
                backoff = FIRST_BACKOFF;
                deliver(&deliveries, &waiters);
                let receipts: Vec<String> = deliveries.into_iter().map(|d| d.receipt).collect();
                if let Err(error) = replies.delete(&receipts).await {
                    tracing::warn!(%error, "Cannot delete consumed responses");
                }
            }
            Err(error) => {
                tracing::warn!(%error, backoff_ms = backoff.as_millis(), "Reply queue receive failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn deliver(deliveries: &[Delivery], waiters: &Waiters) {
    for delivery in deliveries {
        let response: Response = match serde_json::from_str(&delivery.body) {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(%error, "Dropping unreadable response");
                metrics::counter!(RESPONSES_DROPPED, "reason" => "unreadable").increment(1);
                continue;
            }
        };
        if !waiters.complete(response.id, response.outcome) {
            tracing::debug!(id = %response.id, "Dropping response nobody waits for");
            metrics::counter!(RESPONSES_DROPPED, "reason" => "no_waiter").increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use recog_transport::message::Outcome;
    use recog_transport::queue::MemoryQueue;
    use tokio::time::Instant;
    use uuid::Uuid;

    use super::*;

    fn response(id: Uuid, reason: &str) -> String {
        let outcome = Outcome::Rejected {
            reason: reason.into(),
        };
        serde_json::to_string(&Response { id, outcome }).unwrap()
    }

    #[tokio::test]
    async fn completes_the_waiter_once_and_consumes_everything() {
        let replies = Arc::new(MemoryQueue::new(Duration::from_secs(30)));
        let waiters = Waiters::new(10);
        let id = Uuid::new_v4();
        let waiter = waiters.register(id).unwrap();
        for body in [
            response(id, "first"),
            response(id, "duplicate"),
            "garbage".into(),
        ] {
            replies.send(body).await.unwrap();
        }

        let shutdown = CancellationToken::new();
        let task = tokio::spawn(listen(replies.clone(), waiters.clone(), shutdown.clone()));
        let outcome = waiter
            .wait(Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Outcome::Rejected {
                reason: "first".into()
            }
        );

        while replies.depth().await.unwrap().total() > 0 {
            tokio::task::yield_now().await;
        }
        shutdown.cancel();
        task.await.unwrap();
        assert!(waiters.is_empty());
    }
}
