//! The two loops, timing every request.
//!
//! A closed loop keeps a fixed number of requests in flight, so a slower server gets fewer
//! requests. An open loop sends at a fixed rate whatever the answers, and times each request
//! from when it was due rather than when it went out, so that a stalled sender cannot hide
//! the wait it would have caused (coordinated omission).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::{self, Instant};

use crate::client::Outcome;

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Mode {
    /// `concurrency` clients, each sending its next request when its last one is answered.
    Closed {
        /// Clients.
        concurrency: usize,
    },
    /// `rate` requests per second at fixed intervals.
    Open {
        /// Requests per second.
        rate: f64,
    },
}

/// A load test: how requests are paced, and how many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// How requests are paced.
    pub mode: Mode,
    /// Requests in all.
    pub requests: usize,
}

/// One request, timed.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Its number, from 0.
    pub request: usize,
    /// When it was sent (closed loop) or due (open loop), since the start.
    pub sent: Duration,
    /// From `sent` until its outcome was known, answer body included.
    pub latency: Duration,
    /// What became of it.
    pub outcome: Outcome,
}

/// Every request of a load test, and how long it took in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// One per request, by request number.
    pub samples: Vec<Sample>,
    /// From the start until the last outcome was known.
    pub wall: Duration,
}

/// When each request of an open loop is due.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    rate: f64,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Closed { concurrency } => write!(f, "closed loop, {concurrency} clients"),
            Mode::Open { rate } => write!(f, "open loop, {rate} req/s"),
        }
    }
}

impl Schedule {
    /// Requests at `rate` per second from `start` on.
    pub fn new(start: Instant, rate: f64) -> Schedule {
        Schedule { start, rate }
    }

    /// Request `request` is due at `start + request / rate`, to the nanosecond.
    pub fn at(&self, request: usize) -> Instant {
        let nanos = (request as f64 * 1e9 / self.rate).round();
        self.start + Duration::from_nanos(nanos as u64)
    }
}

/// Runs `plan`, calling `send(i)` for request `i` and awaiting what it returns.
pub async fn execute<S, F>(plan: &Plan, send: S) -> Results
where
    S: Fn(usize) -> F + Send + Sync + 'static,
    F: Future<Output = Outcome> + Send + 'static,
{
    let start = Instant::now();
    let mut samples = match plan.mode {
        Mode::Closed { concurrency } => {
            closed(Arc::new(send), concurrency, plan.requests, start).await
        }
        Mode::Open { rate } => open(&send, Schedule::new(start, rate), plan.requests).await,
    };
    let wall = start.elapsed();

    samples.sort_by_key(|sample| sample.request);
    Results { samples, wall }
}

async fn closed<S, F>(
    send: Arc<S>,
    concurrency: usize,
    requests: usize,
    start: Instant,
) -> Vec<Sample>
where
    S: Fn(usize) -> F + Send + Sync + 'static,
    F: Future<Output = Outcome> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = JoinSet::new();
    for _ in 0..concurrency.min(requests) {
        clients.spawn(client(send.clone(), next.clone(), requests, start));
    }
    clients.join_all().await.concat()
}

/// One closed-loop client: takes the next request number and sends it, until none are left.
async fn client<S, F>(
    send: Arc<S>,
    next: Arc<AtomicUsize>,
    requests: usize,
    start: Instant,
) -> Vec<Sample>
where
    S: Fn(usize) -> F,
    F: Future<Output = Outcome>,
{
    let mut samples = Vec::new();
    loop {
        let request = next.fetch_add(1, Ordering::Relaxed);
        if request >= requests {
            return samples;
        }
        let sent = Instant::now();
        samples.push(timed(request, start, sent, send(request)).await);
    }
}

/// Starts each request when it is due, without waiting for earlier answers.
async fn open<S, F>(send: &S, schedule: Schedule, requests: usize) -> Vec<Sample>
where
    S: Fn(usize) -> F,
    F: Future<Output = Outcome> + Send + 'static,
{
    let mut pending = JoinSet::new();
    for request in 0..requests {
        let due = schedule.at(request);
        time::sleep_until(due).await;
        pending.spawn(timed(request, schedule.start, due, send(request)));
    }
    pending.join_all().await
}

