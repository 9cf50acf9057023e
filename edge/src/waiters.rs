//! The waiter map: each request in flight holds a one-shot slot that the response listener
//! fills. A waiter removes itself when its request finishes, times out, or its client hangs up,
//! so late and duplicate responses find nobody and are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use recog_transport::message::Outcome;
use recog_transport::metrics::INFLIGHT_REQUESTS;
use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

/// Requests waiting for their response, at most `capacity` at once.
#[derive(Debug)]
pub struct Waiters {
    capacity: usize,
    slots: Mutex<HashMap<Uuid, oneshot::Sender<Outcome>>>,
}

/// One request's claim on its response. Dropping it withdraws the request.
#[derive(Debug)]
pub struct Waiter {
    id: Uuid,
    receiver: oneshot::Receiver<Outcome>,
    waiters: Arc<Waiters>,
}

/// Why a waiter got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// The deadline passed before the response arrived.
    TimedOut,
    /// The edge is shutting down and gave up on the request.
    Abandoned,
}

impl Waiters {
    /// An empty map that admits at most `capacity` waiters.
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            capacity,
            slots: Mutex::default(),
        })
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, oneshot::Sender<Outcome>>> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a waiter for `id`, or returns `None` when the map is full.
    pub fn register(self: &Arc<Self>, id: Uuid) -> Option<Waiter> {
        let (sender, receiver) = oneshot::channel();
        let mut slots = self.slots();
        if slots.len() >= self.capacity {
            return None;
        }
        slots.insert(id, sender);
        metrics::gauge!(INFLIGHT_REQUESTS).set(slots.len() as f64);
        Some(Waiter {
            id,
            receiver,
            waiters: self.clone(),
        })
    }

    /// Hands `outcome` to the waiter for `id`; false if nobody is waiting for it.
    pub fn complete(&self, id: Uuid, outcome: Outcome) -> bool {
        let sender = self.remove(id);
        sender.is_some_and(|sender| sender.send(outcome).is_ok())
    }

    /// Requests now waiting.
    pub fn len(&self) -> usize {
        self.slots().len()
    }

    /// True when no request is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives up on every request waiting now: each gets [`Unanswered::Abandoned`].
    pub fn abandon_all(&self) {
        let mut slots = self.slots();
        slots.clear();
        metrics::gauge!(INFLIGHT_REQUESTS).set(0.0);
    }

    fn remove(&self, id: Uuid) -> Option<oneshot::Sender<Outcome>> {
        let mut slots = self.slots();
        let sender = slots.remove(&id);
        metrics::gauge!(INFLIGHT_REQUESTS).set(slots.len() as f64);
        sender
    }
}

impl Waiter {
    /// The request id this waiter answers.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Waits for the response until `deadline`.
    pub async fn wait(mut self, deadline: Instant) -> Result<Outcome, Unanswered> {
        match tokio::time::timeout_at(deadline, &mut self.receiver).await {
            Ok(Ok(outcome)) => Ok(outcome),
            // The sender is dropped unsent only by `abandon_all`.
            Ok(Err(_)) => Err(Unanswered::Abandoned),
            Err(_) => Err(Unanswered::TimedOut),
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.waiters.remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn rejected(reason: &str) -> Outcome {
        Outcome::Rejected {
            reason: reason.into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn completed_waiter_gets_the_outcome_and_leaves_the_map() {
        let waiters = Waiters::new(10);
        let id = Uuid::new_v4();
        let waiter = waiters.register(id).unwrap();
        assert!(waiters.complete(id, rejected("x")));
        let outcome = waiter.wait(Instant::now() + Duration::from_secs(1)).await;
        assert_eq!(outcome, Ok(rejected("x")));
        assert!(waiters.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn waiter_times_out_at_its_deadline_and_leaves_the_map() {
        let waiters = Waiters::new(10);
        let id = Uuid::new_v4();
        let waiter = waiters.register(id).unwrap();
        let start = Instant::now();
        let outcome = waiter.wait(start + Duration::from_secs(30)).await;
        assert_eq!(outcome, Err(Unanswered::TimedOut));
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        assert!(waiters.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn late_response_after_timeout_is_ignored() {
        let waiters = Waiters::new(10);
        let id = Uuid::new_v4();
        let waiter = waiters.register(id).unwrap();
        waiter
            .wait(Instant::now() + Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(!waiters.complete(id, rejected("late")));
    }

    #[tokio::test]
    async fn duplicate_response_is_ignored() {
        let waiters = Waiters::new(10);
        let id = Uuid::new_v4();
        let _waiter = waiters.register(id).unwrap();
        assert!(waiters.complete(id, rejected("first")));
        assert!(!waiters.complete(id, rejected("second")));
    }

    #[tokio::test]
    async fn hang_up_removes_the_waiter() {
        let waiters = Waiters::new(10);
        let id = Uuid::new_v4();
        let waiter = waiters.register(id).unwrap();
        let request = tokio::spawn(waiter.wait(Instant::now() + Duration::from_secs(60)));
        request.abort();
        assert!(request.await.unwrap_err().is_cancelled());
        assert!(waiters.is_empty());
        assert!(!waiters.complete(id, rejected("nobody")));
    }

    #[tokio::test]
    async fn abandoned_waiters_learn_it_and_leave_the_map() {
        let waiters = Waiters::new(10);
        let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
        let waiting = [first, second].map(|id| waiters.register(id).unwrap());
        waiters.abandon_all();
        assert!(waiters.is_empty());
        for waiter in waiting {
            let outcome = waiter.wait(Instant::now() + Duration::from_secs(60)).await;
            assert_eq!(outcome, Err(Unanswered::Abandoned));
        }
        assert!(!waiters.complete(first, rejected("late")));
    }

    #[tokio::test]
    async fn full_map_refuses_new_waiters_until_one_leaves() {
        let waiters = Waiters::new(2);
        let first = waiters.register(Uuid::new_v4()).unwrap();
        let _second = waiters.register(Uuid::new_v4()).unwrap();
        assert!(waiters.register(Uuid::new_v4()).is_none());
        drop(first);
        assert!(waiters.register(Uuid::new_v4()).is_some());
    }
}
