//! The embedded queue: SQS semantics inside one process.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Broker, Delivery, Depth, MAX_RECEIVE, Queue};
use crate::Error;
use crate::message::now_ms;

/// An in-memory queue with a visibility timeout, measured on tokio's clock.
#[derive(Debug)]
pub struct MemoryQueue {
    visibility: Duration,
    state: Mutex<State>,
    arrived: Notify,
}

#[derive(Debug, Default)]
struct State {
    visible: VecDeque<Message>,
    in_flight: HashMap<String, InFlight>,
    next_receipt: u64,
}

#[derive(Debug)]
struct Message {
    body: String,
    receive_count: u32,
    sent_ms: u64,
}

#[derive(Debug)]
struct InFlight {
    message: Message,
    visible_at: Instant,
}

impl MemoryQueue {
    /// An empty queue whose deliveries stay hidden for `visibility`.
    pub fn new(visibility: Duration) -> Self {
        Self {
            visibility,
            state: Mutex::default(),
            arrived: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the queue's data consistent: every mutation
        // below is a single move between the two collections.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// Moves deliveries whose visibility timeout has passed back to the front of the queue and
    /// returns when the next in-flight message becomes visible.
    fn requeue_expired(&mut self, now: Instant) -> Option<Instant> {
        let expired: Vec<String> = self
            .in_flight
            .iter()
            .filter(|(_, flight)| flight.visible_at <= now)
            .map(|(receipt, _)| receipt.clone())
            .collect();
        for receipt in expired {
            if let Some(flight) = self.in_flight.remove(&receipt) {
                self.visible.push_front(flight.message);
            }
        }
        self.in_flight
            .values()
            .map(|flight| flight.visible_at)
            .min()
    }

    fn take(&mut self, max: usize, visible_at: Instant) -> Vec<Delivery> {
        let count = max.min(MAX_RECEIVE).min(self.visible.len());
        let mut deliveries = Vec::with_capacity(count);
        for mut message in self.visible.drain(..count).collect::<Vec<_>>() {
            self.next_receipt += 1;
            let receipt = format!("r{}", self.next_receipt);
            message.receive_count += 1;
            deliveries.push(Delivery {
                body: message.body.clone(),
                receipt: receipt.clone(),
                receive_count: message.receive_count,
                sent_ms: message.sent_ms,
            });
            self.in_flight.insert(
                receipt,
                InFlight {
                    message,
                    visible_at,
                },
            );
        }
        deliveries
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, body: String) -> Result<(), Error> {
        let message = Message {
            body,
            receive_count: 0,
            sent_ms: now_ms(),
        };
        self.state().visible.push_back(message);
        self.arrived.notify_waiters();
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, Error> {
        let deadline = Instant::now() + wait;
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();

            let now = Instant::now();
            let next_expiry = {
                let mut state = self.state();
                let next_expiry = state.requeue_expired(now);
                let deliveries = state.take(max, now + self.visibility);
                if !deliveries.is_empty() {
                    return Ok(deliveries);
                }
                next_expiry
            };
            if now >= deadline {
                return Ok(Vec::new());
            }

            let wake = next_expiry.map_or(deadline, |expiry| expiry.min(deadline));
            tokio::select! {
                () = &mut arrived => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), Error> {
        let mut state = self.state();
        for receipt in receipts {
            state.in_flight.remove(receipt);
        }
        Ok(())
    }

    async fn extend(&self, receipts: &[String], visibility: Duration) -> Result<(), Error> {
        let visible_at = Instant::now() + visibility;
        let mut state = self.state();
        for receipt in receipts {
            if let Some(flight) = state.in_flight.get_mut(receipt) {
                flight.visible_at = visible_at;
            }
        }
        Ok(())
    }

    async fn depth(&self) -> Result<Depth, Error> {
        let mut state = self.state();
        state.requeue_expired(Instant::now());
        Ok(Depth {
            visible: state.visible.len(),
            in_flight: state.in_flight.len(),
        })
    }
}

/// Named in-memory queues that share one visibility timeout.
#[derive(Debug)]
pub struct MemoryBroker {
    visibility: Duration,
    queues: Mutex<HashMap<String, Arc<MemoryQueue>>>,
}

impl MemoryBroker {
    /// A broker with no queues yet.
    pub fn new(visibility: Duration) -> Self {
        Self {
            visibility,
            queues: Mutex::default(),
        }
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<MemoryQueue>>> {
        self.queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    async fn create(&self, name: &str) -> Result<Arc<dyn Queue>, Error> {
        let mut queues = self.queues();
        let queue = queues
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(MemoryQueue::new(self.visibility)));
        Ok(queue.clone())
    }

    async fn open(&self, name: &str) -> Result<Arc<dyn Queue>, Error> {
        let queue = self.queues().get(name).cloned();
        match queue {
            Some(queue) => Ok(queue),
            None => Err(Error::NoSuchQueue(name.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VISIBILITY: Duration = Duration::from_secs(30);

    async fn queue_with(count: usize) -> MemoryQueue {
        let queue = MemoryQueue::new(VISIBILITY);
        for i in 0..count {
            queue.send(format!("m{i}")).await.unwrap();
        }
        queue
    }

    #[tokio::test(start_paused = true)]
    async fn receive_returns_at_most_ten() {
        let queue = queue_with(25).await;
        let first = queue.receive(100, Duration::ZERO).await.unwrap();
        assert_eq!(first.len(), 10);
        assert_eq!(first[0].body, "m0");
        assert_eq!(queue.receive(3, Duration::ZERO).await.unwrap().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn depth_counts_visible_and_in_flight() {
        let queue = queue_with(12).await;
        queue.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(
            queue.depth().await.unwrap(),
            Depth {
                visible: 2,
                in_flight: 10
            }
        );
        assert_eq!(queue.depth().await.unwrap().total(), 12);
    }

    #[tokio::test(start_paused = true)]
    async fn undeleted_message_is_redelivered_after_visibility_timeout() {
        let queue = queue_with(1).await;
        let first = queue.receive(10, Duration::ZERO).await.unwrap();
        assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());

        tokio::time::advance(VISIBILITY - Duration::from_millis(1)).await;
        assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());

        tokio::time::advance(Duration::from_millis(1)).await;
        let again = queue.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].body, first[0].body);
        assert_eq!(again[0].receive_count, 2);
        assert_ne!(again[0].receipt, first[0].receipt);
    }

    #[tokio::test(start_paused = true)]
    async fn deleted_message_is_never_redelivered() {
        let queue = queue_with(1).await;
        let delivery = queue.receive(10, Duration::ZERO).await.unwrap().remove(0);
        queue.delete(&[delivery.receipt]).await.unwrap();
        tokio::time::advance(VISIBILITY * 2).await;
        assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
        assert_eq!(queue.depth().await.unwrap().total(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_receipt_does_not_delete_the_redelivery() {
        let queue = queue_with(1).await;
        let stale = queue.receive(10, Duration::ZERO).await.unwrap().remove(0);
        tokio::time::advance(VISIBILITY).await;
        queue.receive(10, Duration::ZERO).await.unwrap();
        queue.delete(&[stale.receipt]).await.unwrap();
        assert_eq!(
            queue.depth().await.unwrap(),
            Depth {
                visible: 0,
                in_flight: 1
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn long_poll_wakes_when_a_message_arrives() {
        let queue = Arc::new(MemoryQueue::new(VISIBILITY));
        let receiver = tokio::spawn({
            let queue = queue.clone();
            async move { queue.receive(10, Duration::from_secs(20)).await.unwrap() }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        queue.send("late".into()).await.unwrap();
        let got = receiver.await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "late");
    }

    #[tokio::test(start_paused = true)]
    async fn long_poll_returns_empty_after_its_wait() {
        let queue = MemoryQueue::new(VISIBILITY);
        let start = Instant::now();
        assert!(
            queue
                .receive(10, Duration::from_secs(20))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(start.elapsed(), Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn long_poll_wakes_for_a_redelivery() {
        let queue = queue_with(1).await;
        queue.receive(10, Duration::ZERO).await.unwrap();
        let start = Instant::now();
        let again = queue.receive(10, Duration::from_secs(60)).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(start.elapsed(), VISIBILITY);
    }

    #[tokio::test(start_paused = true)]
    async fn extended_message_stays_hidden_until_the_new_timeout() {
        let queue = queue_with(1).await;
        let delivery = queue.receive(10, Duration::ZERO).await.unwrap().remove(0);
        tokio::time::advance(VISIBILITY / 2).await;
        queue.extend(&[delivery.receipt], VISIBILITY).await.unwrap();

        tokio::time::advance(VISIBILITY - Duration::from_millis(1)).await;
        assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(queue.receive(10, Duration::ZERO).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn broker_opens_only_created_queues() {
        let broker = MemoryBroker::new(VISIBILITY);
        assert!(matches!(
            broker.open("replies").await,
            Err(Error::NoSuchQueue(_))
        ));
        let created = broker.create("replies").await.unwrap();
        created.send("x".into()).await.unwrap();
        let opened = broker.open("replies").await.unwrap();
        assert_eq!(opened.depth().await.unwrap().visible, 1);
    }
}
