//! The command line. Every flag can also be set through the environment variable named beside it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use recog_edge::ReplyFormat;
use recog_models::BackendKind;

/// Elastic image recognition: upload an image, get its ImageNet label.
#[derive(Debug, Parser)]
#[command(version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run everything on this machine: the HTTP edge, in-process queues, a local directory as
    /// the buckets, and the workers.
    Serve(ServeArgs),

    /// Run the HTTP edge on AWS: uploads go to S3, requests to SQS, answers come back on the
    /// edge's own reply queue.
    Edge(EdgeTierArgs),

    /// Run a worker: requests from SQS, images from S3, answers to S3 and to each request's
    /// reply queue; or, with --broker-url, the same from a `recog serve` on this machine.
    Worker(WorkerArgs),

    /// Run the scaler on AWS: watch the request queue, launch worker instances from the worker
    /// image as it grows, terminate them once it has stayed short.
    Scaler(ScalerArgs),

    /// Manage the AWS resources recog uses.
    #[command(subcommand)]
    Aws(AwsCommand),

    /// Post images to a running recog and measure throughput and latency.
    Loadtest(recog_loadtest::LoadtestArgs),

    /// Run the scaling policy, and target tracking for comparison, against a modelled queue
    /// fed by a traffic trace; write a CSV and an SVG plot per policy and print a summary.
    Simulate(SimulateArgs),
}

/// `recog simulate`.
#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// The trace: a CSV of `seconds,rate` (requests per second from that second on), after a
    /// header line. `scaler/traces/` has step, ramp, burst and sine.
    #[arg(long)]
    pub(crate) trace: PathBuf,

    /// Folder for the CSV and SVG files.
    #[arg(long, default_value = "simulation")]
    pub(crate) out: PathBuf,

    /// Time between scaler ticks, and the simulation's step.
    #[arg(long, default_value = "5s", value_parser = positive_duration)]
    pub(crate) tick: Duration,

    /// Requests one worker serves per second.
    #[arg(long, default_value_t = 10.0, value_parser = positive_rate)]
    pub(crate) service_rate: f64,

    /// Time from starting a worker to its first request (an EC2 instance booting).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) boot: Duration,

    /// Most workers.
    #[arg(long, default_value_t = 19)]
    pub(crate) max_workers: usize,

    /// Ticks the scale-in target must stay below the worker count before scaling in.
    #[arg(long, default_value_t = 3)]
    pub(crate) scale_in_ticks: u32,

    /// The comparison policy's target: queued requests per worker.
    #[arg(long, default_value_t = 20)]
    pub(crate) backlog_per_worker: usize,

    /// Time simulated after the trace's last point, for the queue to drain.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub(crate) tail: Duration,
}

/// `recog aws …`.
#[derive(Debug, Subcommand)]
pub(crate) enum AwsCommand {
    /// Create the request queue, its dead-letter queue and both buckets where missing, and
    /// print what exists.
    Init(AwsInitArgs),
}

/// Where recog's AWS resources are.
#[derive(Debug, Args)]
pub(crate) struct AwsArgs {
    /// Endpoint of an AWS-compatible server (moto, LocalStack); the standard
    /// `AWS_ENDPOINT_URL` variables work too. S3 then uses path-style addressing.
    #[arg(long, env = "RECOG_AWS_ENDPOINT_URL")]
    pub(crate) aws_endpoint_url: Option<String>,

    /// The SQS request queue.
    #[arg(long, env = "RECOG_REQUEST_QUEUE", default_value = "recog-requests")]
    pub(crate) request_queue: String,

    /// The S3 bucket for uploaded images.
    #[arg(long, env = "RECOG_INPUT_BUCKET", default_value = "recog-input")]
    pub(crate) input_bucket: String,

    /// The S3 bucket for answers.
    #[arg(long, env = "RECOG_OUTPUT_BUCKET", default_value = "recog-output")]
    pub(crate) output_bucket: String,

