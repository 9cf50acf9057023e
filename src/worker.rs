//! `recog worker`: on AWS, requests from SQS and images in S3; as a child of `recog serve`,
//! the parent's queues over loopback and its data directory. The batching is the same.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use recog_aws::s3::S3Bucket;
use recog_transport::bucket::DirBucket;
use recog_transport::queue::Broker;
use recog_transport::queue::loopback::LoopbackBroker;
use recog_worker::Links;
use tokio_util::sync::CancellationToken;

use crate::cli::WorkerArgs;
use crate::report::{Forwarder, Report};
use crate::serve::{INPUT_DIR, OUTPUT_DIR, REQUEST_QUEUE, load_model, signal, worker_config};
use crate::telemetry;
use crate::tiers::{connect, request_queue};

/// Answers requests until SIGTERM or Ctrl-C (or, supervised, until stdin closes), finishing
/// the batch in hand.
pub(crate) async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    if args.supervised {
        metrics::set_global_recorder(Forwarder).context("cannot install the metrics recorder")?;
        stop_when_stdin_closes(shutdown.clone());
    } else {
        telemetry::serve_metrics(args.metrics_listen)?;
    }
    tokio::spawn(signal(shutdown.clone()));
    let links = match (&args.broker_url, &args.data_dir) {
        (Some(url), Some(data_dir)) => {
            tracing::info!(broker = %url, data_dir = %data_dir.display(),
                backend = %args.model.backend, "Starting recog worker");
            let token = args.broker_token.as_deref().unwrap_or_default();
            local(url, token, data_dir).await?
        }
        _ => {
            tracing::info!(request_queue = %args.aws.request_queue, backend = %args.model.backend,
                endpoint = ?args.aws.aws_endpoint_url, "Starting recog worker");
            aws(&args).await?
        }
    };
    let model = load_model(&args.model).await?;

    let config = worker_config(&args.batch, args.aws.visibility_timeout);
    if args.supervised {
        Report::Ready.emit();
        let mut busy = config.busy.subscribe();
        tokio::spawn(async move {
            while busy.changed().await.is_ok() {
                let report = if *busy.borrow_and_update() {
                    Report::Busy
                } else {
                    Report::Idle
                };
                report.emit();
            }
        });
    }
    tracing::info!("Worker ready");
    recog_worker::run(model, links, config, shutdown).await;
    Ok(())
}

/// The queues of the `recog serve` at `url`, and its data directory.
async fn local(url: &str, token: &str, data_dir: &Path) -> anyhow::Result<Links> {
    let broker = LoopbackBroker::new(url, token);
    let requests = broker
        .open(REQUEST_QUEUE)
        .await
        .with_context(|| format!("cannot reach the queue service at {url} (--broker-url)"))?;
    Ok(Links {
        requests,
        broker: Arc::new(broker),
        inputs: Arc::new(DirBucket::open(data_dir.join(INPUT_DIR)).await?),
        outputs: Arc::new(DirBucket::open(data_dir.join(OUTPUT_DIR)).await?),
    })
}

/// The request queue on SQS, and the buckets on S3.
async fn aws(args: &WorkerArgs) -> anyhow::Result<Links> {
    let (aws, broker) = connect(&args.aws).await;
    let requests = request_queue(&broker, &args.aws).await?;
    Ok(Links {
        requests,
        broker: Arc::new(broker),
        inputs: Arc::new(S3Bucket::new(aws.s3.clone(), &args.aws.input_bucket)),
        outputs: Arc::new(S3Bucket::new(aws.s3.clone(), &args.aws.output_bucket)),
    })
}

/// Cancels `shutdown` once stdin reaches its end: the parent retired this worker or is gone.
/// A plain thread, because a blocking read would hold up the runtime's shutdown.
fn stop_when_stdin_closes(shutdown: CancellationToken) {
    std::thread::spawn(move || {
        let mut sink = [0; 64];
        while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
        shutdown.cancel();
    });
}
