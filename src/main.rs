//! `recog`: an elastic image-recognition service. This binary parses the command line, sets up
//! logging and metrics, and hands over to the library crates.
//!
//! Layout:
//! - `cli`: the subcommands and their flags (`recog --help` is the manual).
//! - `serve`: the embedded all-in-one: edge, queues, buckets and workers in one process.
//! - `fleet`: the embedded workers as tasks the scaler starts and retires.
//! - `simulate`: the scaling policy against traffic traces.
//! - `tiers`: the edge and the worker as separate processes on AWS, and `aws init`.
//! - `telemetry`: tracing and the Prometheus recorder.
#![forbid(unsafe_code)]

mod cli;
mod fleet;
mod serve;
mod simulate;
mod telemetry;
mod tiers;

use std::process::ExitCode;

use clap::Parser;
use tokio::runtime::Runtime;

fn main() -> anyhow::Result<ExitCode> {
    let cli = cli::Cli::parse();
    telemetry::init_tracing();
    let runtime = Runtime::new()?;
    match cli.command {
        cli::Command::Serve(args) => runtime
            .block_on(serve::run(args))
            .map(|()| ExitCode::SUCCESS),
        cli::Command::Edge(args) => runtime
            .block_on(tiers::edge(args))
            .map(|()| ExitCode::SUCCESS),
        cli::Command::Worker(args) => runtime
            .block_on(tiers::worker(args))
            .map(|()| ExitCode::SUCCESS),
        cli::Command::Aws(cli::AwsCommand::Init(args)) => runtime
            .block_on(tiers::init(args))
            .map(|()| ExitCode::SUCCESS),
        cli::Command::Loadtest(args) => loadtest(&runtime, args),
        cli::Command::Simulate(args) => simulate::run(args).map(|()| ExitCode::SUCCESS),
    }
}

/// A failed check is a result, not a crash: one line on stderr and a non-zero exit status,
/// without the backtrace `RUST_BACKTRACE` would add to an error.
fn loadtest(runtime: &Runtime, args: recog_loadtest::LoadtestArgs) -> anyhow::Result<ExitCode> {
    match runtime.block_on(recog_loadtest::run(args)) {
        Err(error) if error.is_failed_check() => {
            eprintln!("Error: {error}");
            Ok(ExitCode::FAILURE)
        }
        result => Ok(result.map(|()| ExitCode::SUCCESS)?),
    }
}