    /// The request queue's visibility timeout (set by `aws init`, honoured by workers). Keep
    /// it below the edge's `--request-timeout`, so that a dead worker's batch is delivered
    /// again while its callers still wait; a batch that takes longer extends it.
    #[arg(long, env = "RECOG_VISIBILITY_TIMEOUT", default_value = "10s", value_parser = parse_visibility)]
    pub(crate) visibility_timeout: Duration,
}

/// `recog aws init`.
#[derive(Debug, Args)]
pub(crate) struct AwsInitArgs {
    #[command(flatten)]
    pub(crate) aws: AwsArgs,

    /// The dead-letter queue for requests received too often.
    #[arg(
        long,
        env = "RECOG_DEAD_LETTER_QUEUE",
        default_value = "recog-requests-dead"
    )]
    pub(crate) dead_letter_queue: String,

    /// Receives after which a request moves to the dead-letter queue.
    #[arg(long, env = "RECOG_MAX_RECEIVES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_receives: u32,
}

/// `recog edge`.
#[derive(Debug, Args)]
pub(crate) struct EdgeTierArgs {
    /// Address the HTTP edge listens on; port 0 picks a free port (logged at start).
    #[arg(long, env = "RECOG_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,

    #[command(flatten)]
    pub(crate) aws: AwsArgs,

    #[command(flatten)]
    pub(crate) edge: EdgeArgs,
}

/// `recog scaler`.
#[derive(Debug, Args)]
pub(crate) struct ScalerArgs {
    #[command(flatten)]
    pub(crate) aws: AwsArgs,

    /// Address to serve Prometheus metrics on (`/metrics`); none by default.
    #[arg(long, env = "RECOG_METRICS_LISTEN")]
    pub(crate) metrics_listen: Option<SocketAddr>,

    /// Fewest worker instances.
    #[arg(long, env = "RECOG_MIN_WORKERS", default_value_t = 0)]
    pub(crate) min_workers: usize,

    /// Most worker instances.
    #[arg(long, env = "RECOG_MAX_WORKERS", default_value_t = 19)]
    pub(crate) max_workers: usize,

    /// Time between the scaler's looks at the queue.
    #[arg(long, env = "RECOG_SCALE_INTERVAL", default_value = "10s", value_parser = positive_duration)]
    pub(crate) scale_interval: Duration,

    /// Ticks the queue must stay short before instances are terminated.
    #[arg(long, env = "RECOG_SCALE_IN_TICKS", default_value_t = 3)]
    pub(crate) scale_in_ticks: u32,

    /// The worker image, built with ami-build/.
    #[arg(long, env = "RECOG_AMI")]
    pub(crate) ami: String,

    /// The worker instances' type.
    #[arg(long, env = "RECOG_INSTANCE_TYPE", default_value = "c6i.large")]
    pub(crate) instance_type: String,

    /// Subnet for the instances; the default VPC's when absent.
    #[arg(long, env = "RECOG_SUBNET")]
    pub(crate) subnet: Option<String>,

    /// Security group for the instances (repeatable).
    #[arg(
        long = "security-group",
        env = "RECOG_SECURITY_GROUPS",
        value_delimiter = ','
    )]
    pub(crate) security_groups: Vec<String>,

    /// Instance profile carrying the worker role (aws/iam/worker.json).
    #[arg(long, env = "RECOG_INSTANCE_PROFILE")]
    pub(crate) instance_profile: Option<String>,

    /// Value of the `recog-role` tag that marks this fleet's instances.
    #[arg(long, env = "RECOG_ROLE", default_value = "recog-worker")]
    pub(crate) role: String,
}

/// `recog worker`.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    pub(crate) aws: AwsArgs,

    /// Take requests from the queue service of a `recog serve` on this machine
    /// (`http://127.0.0.1:PORT`, authorised by RECOG_BROKER_TOKEN) and use its data directory
    /// as the buckets, instead of SQS and S3. `recog serve` starts its workers this way.
    #[arg(long, env = "RECOG_BROKER_URL", requires = "data_dir")]
    pub(crate) broker_url: Option<String>,

    /// The token `recog serve` hands its workers for its queue service.
    #[arg(
        long,
        env = "RECOG_BROKER_TOKEN",
        hide_env_values = true,
        requires = "broker_url"
    )]
    pub(crate) broker_token: Option<String>,

    /// With --broker-url: the `recog serve`'s data directory.
    #[arg(long, requires = "broker_url")]
    pub(crate) data_dir: Option<PathBuf>,

    /// Report state and metrics as JSON lines on stdout and stop once stdin closes: how
    /// `recog serve` runs its workers.
    #[arg(long, hide = true)]
    pub(crate) supervised: bool,

    /// Address to serve Prometheus metrics on (`/metrics`); none by default.
    #[arg(long, env = "RECOG_METRICS_LISTEN")]
    pub(crate) metrics_listen: Option<SocketAddr>,

    #[command(flatten)]
    pub(crate) model: ModelArgs,

    #[command(flatten)]
    pub(crate) batch: BatchArgs,
}

