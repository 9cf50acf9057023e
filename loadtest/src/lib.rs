//! recog's workload generator. It posts the images of a folder to a running recog as the
//! course's generator does, in a closed loop (a fixed number of clients) or an open loop (a
//! fixed rate), and reports throughput, latency percentiles, errors and, given the expected
//! labels, how many answers were right.
//!
//! Layout:
//! - [`args`]: the flags of `recog loadtest`, and the [`Plan`] they make.
//! - [`images`]: which files of the folder are posted, read once into memory.
//! - [`expected`]: the expected-labels CSV and how a reply is checked against it.
//! - [`client`]: one upload and what became of it.
//! - [`traffic`]: the closed and open loops that send the requests, timing each.
//! - [`report`]: the summary, printed and as JSON, and whether the run passed.
//! - [`plot`]: the SVG of latency over time and the latency histogram.
//! - [`error`]: why a load test could not run, or failed.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod args;
pub mod client;
pub mod error;
pub mod expected;
pub mod images;
pub mod plot;
pub mod report;
pub mod traffic;

use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

pub use args::LoadtestArgs;
pub use error::Error;
pub use report::Summary;
pub use traffic::{Mode, Plan};

use client::Uploader;
use expected::Expected;
use images::Image;

/// Runs the load test `args` describe, prints its summary and writes the files asked for.
///
/// With `--expected`, any wrong answer or failed request makes it return
/// [`Error::Failed`] once the summary is out.
pub async fn run(args: LoadtestArgs) -> Result<(), Error> {
    let images: Arc<[Image]> = images::load(&args.images)?.into();
    let expected = args.expected.as_deref().map(Expected::read).transpose()?;
    if let Some(expected) = &expected {
        expected.covers(&images)?;
    }
    let checking = expected.is_some();

    let plan = args.plan(images.len());
    tracing::info!(
        url = %args.url, images = images.len(), requests = plan.requests, mode = %plan.mode,
        field = %args.field, checking, "Starting load test"
    );
    let uploader = Uploader::new(&args)?;
    let progress = progress_bar(plan.requests);
    let results =
        traffic::execute(&plan, sender(uploader, images, expected, progress.clone())).await;
    progress.finish_and_clear();

    let summary = Summary::new(&plan, &results);
    print!("{summary}");
    if let Some(path) = &args.json {
        summary.write_json(path)?;
    }
    if let Some(path) = &args.plot {
        plot::draw(path, &results.samples)?;
    }
    // Without --expected only a run in which nothing succeeded fails: it measured nothing.
    let nothing_answered = summary.requests > 0 && summary.failed == summary.requests;
    if checking || nothing_answered {
        summary.verdict()
    } else {
        Ok(())
    }
}

/// What [`traffic::execute`] calls for request number `i`: upload image `i` modulo the folder.
fn sender(
    uploader: Uploader,
    images: Arc<[Image]>,
    expected: Option<Expected>,
    progress: ProgressBar,
) -> impl Fn(usize) -> client::Pending + Send + Sync + 'static {
    let uploader = Arc::new(uploader);
    let expected = expected.map(Arc::new);
    move |request| {
        let image = images[request % images.len()].clone();
        let (uploader, expected, progress) = (uploader.clone(), expected.clone(), progress.clone());
        Box::pin(async move {
            let outcome = uploader.send(&image, expected.as_deref()).await;
            progress.inc(1);
            outcome
        })
    }
}

/// A bar on stderr when it is a terminal; otherwise nothing, so logs and CI output stay clean.
fn progress_bar(requests: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(requests as u64);
    let template = "{bar:40} {pos}/{len} requests  {per_sec}  {elapsed}";
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
