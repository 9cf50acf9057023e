//! Assembling a batch: once the first requests are in, take what else arrives within a short
//! delay, up to the batch limit.

use std::time::Duration;

use recog_transport::queue::{Delivery, Queue};
use tokio::time::Instant;

/// Tops up a batch that has its first messages with whatever else arrives within `delay`, up to
/// `max`. A failed receive ends the top-up; the batch in hand is still worth running.
pub(crate) async fn fill(
    queue: &dyn Queue,
    mut batch: Vec<Delivery>,
    max: usize,
    delay: Duration,
) -> Vec<Delivery> {
    let deadline = Instant::now() + delay;
    while batch.len() < max {
        let left = deadline.saturating_duration_since(Instant::now());
        match queue.receive(max - batch.len(), left).await {
            Ok(more) if more.is_empty() => break,
            Ok(more) => batch.extend(more),
            Err(error) => {
                tracing::warn!(%error, "Receive failed while filling a batch");
                break;
            }
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use recog_transport::queue::MemoryQueue;

    use super::*;

    const DELAY: Duration = Duration::from_millis(5);

    fn queue() -> Arc<MemoryQueue> {
        Arc::new(MemoryQueue::new(Duration::from_secs(30)))
    }

    async fn first(queue: &MemoryQueue) -> Vec<Delivery> {
        queue.receive(10, Duration::ZERO).await.unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn full_batch_is_not_delayed() {
        let queue = queue();
        for i in 0..25 {
            queue.send(i.to_string()).await.unwrap();
        }
        let start = Instant::now();
        let batch = fill(queue.as_ref(), first(&queue).await, 10, DELAY).await;
        assert_eq!(batch.len(), 10);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn tops_up_to_the_batch_limit() {
        let queue = queue();
        queue.send("first".into()).await.unwrap();
        let batch = first(&queue).await;
        for i in 0..25 {
            queue.send(i.to_string()).await.unwrap();
        }
        assert_eq!(fill(queue.as_ref(), batch, 10, DELAY).await.len(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_no_longer_than_the_delay_for_stragglers() {
        let queue = queue();
        queue.send("first".into()).await.unwrap();
        let start = Instant::now();
        let batch = fill(queue.as_ref(), first(&queue).await, 10, DELAY).await;
        assert_eq!(batch.len(), 1);
        assert_eq!(start.elapsed(), DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn collects_messages_that_arrive_within_the_delay() {
        let queue = queue();
        queue.send("first".into()).await.unwrap();
        let batch = first(&queue).await;
        let sender = tokio::spawn({
            let queue = queue.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                queue.send("second".into()).await.unwrap();
            }
        });
        let batch = fill(queue.as_ref(), batch, 10, DELAY).await;
        sender.await.unwrap();
        let bodies: Vec<&str> = batch.iter().map(|d| d.body.as_str()).collect();
        assert_eq!(bodies, ["first", "second"]);
    }
}