/// `recog serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address the HTTP edge listens on; port 0 picks a free port (logged at start).
    #[arg(long, env = "RECOG_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,

    /// Directory holding the buckets: `input/` for images, `output/` for results.
    #[arg(long, env = "RECOG_DATA_DIR", default_value = "data")]
    pub(crate) data_dir: PathBuf,

    /// Fewest workers; the scaler adds more as the queue grows.
    #[arg(long, env = "RECOG_MIN_WORKERS", default_value_t = 1)]
    pub(crate) min_workers: usize,

    /// Most workers, each with its own copy of the model; one per core by default. Two
    /// single-threaded workers outrun one with two threads, because one preprocesses and
    /// stores while the other runs the model.
    #[arg(long, env = "RECOG_MAX_WORKERS", default_value_t = cores())]
    pub(crate) max_workers: usize,

    /// Time between the scaler's looks at the queue. A local worker is ready in about a third
    /// of a second, so a short tick lets a one-second burst have its second worker while it
    /// lasts; a look costs nothing but a lock.
    #[arg(long, env = "RECOG_SCALE_INTERVAL", default_value = "200ms", value_parser = positive_duration)]
    pub(crate) scale_interval: Duration,

    /// Ticks the queue must stay short before workers are retired (15 ticks of 200ms: 3s).
    #[arg(long, env = "RECOG_SCALE_IN_TICKS", default_value_t = 15)]
    pub(crate) scale_in_ticks: u32,

    /// How long a received request stays hidden before it is delivered again (whole seconds,
    /// at least 1s, as in SQS). Below `--request-timeout`, so that a dead worker's batch is
    /// delivered again while its callers still wait; a batch that takes longer extends it.
    #[arg(long, env = "RECOG_VISIBILITY_TIMEOUT", default_value = "10s", value_parser = parse_visibility)]
    pub(crate) visibility_timeout: Duration,

    #[command(flatten)]
    pub(crate) model: ModelArgs,

    #[command(flatten)]
    pub(crate) edge: EdgeArgs,

    #[command(flatten)]
    pub(crate) batch: BatchArgs,
}

/// Which model runs, and how.
#[derive(Debug, Args)]
pub(crate) struct ModelArgs {
    /// The model manifest written by `models/export.py`.
    #[arg(
        long,
        env = "RECOG_MANIFEST",
        default_value = "models/efficientnet_lite0.json"
    )]
    pub(crate) manifest: PathBuf,

    /// Inference backend: `ort` (ONNX Runtime, fastest on CPU) or `tch` (libtorch).
    #[arg(long, env = "RECOG_BACKEND", default_value = "ort", value_parser = parse_backend)]
    pub(crate) backend: BackendKind,

    /// Threads for one forward pass.
    #[arg(long, env = "RECOG_THREADS", default_value_t = 1, value_parser = at_least_one)]
    pub(crate) threads: usize,

    /// Images per backend call; defaults to the backend's fastest (ort 4, tch 2).
    #[arg(long, env = "RECOG_CHUNK", value_parser = at_least_one)]
    pub(crate) chunk: Option<usize>,

    /// The ONNX Runtime shared library (scripts/setup links the wheel's copy here).
    #[arg(
        long,
        env = "RECOG_ORT_LIBRARY",
        default_value = "models/libonnxruntime.so"
    )]
    pub(crate) ort_library: PathBuf,
}

