//! The embedded fleet: workers as `recog worker` child processes of `recog serve`, started and
//! retired by the scaler. Each child reports on its stdout when it is ready and when it holds a
//! batch; closing its stdin retires it: it stops receiving, finishes and acknowledges its
//! batch, then exits. A busy worker is never retired, and one that dies mid-batch loses
//! nothing: its requests are delivered again after the visibility timeout.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use recog_scaler::control::{Census, Fleet};
use recog_transport::metrics::WORKERS;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::report::Report;

/// How long a stopping worker may take to finish its batch before it is killed.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// How to start a worker: this executable with `args`, and the queue service's token in its
/// environment (not on its command line, where other local users could read it).
pub(crate) struct WorkerCommand {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) token: String,
}

/// What a worker has reported.
#[derive(Default)]
struct State {
    ready: AtomicBool,
    busy: AtomicBool,
}

/// One worker process.
struct Slot {
    id: usize,
    child: Child,
    /// Dropped to retire the worker.
    stdin: Option<ChildStdin>,
    state: Arc<State>,
}

/// Worker processes.
pub(crate) struct ProcessFleet {
    command: WorkerCommand,
    slots: Mutex<Vec<Slot>>,
    /// Retired workers finishing their batch.
    retiring: Mutex<Vec<Slot>>,
    /// Workers started so far, to number them.
    started: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ProcessFleet {
    pub(crate) fn new(command: WorkerCommand) -> ProcessFleet {
        ProcessFleet {
            command,
            slots: Mutex::default(),
            retiring: Mutex::default(),
            started: AtomicUsize::new(0),
        }
    }

    /// Retires every worker, letting each finish its batch, and waits for them to exit.
    pub(crate) async fn drain(&self) {
        let mut slots: Vec<Slot> = lock(&self.slots).drain(..).collect();
        slots.append(&mut lock(&self.retiring));
        for slot in &mut slots {
            slot.stdin = None;
        }
        // All at once: the limit bounds the whole drain, not each worker in turn.
        let mut stopping = tokio::task::JoinSet::new();
        for mut slot in slots {
            stopping.spawn(async move {
                if tokio::time::timeout(DRAIN_LIMIT, slot.child.wait())
                    .await
                    .is_err()
                {
                    tracing::warn!(worker = slot.id, "Worker did not stop in time; killing it");
                    let _ = slot.child.kill().await;
                }
            });
        }
        stopping.join_all().await;
    }

    fn start(&self) -> Result<Slot, String> {
        let id = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let mut child = Command::new(&self.command.program)
            .args(&self.command.args)
            .env("RECOG_BROKER_TOKEN", &self.command.token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Its own process group, so a terminal's Ctrl-C reaches only `recog serve`, which
            // then drains its workers in order.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start a worker process: {e}"))?;
        let state = Arc::new(State::default());
        let stdout = child.stdout.take().expect("stdout is piped");
        tokio::spawn(follow(stdout, state.clone()));
        tracing::info!(worker = id, pid = child.id(), "Worker started");
        Ok(Slot {
            id,
            stdin: child.stdin.take(),
            child,
            state,
        })
    }
}

/// Reads a worker's reports until it exits.
async fn follow(stdout: ChildStdout, state: Arc<State>) {
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(report) = serde_json::from_str::<Report>(&line) else {
            tracing::warn!(line, "Unreadable report from a worker");
            continue;
        };
        match report.replay() {
            Some(Report::Ready) => state.ready.store(true, Ordering::SeqCst),
            Some(Report::Busy) => state.busy.store(true, Ordering::SeqCst),
            Some(Report::Idle) => state.busy.store(false, Ordering::SeqCst),
            _ => {}
        }
    }
}

/// Whether the slot's process is still running; logs how it ended otherwise.
fn alive(slot: &mut Slot) -> bool {
    match slot.child.try_wait() {
        Ok(None) => true,
        Ok(Some(status)) if status.success() => {
            tracing::info!(worker = slot.id, "Worker stopped");
            false
        }
        Ok(Some(status)) => {
            tracing::warn!(worker = slot.id, %status, "Worker exited unexpectedly");
            false
        }
        Err(error) => {
            tracing::warn!(worker = slot.id, %error, "Cannot check on a worker");
            false
        }
    }
}

#[async_trait]
impl Fleet for ProcessFleet {
    async fn census(&self) -> Result<Census, String> {
        lock(&self.retiring).retain_mut(alive);
        let mut slots = lock(&self.slots);
        slots.retain_mut(alive);
        let running = slots
            .iter()
            .filter(|slot| slot.state.ready.load(Ordering::SeqCst))
            .count();
        let busy = slots
            .iter()
            .filter(|slot| slot.state.busy.load(Ordering::SeqCst))
            .count();
        metrics::gauge!(WORKERS).set(running as f64);
        Ok(Census {
            pending: slots.len() - running,
            running,
            busy,
        })
    }

    async fn scale_to(&self, desired: usize) -> Result<(), String> {
        let mut slots = lock(&self.slots);
        while slots.len() < desired {
            slots.push(self.start()?);
        }
        // Starting workers go first, then idle ones; busy ones stay.
        slots.sort_by_key(|slot| {
            (
                slot.state.ready.load(Ordering::SeqCst),
                slot.state.busy.load(Ordering::SeqCst),
            )
        });
        let mut surplus = slots.len().saturating_sub(desired);
        let mut kept = Vec::with_capacity(slots.len());
        for mut slot in slots.drain(..) {
            if surplus > 0 && !slot.state.busy.load(Ordering::SeqCst) {
                surplus -= 1;
                tracing::info!(worker = slot.id, "Retiring worker");
                slot.stdin = None;
                lock(&self.retiring).push(slot);
            } else {
                kept.push(slot);
            }
        }
        *slots = kept;
        Ok(())
    }
}
