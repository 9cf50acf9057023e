//! `recog serve`: the embedded all-in-one. One process holds the HTTP edge, in-memory queues
//! with SQS semantics, a local directory as the buckets, and the workers.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use recog_edge::Links as EdgeLinks;
use recog_models::backend::Options;
use recog_models::{Manifest, Model};
use recog_transport::bucket::{Bucket, DirBucket};
use recog_transport::metrics::{QUEUE_DEPTH, WORKERS};
use recog_transport::queue::{Broker, MemoryBroker, Queue};
use recog_worker::Links as WorkerLinks;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::{BatchArgs, EdgeArgs, ModelArgs, ServeArgs};
use crate::telemetry;

/// Name of the embedded request queue.
const REQUEST_QUEUE: &str = "requests";

/// Runs until SIGTERM or Ctrl-C, then drains.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing::info!(
        listen = %args.listen, workers = args.workers, backend = %args.model.backend,
        manifest = %args.model.manifest.display(), data_dir = %args.data_dir.display(),
        "Starting recog serve"
    );
    let metrics = telemetry::init_metrics()?;

    let broker = Arc::new(MemoryBroker::new(args.visibility_timeout));
    let requests = broker.create(REQUEST_QUEUE).await?;
    let reply_queue = format!("replies-{}", uuid::Uuid::new_v4());
    let replies = broker.create(&reply_queue).await?;
    let inputs: Arc<dyn Bucket> = Arc::new(DirBucket::open(args.data_dir.join("input")).await?);
    let outputs: Arc<dyn Bucket> = Arc::new(DirBucket::open(args.data_dir.join("output")).await?);

    // The edge stops on a signal; the workers only once the edge has drained, so that the
    // requests it lets finish still get their answers.
    let shutdown = CancellationToken::new();
    let workers_stop = CancellationToken::new();
    let worker_links = WorkerLinks {
        requests: requests.clone(),
        broker,
        inputs: inputs.clone(),
        outputs,
    };
    let workers = spawn_workers(&args, worker_links, workers_stop.clone()).await?;
    tokio::spawn(sample_depth(requests.clone(), workers_stop.clone()));

    let listener = TcpListener::bind(args.listen)
        .await
        .context("cannot bind --listen")?;
    tracing::info!(addr = %listener.local_addr()?, "Listening");
    tokio::spawn(signal(shutdown.clone()));

    let links = EdgeLinks {
        requests,
        replies,
        reply_queue,
        inputs,
    };
    recog_edge::run(listener, links, edge_config(&args.edge, metrics), shutdown).await;
    workers_stop.cancel();
    for worker in workers {
        worker.await?;
    }
    tracing::info!("Stopped");
    Ok(())
}

/// Loads one model per worker, then starts them.
pub(crate) async fn spawn_workers(
    args: &ServeArgs,
    links: WorkerLinks,
    shutdown: CancellationToken,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut workers = Vec::with_capacity(args.workers);
    for _ in 0..args.workers {
        let model = load_model(&args.model).await?;
        let config = worker_config(&args.batch, args.visibility_timeout);
        workers.push(tokio::spawn(recog_worker::run(
            model,
            links.clone(),
            config,
            shutdown.clone(),
        )));
    }
    metrics::gauge!(WORKERS).set(args.workers as f64);
    tracing::info!(workers = args.workers, backend = %args.model.backend, "Workers ready");
    Ok(workers)
}

pub(crate) async fn load_model(args: &ModelArgs) -> anyhow::Result<Model> {
    let manifest = Manifest::load(&args.manifest)
        .context("cannot load --manifest; run scripts/setup to export the model")?;
    let options = Options {
        kind: args.backend,
        threads: args.threads,
        ort_library: args.ort_library.clone(),
    };
    let chunk = args.chunk;
    let model =
        tokio::task::spawn_blocking(move || Model::load(manifest, &options, chunk)).await??;
    Ok(model)
}

pub(crate) fn worker_config(args: &BatchArgs, visibility: Duration) -> recog_worker::Config {
    recog_worker::Config {
        max_batch: args.max_batch as usize,
        poll_wait: Duration::from_secs(1),
        batch_delay: args.batch_delay,
        visibility,
        max_receives: args.max_receives,
    }
}

pub(crate) fn edge_config(
    args: &EdgeArgs,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
) -> recog_edge::Config {
    recog_edge::Config {
        reply_format: args.reply_format.into(),
        request_timeout: args.request_timeout,
        body_timeout: args.request_timeout,
        max_body: args.max_body,
        max_in_flight: args.max_in_flight,
        grace: args.grace,
        metrics: Some(metrics),
    }
}

/// Publishes the request queue's depth every second.
async fn sample_depth(requests: Arc<dyn Queue>, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
        if let Ok(depth) = requests.depth().await {
            metrics::gauge!(QUEUE_DEPTH, "state" => "visible").set(depth.visible as f64);
            metrics::gauge!(QUEUE_DEPTH, "state" => "in_flight").set(depth.in_flight as f64);
        }
    }
}

/// Cancels `shutdown` on SIGTERM or Ctrl-C.
pub(crate) async fn signal(shutdown: CancellationToken) {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler never fails at start-up");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("Shutdown requested");
    shutdown.cancel();
}