/// How the HTTP edge answers.
#[derive(Debug, Args)]
pub(crate) struct EdgeArgs {
    /// Plain-text reply: the label, or `name:label` with the file's stem.
    #[arg(long, env = "RECOG_REPLY_FORMAT", value_enum, default_value_t = ReplyFormatArg::Label)]
    pub(crate) reply_format: ReplyFormatArg,

    /// How long a request waits for its answer before a 504.
    #[arg(long, env = "RECOG_REQUEST_TIMEOUT", default_value = "30s", value_parser = positive_duration)]
    pub(crate) request_timeout: Duration,

    /// Largest accepted upload, in bytes; larger gets 413.
    #[arg(long, env = "RECOG_MAX_BODY", default_value_t = 20 * 1024 * 1024)]
    pub(crate) max_body: usize,

    /// Most requests waiting for answers at once; more get 503 with Retry-After.
    #[arg(long, env = "RECOG_MAX_IN_FLIGHT", default_value_t = 1000, value_parser = at_least_one)]
    pub(crate) max_in_flight: usize,

    /// How long open requests may finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "RECOG_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) grace: Duration,
}

/// How workers batch.
#[derive(Debug, Args)]
pub(crate) struct BatchArgs {
    /// Most requests a worker takes at once (1 to 10).
    #[arg(long, env = "RECOG_MAX_BATCH", default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub(crate) max_batch: u8,

    /// Deliveries a request gets before it is given up on with an error reply (and, on SQS,
    /// moved to the dead-letter queue).
    #[arg(long, env = "RECOG_MAX_RECEIVES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_receives: u32,

    /// How long a batch waits for more requests once it has one.
    #[arg(long, env = "RECOG_BATCH_DELAY", default_value = "5ms", value_parser = humantime::parse_duration)]
    pub(crate) batch_delay: Duration,
}

/// Plain-text reply formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ReplyFormatArg {
    /// `goldfish`
    Label,
    /// `test_0:goldfish`
    NameLabel,
}

impl From<ReplyFormatArg> for ReplyFormat {
    fn from(format: ReplyFormatArg) -> Self {
        match format {
            ReplyFormatArg::Label => ReplyFormat::Label,
            ReplyFormatArg::NameLabel => ReplyFormat::NameLabel,
        }
    }
}

fn parse_visibility(value: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(value).map_err(|e| e.to_string())?;
    if duration < Duration::from_secs(1) || duration.subsec_nanos() != 0 {
        return Err("must be whole seconds, at least 1s".into());
    }
    Ok(duration)
}

fn positive_duration(value: &str) -> Result<Duration, String> {
    match humantime::parse_duration(value) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err("must be longer than zero".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn positive_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err("must be a number above zero".into()),
    }
}

fn at_least_one(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("must be a whole number, at least 1".into()),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn parse_backend(value: &str) -> Result<BackendKind, String> {
    value.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(args: &[&str]) -> String {
        let error = Cli::try_parse_from(std::iter::once("recog").chain(args.iter().copied()))
            .expect_err("refused");
        error.to_string()
    }

    #[test]
    fn flags_that_would_drop_or_refuse_every_request_are_refused() {
        for (flag, value) in [
            ("--max-receives", "0"),
            ("--request-timeout", "0s"),
            ("--max-in-flight", "0"),
            ("--visibility-timeout", "500ms"),
            ("--scale-interval", "0s"),
        ] {
            let error = refusal(&["serve", flag, value]);
            assert!(
                error.contains(&format!("invalid value '{value}' for '{flag}")),
                "{error}"
            );
        }
        for (flag, value) in [("--service-rate", "0"), ("--tick", "0s")] {
            let error = refusal(&["simulate", "--trace", "t.csv", flag, value]);
            assert!(
                error.contains(&format!("invalid value '{value}' for '{flag}")),
                "{error}"
            );
        }
    }

    #[test]
    fn defaults_parse_and_redeliver_before_the_caller_gives_up() {
        let Command::Serve(serve) = Cli::try_parse_from(["recog", "serve"]).unwrap().command else {
            panic!("serve");
        };
        assert!(serve.visibility_timeout < serve.edge.request_timeout);
    }
}
