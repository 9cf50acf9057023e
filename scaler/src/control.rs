//! The control loop: every tick, read the queue's depth and the fleet's census, ask the policy,
//! and resize the fleet.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use recog_transport::metrics::{SCALER_DECISIONS, SCALER_DESIRED_WORKERS, SCALER_WORKERS};
use recog_transport::queue::Queue;
use tokio_util::sync::CancellationToken;

use crate::policy::{Memory, Observation, Policy};

/// Workers, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Census {
    /// Starting, not yet taking requests.
    pub pending: usize,
    /// Taking requests.
    pub running: usize,
    /// Running and in the middle of a batch.
    pub busy: usize,
}

/// A set of workers the scaler can count and resize.
#[async_trait]
pub trait Fleet: Send + Sync {
    /// The workers now.
    async fn census(&self) -> Result<Census, String>;

    /// Starts workers, or retires idle ones, until there are `desired`. A busy worker is never
    /// stopped: a retiring worker finishes and acknowledges its batch before it exits.
    async fn scale_to(&self, desired: usize) -> Result<(), String>;
}

/// Ticks every `interval` until `shutdown`.
pub async fn run(
    policy: Policy,
    queue: Arc<dyn Queue>,
    fleet: Arc<dyn Fleet>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(interval);
    let (mut memory, mut last) = (Memory::default(), None);
    while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
        match tick(&policy, queue.as_ref(), fleet.as_ref(), memory, last).await {
            Ok((desired, next)) => (memory, last) = (next, Some(desired)),
            Err(error) => tracing::warn!(%error, "Scaler tick failed"),
        }
    }
}

async fn tick(
    policy: &Policy,
    queue: &dyn Queue,
    fleet: &dyn Fleet,
    memory: Memory,
    last: Option<usize>,
) -> Result<(usize, Memory), String> {
    let depth = queue.depth().await.map_err(|e| e.to_string())?.total();
    let census = fleet.census().await?;
    let workers = census.pending + census.running;
    let now = Observation {
        depth,
        workers,
        busy: census.busy,
    };
    let (desired, memory) = policy.decide(memory, now);

    metrics::gauge!(SCALER_DESIRED_WORKERS).set(desired as f64);
    metrics::gauge!(SCALER_WORKERS).set(workers as f64);
    if last != Some(desired) {
        let direction = if desired > workers {
            "out"
        } else if desired < workers {
            "in"
        } else {
            "hold"
        };
        metrics::counter!(SCALER_DECISIONS, "direction" => direction).increment(1);
        tracing::info!(desired, workers, depth, direction, "Scaling");
    }
    fleet.scale_to(desired).await?;
    Ok((desired, memory))
}
