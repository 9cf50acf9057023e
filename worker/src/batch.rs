//! Assembling a batch: wait for the first request, then take what else arrives within a short
//! delay, up to the batch limit.

use std::time::Duration;

use recog_transport::Error;
use recog_transport::queue::{Delivery, Queue};
use tokio::time::Instant;

/// Receives up to `max` messages: waits up to `poll` for the first, then at most `delay` more
/// for the rest.
pub(crate) async fn receive(
    queue: &dyn Queue,
    max: usize,
    poll: Duration,
    delay: Duration,
) -> Result<Vec<Delivery>, Error> {
    let mut batch = queue.receive(max, poll).await?;
    if batch.is_empty() {
        return Ok(batch);
    }

    let deadline = Instant::now() + delay;
    while batch.len() < max {
        let left = deadline.saturating_duration_since(Instant::now());
        let more = queue.receive(max - batch.len(), left).await?;
        if more.is_empty() {
            break;
        }
        batch.extend(more);
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use recog_transport::queue::MemoryQueue;

    use super::*;

    const POLL: Duration = Duration::from_secs(20);
    const DELAY: Duration = Duration::from_millis(5);

    fn queue() -> Arc<MemoryQueue> {
        Arc::new(MemoryQueue::new(Duration::from_secs(30)))
    }

    #[tokio::test(start_paused = true)]
    async fn takes_a_full_batch_without_waiting() {
        let queue = queue();
        for i in 0..25 {
            queue.send(i.to_string()).await.unwrap();
        }
        let start = Instant::now();
        let batch = receive(queue.as_ref(), 10, POLL, DELAY).await.unwrap();
        assert_eq!(batch.len(), 10);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_no_longer_than_the_delay_for_stragglers() {
        let queue = queue();
        queue.send("first".into()).await.unwrap();
        let start = Instant::now();
        let batch = receive(queue.as_ref(), 10, POLL, DELAY).await.unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(start.elapsed(), DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn collects_messages_that_arrive_within_the_delay() {
        let queue = queue();
        queue.send("first".into()).await.unwrap();
        let sender = tokio::spawn({
            let queue = queue.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                queue.send("second".into()).await.unwrap();
            }
        });
        let batch = receive(queue.as_ref(), 10, POLL, DELAY).await.unwrap();
        sender.await.unwrap();
        let bodies: Vec<&str> = batch.iter().map(|d| d.body.as_str()).collect();
        assert_eq!(bodies, ["first", "second"]);
    }

    #[tokio::test(start_paused = true)]
    async fn returns_empty_after_the_poll_wait() {
        let queue = queue();
        let start = Instant::now();
        assert!(
            receive(queue.as_ref(), 10, POLL, DELAY)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(start.elapsed(), POLL);
    }
}
