//! The flags of `recog loadtest`. Every flag can also be set through the environment variable
//! named beside it.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use reqwest::Url;

use crate::traffic::{Mode, Plan};

/// The lowest `--rate`: one request every 1000 seconds.
const MIN_RATE: f64 = 0.001;

/// `recog loadtest`: what to post, where, how hard, and what to write down.
#[derive(Debug, Clone, Args)]
pub struct LoadtestArgs {
    /// Where to post: recog's classify route (`/` or `/classify`). Plain HTTP only.
    #[arg(env = "RECOG_LOADTEST_URL", default_value = "http://127.0.0.1:8080/")]
    pub url: Url,

    /// Folder of images to post: its jpg, jpeg, png, gif, webp and bmp files, in name order.
    #[arg(long, env = "RECOG_LOADTEST_IMAGES")]
    pub images: PathBuf,

    /// Multipart field the image goes in; the course's generator uses `myfile` or `inputFile`.
    #[arg(long, env = "RECOG_LOADTEST_FIELD", default_value = "myfile")]
    pub field: String,

    /// Closed loop: this many clients, each posting its next image once its answer is back.
    #[arg(
        long,
        env = "RECOG_LOADTEST_CONCURRENCY",
        default_value = "100",
        conflicts_with = "rate"
    )]
    pub concurrency: NonZeroUsize,

    /// Open loop instead: this many requests per second at fixed intervals, whatever the
    /// answers; each latency is timed from when its request was due.
    #[arg(long, env = "RECOG_LOADTEST_RATE", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Requests in all; one per image by default, cycling through the folder when more.
    #[arg(long, env = "RECOG_LOADTEST_REQUESTS")]
    pub requests: Option<NonZeroUsize>,

    /// Expected labels: a CSV of `image,label[,...]` after a header line. With it, a wrong
    /// answer or a failed request makes the exit status non-zero.
    #[arg(long, env = "RECOG_LOADTEST_EXPECTED")]
    pub expected: Option<PathBuf>,

    /// How long one request may take before it counts as a connection error.
    #[arg(long, env = "RECOG_LOADTEST_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,

    /// Also write the summary to this file, as JSON.
    #[arg(long, env = "RECOG_LOADTEST_JSON")]
    pub json: Option<PathBuf>,

    /// Also draw each request's latency over time, and a latency histogram, to this SVG file.
    #[arg(long, env = "RECOG_LOADTEST_PLOT")]
    pub plot: Option<PathBuf>,
}

impl LoadtestArgs {
    /// The loop to run over a folder of `images` images.
    pub fn plan(&self, images: usize) -> Plan {
        let mode = match self.rate {
            Some(rate) => Mode::Open { rate },
            None => Mode::Closed {
                concurrency: self.concurrency.get(),
            },
        };
        let requests = self.requests.map_or(images, NonZeroUsize::get);
        Plan { mode, requests }
    }
}

fn parse_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= MIN_RATE => Ok(rate),
        _ => Err(format!("expected requests per second, at least {MIN_RATE}")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: LoadtestArgs,
    }

    fn parse(flags: &[&str]) -> Result<LoadtestArgs, clap::Error> {
        let argv = ["loadtest", "--images", "imgs"].iter().chain(flags);
        Cli::try_parse_from(argv).map(|cli| cli.args)
    }

    #[test]
    fn defaults_to_a_closed_loop_of_100_over_the_folder_once() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(args.field, "myfile");
        assert_eq!(args.timeout, Duration::from_secs(60));
        let plan = args.plan(7);
        assert_eq!(plan.mode, Mode::Closed { concurrency: 100 });
        assert_eq!(plan.requests, 7);
    }

    #[test]
    fn rate_makes_an_open_loop_of_the_requests_asked_for() {
        let plan = parse(&["--rate", "50", "--requests", "20"])
            .unwrap()
            .plan(100);
        assert_eq!(plan.mode, Mode::Open { rate: 50.0 });
        assert_eq!(plan.requests, 20);
    }

    #[test]
    fn rate_and_concurrency_together_are_refused() {
        let error = parse(&["--rate", "5", "--concurrency", "3"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn rate_must_be_a_positive_finite_number() {
        for rate in ["0", "-1", "0.0001", "NaN", "inf", "fast"] {
            let error = parse(&[&format!("--rate={rate}")]).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{rate}"
            );
        }
    }

    #[test]
    fn zero_requests_or_clients_are_refused() {
        for flag in ["--requests", "--concurrency"] {
            let error = parse(&[flag, "0"]).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{flag}"
            );
        }
    }
}