async fn timed(
    request: usize,
    start: Instant,
    sent: Instant,
    answer: impl Future<Output = Outcome>,
) -> Sample {
    let outcome = answer.await;
    Sample {
        request,
        sent: sent.duration_since(start),
        latency: sent.elapsed(),
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use crate::expected::Verdict;

    use super::*;

    const ANSWERED: Outcome = Outcome::Answered(Verdict::Unchecked);

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    /// A server that answers every request after `delay`.
    fn answering_after(delay: Duration) -> impl Fn(usize) -> time::Sleep + Send + Sync + 'static {
        move |_| time::sleep(delay)
    }

    async fn execute_with_delay(plan: Plan, delay: Duration) -> Results {
        let answer = answering_after(delay);
        execute(&plan, move |request| {
            let sleep = answer(request);
            async move {
                sleep.await;
                ANSWERED
            }
        })
        .await
    }

    fn sent_and_latency(results: &Results) -> Vec<(usize, Duration, Duration)> {
        let samples = results.samples.iter();
        samples.map(|s| (s.request, s.sent, s.latency)).collect()
    }

    #[test]
    fn schedule_is_start_plus_request_over_rate() {
        let start = Instant::now();
        let at = |rate, request| Schedule::new(start, rate).at(request) - start;
        assert_eq!(at(50.0, 0), Duration::ZERO);
        assert_eq!(at(50.0, 1), ms(20));
        assert_eq!(at(50.0, 19), ms(380));
        assert_eq!(at(3.0, 1), Duration::from_nanos(333_333_333));
        assert_eq!(at(3.0, 2), Duration::from_nanos(666_666_667));
        assert_eq!(at(0.5, 3), Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_sends_on_schedule_however_slow_the_answers() {
        let plan = Plan {
            mode: Mode::Open { rate: 10.0 },
            requests: 4,
        };
        let results = execute_with_delay(plan, ms(1000)).await;
        let expected = [
            (0, ms(0), ms(1000)),
            (1, ms(100), ms(1000)),
            (2, ms(200), ms(1000)),
            (3, ms(300), ms(1000)),
        ];
        assert_eq!(sent_and_latency(&results), expected);
        assert_eq!(results.wall, ms(1300));
    }

    #[tokio::test]
    async fn open_loop_times_a_late_request_from_when_it_was_due() {
        // Request 0 blocks the only runtime thread for 250 ms, so requests 1 and 2 (due at
        // 100 and 200 ms) go out late. Real time is used: a paused clock would not move.
        let plan = Plan {
            mode: Mode::Open { rate: 10.0 },
            requests: 3,
        };
        let send = |request: usize| async move {
            if request == 0 {
                std::thread::sleep(ms(250));
            }
            ANSWERED
        };
        let results = execute(&plan, send).await;

        let sent: Vec<Duration> = results.samples.iter().map(|s| s.sent).collect();
        assert_eq!(sent, [ms(0), ms(100), ms(200)]);
        assert!(results.samples[1].latency >= ms(150), "{results:?}");
        assert!(results.samples[2].latency >= ms(50), "{results:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn closed_loop_sends_the_next_request_when_an_answer_arrives() {
        let plan = Plan {
            mode: Mode::Closed { concurrency: 2 },
            requests: 5,
        };
        let results = execute_with_delay(plan, ms(100)).await;
        let expected = [
            (0, ms(0), ms(100)),
            (1, ms(0), ms(100)),
            (2, ms(100), ms(100)),
            (3, ms(100), ms(100)),
            (4, ms(200), ms(100)),
        ];
        assert_eq!(sent_and_latency(&results), expected);
        assert_eq!(results.wall, ms(300));
    }

    #[tokio::test(start_paused = true)]
    async fn closed_loop_with_more_clients_than_requests_sends_each_once() {
        let plan = Plan {
            mode: Mode::Closed { concurrency: 100 },
            requests: 3,
        };
        let results = execute_with_delay(plan, ms(40)).await;
        let expected = [(0, ms(0), ms(40)), (1, ms(0), ms(40)), (2, ms(0), ms(40))];
        assert_eq!(sent_and_latency(&results), expected);
        assert_eq!(results.wall, ms(40));
    }

    #[test]
    fn modes_read_as_words() {
        assert_eq!(
            Mode::Closed { concurrency: 100 }.to_string(),
            "closed loop, 100 clients"
        );
        assert_eq!(Mode::Open { rate: 2.5 }.to_string(), "open loop, 2.5 req/s");
    }
}
