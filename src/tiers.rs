//! The two tiers as separate processes on AWS, `recog edge` and `recog worker`, and
//! `recog aws init`. They run the same edge and worker as `recog serve`, over SQS and S3.

use std::sync::Arc;

use anyhow::Context;
use recog_aws::Aws;
use recog_aws::s3::S3Bucket;
use recog_aws::setup::{self, Resources};
use recog_aws::sqs::SqsBroker;
use recog_transport::bucket::Bucket;
use recog_transport::queue::Broker;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::{AwsArgs, AwsInitArgs, EdgeTierArgs, WorkerArgs};
use crate::serve::{edge_config, load_model, signal, worker_config};
use crate::telemetry;

/// Clients and the broker for `args`.
async fn connect(args: &AwsArgs) -> (Aws, SqsBroker) {
    let aws = Aws::connect(args.aws_endpoint_url.as_deref()).await;
    let broker = SqsBroker::new(aws.sqs.clone(), args.visibility_timeout);
    (aws, broker)
}

/// Serves HTTP until SIGTERM or Ctrl-C; deletes its reply queue on the way out.
pub(crate) async fn edge(args: EdgeTierArgs) -> anyhow::Result<()> {
    tracing::info!(listen = %args.listen, request_queue = %args.aws.request_queue,
        input_bucket = %args.aws.input_bucket, endpoint = ?args.aws.aws_endpoint_url, "Starting recog edge");
    let metrics = telemetry::init_metrics()?;
    let (aws, broker) = connect(&args.aws).await;
    let requests = broker
        .open(&args.aws.request_queue)
        .await
        .context("no request queue: run `recog aws init`")?;
    let reply_queue = format!("recog-replies-{}", uuid::Uuid::new_v4());
    let replies = broker
        .create(&reply_queue)
        .await
        .context("cannot create the reply queue")?;
    let inputs: Arc<dyn Bucket> = Arc::new(S3Bucket::new(aws.s3.clone(), &args.aws.input_bucket));

    let listener = TcpListener::bind(args.listen)
        .await
        .context("cannot bind --listen")?;
    tracing::info!(addr = %listener.local_addr()?, reply_queue, "Listening");
    let shutdown = CancellationToken::new();
    tokio::spawn(signal(shutdown.clone()));

    let links = recog_edge::Links {
        requests,
        replies,
        reply_queue: reply_queue.clone(),
        inputs,
    };
    recog_edge::run(listener, links, edge_config(&args.edge, metrics), shutdown).await;
    if let Err(error) = broker.delete(&reply_queue).await {
        tracing::warn!(%error, reply_queue, "Cannot delete the reply queue");
    }
    tracing::info!("Stopped");
    Ok(())
}

/// Answers requests until SIGTERM or Ctrl-C, finishing the batch in hand.
pub(crate) async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    tracing::info!(request_queue = %args.aws.request_queue, backend = %args.model.backend,
        endpoint = ?args.aws.aws_endpoint_url, "Starting recog worker");
    telemetry::init_metrics()?;
    let (aws, broker) = connect(&args.aws).await;
    let requests = broker
        .open(&args.aws.request_queue)
        .await
        .context("no request queue: run `recog aws init`")?;
    let links = recog_worker::Links {
        requests,
        broker: Arc::new(broker),
        inputs: Arc::new(S3Bucket::new(aws.s3.clone(), &args.aws.input_bucket)),
        outputs: Arc::new(S3Bucket::new(aws.s3.clone(), &args.aws.output_bucket)),
    };
    let model = load_model(&args.model).await?;

    let shutdown = CancellationToken::new();
    tokio::spawn(signal(shutdown.clone()));
    tracing::info!("Worker ready");
    recog_worker::run(
        model,
        links,
        worker_config(&args.batch, args.aws.visibility_timeout),
        shutdown,
    )
    .await;
    Ok(())
}

/// Creates what is missing and prints what exists.
pub(crate) async fn init(args: AwsInitArgs) -> anyhow::Result<()> {
    let (aws, _) = connect(&args.aws).await;
    let resources = Resources {
        request_queue: args.aws.request_queue,
        dead_letter_queue: args.dead_letter_queue,
        input_bucket: args.aws.input_bucket,
        output_bucket: args.aws.output_bucket,
        visibility: args.aws.visibility_timeout,
        max_receives: args.max_receives,
    };
    for line in setup::init(&aws, &resources)
        .await
        .context("cannot create AWS resources")?
    {
        println!("{line}");
    }
    Ok(())
}
