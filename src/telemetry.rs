//! Logging through `tracing` and metrics through a Prometheus recorder.

use std::io::IsTerminal;
use std::net::SocketAddr;

use anyhow::Context;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use recog_transport::metrics::{BATCH_BUCKETS, BATCH_SIZE, LATENCY_BUCKETS, describe};
use tracing_subscriber::EnvFilter;

/// Logs to stderr at `RUST_LOG`'s level, INFO by default (the AWS SDK's credential probing,
/// which warns at length about every source it tries, only on errors). A log line that cannot
/// be written (stderr a closed pipe) is dropped: reporting that on stderr would panic whichever
/// task logged.
pub(crate) fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,aws_config=error"));
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .init();
}

/// Installs the process-wide Prometheus recorder and describes every metric; the edge serves
/// them on its own `/metrics`.
pub(crate) fn init_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = builder()?.install_recorder()?;
    describe();
    Ok(handle)
}

/// Installs the recorder for a process without an HTTP server of its own (a worker, the
/// scaler): with an address, it serves `/metrics` there.
pub(crate) fn serve_metrics(listen: Option<SocketAddr>) -> anyhow::Result<()> {
    match listen {
        Some(address) => builder()?
            .with_http_listener(address)
            .install()
            .with_context(|| format!("cannot serve metrics on {address} (--metrics-listen)"))?,
        None => drop(builder()?.install_recorder()?),
    }
    describe();
    if let Some(address) = listen {
        tracing::info!(%address, "Serving metrics");
    }
    Ok(())
}

fn builder() -> anyhow::Result<PrometheusBuilder> {
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), BATCH_BUCKETS)?)
}
