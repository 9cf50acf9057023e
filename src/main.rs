//! `recog`: an elastic image-recognition service. This binary parses the command line, sets up
//! logging and metrics, and hands over to the library crates.
//!
//! Layout:
//! - `cli`: the subcommands and their flags (`recog --help` is the manual).
//! - `serve`: the embedded all-in-one: edge, queues, buckets and scaler in one process.
//! - `fleet`: the embedded workers as `recog worker` child processes the scaler starts and
//!   retires.
//! - `report`: what a worker child tells its parent: its state and its metric events.
//! - `worker`: `recog worker`, on AWS or as a child of `recog serve`.
//! - `simulate`: the scaling policy against traffic traces.
//! - `tiers`: the edge and the scaler as separate processes on AWS, and `aws init`.
//! - `telemetry`: tracing and the Prometheus recorder.
#![forbid(unsafe_code)]

mod cli;
mod fleet;
mod report;
mod serve;
mod simulate;
mod telemetry;
mod tiers;
mod worker;

use std::process::ExitCode;

use clap::Parser;
use tokio::runtime::Runtime;

/// Errors end the process with one line on stderr and a non-zero status, without the
/// backtrace `RUST_BACKTRACE` would add.
fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    telemetry::init_tracing();
    match run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: cli::Command) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new()?;
    let ok = |()| ExitCode::SUCCESS;
    match command {
        cli::Command::Serve(args) => runtime.block_on(serve::run(args)).map(ok),
        cli::Command::Edge(args) => runtime.block_on(tiers::edge(args)).map(ok),
        cli::Command::Worker(args) => runtime.block_on(worker::run(args)).map(ok),
        cli::Command::Scaler(args) => runtime.block_on(tiers::scaler(args)).map(ok),
        cli::Command::Aws(cli::AwsCommand::Init(args)) => {
            runtime.block_on(tiers::init(args)).map(ok)
        }
        cli::Command::Loadtest(args) => loadtest(&runtime, args),
        cli::Command::Simulate(args) => simulate::run(args).map(ok),
    }
}

/// A failed check is a result, not a crash: one line on stderr and a non-zero exit status.
fn loadtest(runtime: &Runtime, args: recog_loadtest::LoadtestArgs) -> anyhow::Result<ExitCode> {
    match runtime.block_on(recog_loadtest::run(args)) {
        Err(error) if error.is_failed_check() => {
            eprintln!("Error: {error}");
            Ok(ExitCode::FAILURE)
        }
        result => Ok(result.map(|()| ExitCode::SUCCESS)?),
    }
}
