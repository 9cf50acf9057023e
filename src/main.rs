//! `recog`: an elastic image-recognition service. This binary parses the command line, sets up
//! logging and metrics, and hands over to the library crates.
//!
//! Layout:
//! - `cli`: the subcommands and their flags (`recog --help` is the manual).
//! - `serve`: the embedded all-in-one: edge, queues, buckets and workers in one process.
//! - `telemetry`: tracing and the Prometheus recorder.
#![forbid(unsafe_code)]

mod cli;
mod serve;
mod telemetry;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    telemetry::init_tracing();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        cli::Command::Serve(args) => runtime.block_on(serve::run(args)),
    }
}
