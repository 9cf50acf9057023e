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

    /// Post images to a running recog and measure throughput and latency.
    Loadtest(recog_loadtest::LoadtestArgs),
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

    /// Number of workers, each with its own copy of the model.
    #[arg(long, env = "RECOG_WORKERS", default_value_t = 1)]
    pub(crate) workers: usize,

    /// Seconds a received request stays hidden before it is delivered again.
    #[arg(long, env = "RECOG_VISIBILITY_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
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
    #[arg(long, env = "RECOG_THREADS", default_value_t = 2)]
    pub(crate) threads: usize,

    /// Images per backend call; defaults to the backend's fastest (ort 4, tch 2).
    #[arg(long, env = "RECOG_CHUNK")]
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
    #[arg(long, env = "RECOG_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) request_timeout: Duration,

    /// Largest accepted upload, in bytes; larger gets 413.
    #[arg(long, env = "RECOG_MAX_BODY", default_value_t = 20 * 1024 * 1024)]
    pub(crate) max_body: usize,

    /// Most requests waiting for answers at once; more get 503 with Retry-After.
    #[arg(long, env = "RECOG_MAX_IN_FLIGHT", default_value_t = 1000)]
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

fn parse_backend(value: &str) -> Result<BackendKind, String> {
    value.parse()
}
