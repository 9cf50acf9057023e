//! `recog serve`: the embedded all-in-one. One process holds the HTTP edge, in-memory queues
//! with SQS semantics (served on loopback to its workers), a local directory as the buckets,
//! and the scaler, which runs the workers as `recog worker` child processes.

use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use recog_edge::Links as EdgeLinks;
use recog_models::backend::Options;
use recog_models::{Manifest, Model};
use recog_scaler::Policy;
use recog_scaler::control;
use recog_transport::bucket::{Bucket, DirBucket};
use recog_transport::metrics::QUEUE_DEPTH;
use recog_transport::queue::loopback;
use recog_transport::queue::{Broker, MemoryBroker, Queue};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::{BatchArgs, EdgeArgs, ModelArgs, ServeArgs};
use crate::fleet::{ProcessFleet, WorkerCommand};
use crate::telemetry;

/// Name of the embedded request queue.
pub(crate) const REQUEST_QUEUE: &str = "requests";
/// The data directory's folders for the input and output buckets.
pub(crate) const INPUT_DIR: &str = "input";
pub(crate) const OUTPUT_DIR: &str = "output";

/// Runs until SIGTERM or Ctrl-C, then drains.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing::info!(
        listen = %args.listen, min_workers = args.min_workers, max_workers = args.max_workers,
        backend = %args.model.backend,
        manifest = %args.model.manifest.display(), data_dir = %args.data_dir.display(),
        "Starting recog serve"
    );
    anyhow::ensure!(
        args.min_workers <= args.max_workers,
        "--min-workers exceeds --max-workers"
    );
    if args.visibility_timeout >= args.edge.request_timeout {
        tracing::warn!(
            "--visibility-timeout is not below --request-timeout: the requests of a worker \
             that dies time out before they are delivered again"
        );
    }
    let metrics = telemetry::init_metrics()?;
    let listener = bind(args.listen).await?;

    // Loading the model once checks the manifest, the backend and its library before
    // anything is served; the workers then load their own.
    drop(load_model(&args.model).await?);

    let broker = Arc::new(MemoryBroker::new(args.visibility_timeout));
    let requests = broker.create(REQUEST_QUEUE).await?;
    let reply_queue = format!("replies-{}", uuid::Uuid::new_v4());
    let replies = broker.create(&reply_queue).await?;
    let input_dir = args.data_dir.join(INPUT_DIR);
    let inputs = DirBucket::open(&input_dir)
        .await
        .with_context(|| format!("cannot use {} as the input bucket", input_dir.display()))?;
    let inputs: Arc<dyn Bucket> = Arc::new(inputs);
    let service = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .context("cannot listen on loopback for the workers' queue service")?;
    let broker_url = format!("http://{}", service.local_addr()?);
    let token = uuid::Uuid::new_v4().simple().to_string();
    tokio::spawn(loopback::serve(service, broker, token.clone()));

    // The edge stops on a signal; the workers only once the edge has drained, so that the
    // requests it lets finish still get their answers.
    let shutdown = CancellationToken::new();
    let workers_stop = CancellationToken::new();
    let fleet = Arc::new(ProcessFleet::new(WorkerCommand {
        program: std::env::current_exe().context("cannot find the recog executable")?,
        args: worker_args(&args, &broker_url),
        token,
    }));
    let policy = Policy {
        min_workers: args.min_workers,
        max_workers: args.max_workers,
        scale_in_ticks: args.scale_in_ticks,
    };
    let scaler = tokio::spawn(control::run(
        policy,
        requests.clone(),
        fleet.clone(),
        args.scale_interval,
        workers_stop.clone(),
    ));
    // The scaler returns only once told to; if it fails before, the edge stops too rather
    // than wait for workers nobody starts, and serve exits with the failure.
    let scaler = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            let outcome = scaler.await;
            shutdown.cancel();
            outcome
        }
    });
    tokio::spawn(sample_depth(requests.clone(), workers_stop.clone()));

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
    scaler.await?.context("the scaler failed")?;
    fleet.drain().await;
    tracing::info!("Stopped");
    Ok(())
}

/// Binds the HTTP address first, so a taken port fails before any model loads.
pub(crate) async fn bind(address: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} (--listen)"))
}

/// The command line of a worker child: this serve's queue service, data directory, model
/// and batching.
fn worker_args(args: &ServeArgs, broker_url: &str) -> Vec<OsString> {
    let (model, batch) = (&args.model, &args.batch);
    let mut worker: Vec<OsString> = vec!["worker".into(), "--supervised".into()];
    let mut flag = |name: &str, value: OsString| worker.extend([format!("--{name}").into(), value]);
    flag("broker-url", broker_url.into());
    flag("data-dir", args.data_dir.clone().into());
    flag(
        "visibility-timeout",
        format!("{}s", args.visibility_timeout.as_secs()).into(),
    );
    flag("manifest", model.manifest.clone().into());
    flag("backend", model.backend.to_string().into());
    flag("threads", model.threads.to_string().into());
    flag("ort-library", model.ort_library.clone().into());
    if let Some(chunk) = model.chunk {
        flag("chunk", chunk.to_string().into());
    }
    flag("max-batch", batch.max_batch.to_string().into());
    flag("max-receives", batch.max_receives.to_string().into());
    flag(
        "batch-delay",
        humantime::format_duration(batch.batch_delay)
            .to_string()
            .into(),
    );
    worker
}

fn manifest(args: &ModelArgs) -> anyhow::Result<Manifest> {
    Manifest::load(&args.manifest)
        .context("cannot load --manifest; run scripts/setup to export the model")
}

fn options(args: &ModelArgs) -> Options {
    Options {
        kind: args.backend,
        threads: args.threads,
        ort_library: args.ort_library.clone(),
    }
}

/// Loads the model on a blocking thread.
pub(crate) async fn load_model(args: &ModelArgs) -> anyhow::Result<Model> {
    let (manifest, options, chunk) = (manifest(args)?, options(args), args.chunk);
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
        busy: tokio::sync::watch::Sender::new(false),
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
    shutdown.cancel();
    tracing::info!("Shutdown requested");
}
