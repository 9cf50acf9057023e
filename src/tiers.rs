//! The tiers as separate processes on AWS, `recog edge` and `recog scaler` (`recog worker` has
//! its own module), and `recog aws init`. They run the same edge as `recog serve`, over SQS
//! and S3.

use std::sync::Arc;

use anyhow::Context;
use recog_aws::Aws;
use recog_aws::s3::S3Bucket;
use recog_aws::setup::{self, Resources};
use recog_aws::sqs::SqsBroker;
use recog_scaler::Policy;
use recog_scaler::control;
use recog_scaler::ec2::{Ec2Fleet, Launch};
use recog_transport::bucket::Bucket;
use recog_transport::queue::{Broker, Queue};
use tokio_util::sync::CancellationToken;

use crate::cli::{AwsArgs, AwsInitArgs, EdgeTierArgs, ScalerArgs};
use crate::serve::{bind, edge_config, signal};
use crate::telemetry;

/// Clients and the broker for `args`.
pub(crate) async fn connect(args: &AwsArgs) -> (Aws, SqsBroker) {
    let aws = Aws::connect(args.aws_endpoint_url.as_deref()).await;
    let broker = SqsBroker::new(aws.sqs.clone(), args.visibility_timeout);
    (aws, broker)
}

/// The request queue, or an error that says whether it is missing or SQS unreachable.
pub(crate) async fn request_queue(
    broker: &SqsBroker,
    args: &AwsArgs,
) -> anyhow::Result<Arc<dyn Queue>> {
    match broker.open(&args.request_queue).await {
        Ok(queue) => Ok(queue),
        Err(recog_transport::Error::NoSuchQueue(name)) => {
            anyhow::bail!("request queue {name:?} does not exist: run `recog aws init`")
        }
        Err(error) => Err(anyhow::Error::new(error)
            .context("cannot reach SQS: check the region, credentials and --aws-endpoint-url")),
    }
}

/// Serves HTTP until SIGTERM or Ctrl-C; deletes its reply queue on the way out.
pub(crate) async fn edge(args: EdgeTierArgs) -> anyhow::Result<()> {
    tracing::info!(listen = %args.listen, request_queue = %args.aws.request_queue,
        input_bucket = %args.aws.input_bucket, endpoint = ?args.aws.aws_endpoint_url, "Starting recog edge");
    let metrics = telemetry::init_metrics()?;
    let listener = bind(args.listen).await?;
    let (aws, broker) = connect(&args.aws).await;
    let requests = request_queue(&broker, &args.aws).await?;
    let reply_queue = format!("recog-replies-{}", uuid::Uuid::new_v4());
    let replies = broker
        .create(&reply_queue)
        .await
        .context("cannot create the reply queue")?;
    let inputs: Arc<dyn Bucket> = Arc::new(S3Bucket::new(aws.s3.clone(), &args.aws.input_bucket));

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

/// Scales the EC2 fleet with the request queue until SIGTERM or Ctrl-C.
pub(crate) async fn scaler(args: ScalerArgs) -> anyhow::Result<()> {
    tracing::info!(request_queue = %args.aws.request_queue, ami = %args.ami, role = %args.role,
        min_workers = args.min_workers, max_workers = args.max_workers, "Starting recog scaler");
    anyhow::ensure!(
        args.min_workers <= args.max_workers,
        "--min-workers exceeds --max-workers"
    );
    telemetry::serve_metrics(args.metrics_listen)?;
    let (aws, broker) = connect(&args.aws).await;
    let requests = request_queue(&broker, &args.aws).await?;
    let launch = Launch {
        ami: args.ami.clone(),
        instance_type: args.instance_type.clone(),
        subnet: args.subnet.clone(),
        security_groups: args.security_groups.clone(),
        instance_profile: args.instance_profile.clone(),
        user_data: user_data(&args, &aws),
        role: args.role.clone(),
    };
    let fleet = Arc::new(Ec2Fleet::new(&aws.config, launch));
    let policy = Policy {
        min_workers: args.min_workers,
        max_workers: args.max_workers,
        scale_in_ticks: args.scale_in_ticks,
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(signal(shutdown.clone()));
    control::run(policy, requests, fleet, args.scale_interval, shutdown).await;
    Ok(())
}

/// The boot script of a worker instance: tells the worker image's unit where the queues and
/// buckets are, then (re)starts it.
fn user_data(args: &ScalerArgs, aws: &Aws) -> String {
    let mut env = vec![
        format!("RECOG_REQUEST_QUEUE={}", args.aws.request_queue),
        format!("RECOG_INPUT_BUCKET={}", args.aws.input_bucket),
        format!("RECOG_OUTPUT_BUCKET={}", args.aws.output_bucket),
        format!(
            "RECOG_VISIBILITY_TIMEOUT={}s",
            args.aws.visibility_timeout.as_secs()
        ),
    ];
    if let Some(region) = aws.config.region() {
        env.push(format!("AWS_REGION={region}"));
    }
    if let Some(endpoint) = &args.aws.aws_endpoint_url {
        env.push(format!("RECOG_AWS_ENDPOINT_URL={endpoint}"));
    }
    format!(
        "#!/bin/bash\nset -euo pipefail\ncat > /etc/recog/worker.env <<'ENV'\n{}\nENV\nsystemctl restart recog-worker.service\n",
        env.join("\n")
    )
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
