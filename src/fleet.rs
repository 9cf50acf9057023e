//! The embedded fleet: workers as tasks in the `recog serve` process, each with its own model,
//! started and retired by the scaler. A retired worker stops receiving, finishes and
//! acknowledges its batch, then exits; a busy one is never retired.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use recog_models::backend::Options;
use recog_models::{Manifest, Model};
use recog_scaler::control::{Census, Fleet};
use recog_transport::metrics::WORKERS;
use recog_worker::{Config, Links};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::serve::load;

/// How to make a worker.
pub(crate) struct Recipe {
    pub(crate) manifest: Manifest,
    pub(crate) options: Options,
    pub(crate) chunk: Option<usize>,
    pub(crate) links: Links,
    pub(crate) config: Config,
}

impl Recipe {
    /// Loads this recipe's model on a blocking thread.
    async fn load(&self) -> anyhow::Result<Model> {
        load(self.manifest.clone(), self.options.clone(), self.chunk).await
    }
}

/// One worker task.
struct Slot {
    retire: CancellationToken,
    ready: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

/// Worker tasks in this process.
// Limitation: workers share the serve process, so one that crashes takes the others with it.
pub(crate) struct TaskFleet {
    recipe: Arc<Recipe>,
    /// The model loaded to check the recipe, handed to the first worker started.
    spare: Mutex<Option<Model>>,
    stop: CancellationToken,
    slots: Mutex<Vec<Slot>>,
    retiring: Mutex<Vec<JoinHandle<()>>>,
}

impl TaskFleet {
    /// An empty fleet; loading the model once checks the recipe before anything is served.
    pub(crate) async fn new(recipe: Recipe) -> anyhow::Result<TaskFleet> {
        let spare = recipe.load().await?;
        Ok(TaskFleet {
            recipe: Arc::new(recipe),
            spare: Mutex::new(Some(spare)),
            stop: CancellationToken::new(),
            slots: Mutex::default(),
            retiring: Mutex::default(),
        })
    }

    /// Stops every worker, letting each finish its batch, and waits for them.
    pub(crate) async fn drain(&self) {
        self.stop.cancel();
        let mut tasks: Vec<JoinHandle<()>> = self.slots().drain(..).map(|slot| slot.task).collect();
        tasks.append(&mut self.retiring.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn start(&self) -> Slot {
        let retire = self.stop.child_token();
        let (ready, busy) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner()).take();
        let task = tokio::spawn(work(
            self.recipe.clone(),
            spare,
            retire.clone(),
            ready.clone(),
            busy.clone(),
        ));
        Slot {
            retire,
            ready,
            busy,
            task,
        }
    }
}

/// Takes the spare model or loads one, then serves until retired.
async fn work(
    recipe: Arc<Recipe>,
    spare: Option<Model>,
    retire: CancellationToken,
    ready: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
) {
    let model = match spare {
        Some(model) => model,
        None => match recipe.load().await {
            Ok(model) => model,
            Err(error) => {
                return tracing::error!(error = %format!("{error:#}"), "Worker cannot load its model");
            }
        },
    };
    ready.store(true, Ordering::SeqCst);
    let config = Config {
        busy,
        ..recipe.config.clone()
    };
    recog_worker::run(model, recipe.links.clone(), config, retire).await;
}

#[async_trait]
impl Fleet for TaskFleet {
    async fn census(&self) -> Result<Census, String> {
        let mut slots = self.slots();
        slots.retain(|slot| !slot.task.is_finished());
        let running = slots
            .iter()
            .filter(|s| s.ready.load(Ordering::SeqCst))
            .count();
        let busy = slots
            .iter()
            .filter(|s| s.busy.load(Ordering::SeqCst))
            .count();
        metrics::gauge!(WORKERS).set(running as f64);
        Ok(Census {
            pending: slots.len() - running,
            running,
            busy,
        })
    }

    async fn scale_to(&self, desired: usize) -> Result<(), String> {
        let mut slots = self.slots();
        while slots.len() < desired {
            slots.push(self.start());
        }
        // Pending workers go first, then idle ones; busy ones stay.
        slots.sort_by_key(|s| {
            (
                s.ready.load(Ordering::SeqCst),
                s.busy.load(Ordering::SeqCst),
            )
        });
        let mut kept = Vec::with_capacity(slots.len());
        let mut surplus = slots.len().saturating_sub(desired);
        for slot in slots.drain(..) {
            if surplus > 0 && !slot.busy.load(Ordering::SeqCst) {
                surplus -= 1;
                slot.retire.cancel();
                self.retiring
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(slot.task);
            } else {
                kept.push(slot);
            }
        }
        *slots = kept;
        Ok(())
    }
}
