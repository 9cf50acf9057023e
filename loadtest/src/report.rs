//! The summary of a load test: counts, throughput and latency percentiles, printed for people
//! and written as JSON for scripts, and whether the run passed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::Error;
use crate::client::Outcome;
use crate::expected::{Mismatch, Verdict};
use crate::traffic::{Mode, Plan, Results, Sample};

/// Latencies are kept to this many significant digits (0.1 %).
const SIGNIFICANT_DIGITS: u8 = 3;

/// The longest latency told apart, in microseconds: an hour.
// Limitation: longer latencies (only possible with a `--timeout` over an hour) count as an hour.
const LONGEST_US: u64 = 3_600_000_000;

/// Wrong answers printed; the JSON has them all.
const WRONG_PRINTED: usize = 5;

/// What a load test measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// How requests were paced.
    #[serde(flatten)]
    pub mode: Mode,
    /// Requests sent.
    pub requests: usize,
    /// From the first request out to the last outcome known.
    pub wall_seconds: f64,
    /// Requests per second of wall time.
    pub throughput_rps: f64,
    /// Latency percentiles over every request, failed ones included.
    pub latency_ms: Latency,
    /// Requests answered with another status than 200, or not at all.
    pub failed: usize,
    /// Failed requests by status code, or `connection` when there was no answer.
    pub errors: BTreeMap<String, usize>,
    /// 200 answers with the expected label.
    pub correct: usize,
    /// 200 answers with another label.
    pub wrong: usize,
    /// 200 answers not checked, for want of `--expected`.
    pub unchecked: usize,
    /// Every wrong answer.
    pub wrong_answers: Vec<Mismatch>,
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Summary {
    /// Summarises `results` of `plan`.
    pub fn new(plan: &Plan, results: &Results) -> Summary {
        let requests = results.samples.len();
        let mut summary = Summary {
            mode: plan.mode,
            requests,
            wall_seconds: results.wall.as_secs_f64(),
            throughput_rps: throughput(requests, results.wall),
            latency_ms: Latency::of(&results.samples),
            failed: 0,
            errors: BTreeMap::new(),
            correct: 0,
            wrong: 0,
            unchecked: 0,
            wrong_answers: Vec::new(),
        };
        for sample in &results.samples {
            summary.count(&sample.outcome);
        }
        summary
    }

    /// Passes when every request was answered 200 with the expected label.
    pub fn verdict(&self) -> Result<(), Error> {
        if self.wrong == 0 && self.failed == 0 {
            return Ok(());
        }
        Err(Error::Failed {
            requests: self.requests,
            wrong: self.wrong,
            failed: self.failed,
        })
    }

    /// Writes the summary as pretty-printed JSON.
    pub fn write_json(&self, path: &Path) -> Result<(), Error> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::from);
        let written = json.and_then(|json| std::fs::write(path, json + "\n"));
        written.map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })
    }

    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Answered(Verdict::Correct) => self.correct += 1,
            Outcome::Answered(Verdict::Unchecked) => self.unchecked += 1,
            Outcome::Answered(Verdict::Wrong(mismatch)) => {
                self.wrong += 1;
                self.wrong_answers.push(mismatch.clone());
            }
            Outcome::Rejected(status) => self.fail(status.to_string()),
            Outcome::Failed => self.fail("connection".to_owned()),
        }
    }

    fn fail(&mut self, kind: String) {
        self.failed += 1;
        *self.errors.entry(kind).or_default() += 1;
    }

    fn errors_line(&self) -> String {
        if self.errors.is_empty() {
            return "none".to_owned();
        }
        let kinds = self
            .errors
            .iter()
            .map(|(kind, count)| format!("{kind}: {count}"));
        kinds.collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (requests, wall, rps) = (self.requests, self.wall_seconds, self.throughput_rps);
        writeln!(
            f,
            "Requests  {requests} in {wall:.3} s, {rps:.1} req/s ({})",
            self.mode
        )?;
        writeln!(f, "Latency   {}", self.latency_ms)?;
        writeln!(f, "Errors    {}", self.errors_line())?;
        let (correct, wrong, unchecked) = (self.correct, self.wrong, self.unchecked);
        writeln!(
            f,
            "Answers   {correct} correct, {wrong} wrong, {unchecked} unchecked"
        )?;

        for m in self.wrong_answers.iter().take(WRONG_PRINTED) {
            writeln!(
                f,
                "Wrong     {}: got {:?}, expected {:?}",
                m.image, m.got, m.expected
            )?;
        }
        if self.wrong > WRONG_PRINTED {
            writeln!(f, "Wrong     ... and {} more", self.wrong - WRONG_PRINTED)?;
        }
        Ok(())
    }
}

impl Latency {
    /// The percentiles of the samples' latencies, to 3 significant digits.
    pub fn of(samples: &[Sample]) -> Latency {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, LONGEST_US, SIGNIFICANT_DIGITS)
            .expect("1 µs to an hour to 3 digits is a valid histogram");
        for sample in samples {
            histogram.saturating_record(micros(sample.latency));
        }
        let at = |quantile| millis(histogram.value_at_quantile(quantile));
        Latency {
            p50: at(0.50),
            p90: at(0.90),
            p95: at(0.95),
            p99: at(0.99),
            max: millis(histogram.max()),
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Latency {
            p50,
            p90,
            p95,
            p99,
            max,
        } = self;
        write!(
            f,
            "p50 {p50:.1} ms, p90 {p90:.1} ms, p95 {p95:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"
        )
    }
}

fn throughput(requests: usize, wall: Duration) -> f64 {
    if wall.is_zero() {
        return 0.0;
    }
    requests as f64 / wall.as_secs_f64()
}

fn micros(latency: Duration) -> u64 {
    u64::try_from(latency.as_micros()).unwrap_or(u64::MAX)
}

fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CLOSED: Plan = Plan {
        mode: Mode::Closed { concurrency: 2 },
        requests: 5,
    };

    fn sample(request: usize, latency_us: u64, outcome: Outcome) -> Sample {
        Sample {
            request,
            sent: Duration::ZERO,
            latency: Duration::from_micros(latency_us),
            outcome,
        }
    }

    fn wrong(image: &str) -> Outcome {
        Outcome::Answered(Verdict::Wrong(Mismatch {
            image: image.into(),
            expected: "lotion".into(),
            got: "goldfish".into(),
        }))
    }

    /// One of each outcome, over two seconds.
    fn mixed() -> Results {
        let samples = vec![
            sample(0, 1000, Outcome::Answered(Verdict::Correct)),
            sample(1, 1500, Outcome::Answered(Verdict::Unchecked)),
            sample(2, 2000, wrong("test_2.JPEG")),
            sample(3, 100, Outcome::Rejected(503)),
            sample(4, 1800, Outcome::Failed),
        ];
        Results {
            samples,
            wall: Duration::from_secs(2),
        }
    }

    #[test]
    fn percentiles_of_one_to_a_thousand_microseconds() {
        let samples: Vec<Sample> = (1..=1000)
            .map(|us| sample(0, us, Outcome::Answered(Verdict::Unchecked)))
            .collect();
        let latency = Latency::of(&samples);
        let expected = Latency {
            p50: 0.5,
            p90: 0.9,
            p95: 0.95,
            p99: 0.99,
            max: 1.0,
        };
        assert_eq!(latency, expected);
    }

    #[test]
    fn one_slow_request_in_a_hundred_shows_only_in_the_max() {
        let mut samples: Vec<Sample> = (0..99)
            .map(|i| sample(i, 1000, Outcome::Answered(Verdict::Unchecked)))
            .collect();
        samples.push(sample(99, 2000, Outcome::Answered(Verdict::Unchecked)));
        let latency = Latency::of(&samples);
        assert_eq!((latency.p50, latency.p99, latency.max), (1.0, 1.0, 2.0));
    }

    #[test]
    fn seconds_long_latencies_keep_three_significant_digits() {
        let mut samples: Vec<Sample> = (0..99)
            .map(|i| sample(i, 1_000_000, Outcome::Answered(Verdict::Unchecked)))
            .collect();
        samples.push(sample(99, 60_000_000, Outcome::Failed));
        let latency = Latency::of(&samples);
        // Each is reported as the top of its bucket: 512 µs wide at 1 s, 32768 µs at 60 s.
        assert_eq!((latency.p50, latency.p99), (1000.447, 1000.447));
        assert_eq!(latency.max, 60_030.975);
    }

    #[test]
    fn counts_answers_by_verdict_and_failures_by_status() {
        let summary = Summary::new(&CLOSED, &mixed());
        assert_eq!(summary.requests, 5);
        assert_eq!(summary.throughput_rps, 2.5);
        assert_eq!(
            (summary.correct, summary.wrong, summary.unchecked),
            (1, 1, 1)
        );
        assert_eq!(summary.failed, 2);
        let errors: Vec<(&str, usize)> = summary
            .errors
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(errors, [("503", 1), ("connection", 1)]);
    }

    #[test]
    fn verdict_fails_on_a_wrong_answer_or_a_failed_request() {
        let error = Summary::new(&CLOSED, &mixed()).verdict().unwrap_err();
        assert_eq!(error.to_string(), "1 wrong and 2 failed of 5 requests");

        let mut all_correct = mixed();
        all_correct.samples.truncate(1);
        assert!(Summary::new(&CLOSED, &all_correct).verdict().is_ok());
    }

    #[test]
    fn json_has_one_field_per_figure() {
        let summary = Summary::new(&CLOSED, &mixed());
        let expected = json!({
            "mode": "closed",
            "concurrency": 2,
            "requests": 5,
            "wall_seconds": 2.0,
            "throughput_rps": 2.5,
            "latency_ms": {"p50": 1.5, "p90": 2.0, "p95": 2.0, "p99": 2.0, "max": 2.0},
            "failed": 2,
            "errors": {"503": 1, "connection": 1},
            "correct": 1,
            "wrong": 1,
            "unchecked": 1,
            "wrong_answers": [{"image": "test_2.JPEG", "expected": "lotion", "got": "goldfish"}],
        });
        assert_eq!(serde_json::to_value(&summary).unwrap(), expected);
    }

    #[test]
    fn open_loop_json_names_its_rate() {
        let plan = Plan {
            mode: Mode::Open { rate: 50.0 },
            requests: 5,
        };
        let json = serde_json::to_value(Summary::new(&plan, &mixed())).unwrap();
        assert_eq!(
            (&json["mode"], &json["rate"]),
            (&json!("open"), &json!(50.0))
        );
        assert_eq!(json.get("concurrency"), None);
    }

    #[test]
    fn prints_one_line_per_figure_and_the_wrong_answers() {
        let printed = Summary::new(&CLOSED, &mixed()).to_string();
        let expected = "\
Requests  5 in 2.000 s, 2.5 req/s (closed loop, 2 clients)
Latency   p50 1.5 ms, p90 2.0 ms, p95 2.0 ms, p99 2.0 ms, max 2.0 ms
Errors    503: 1, connection: 1
Answers   1 correct, 1 wrong, 1 unchecked
Wrong     test_2.JPEG: got \"goldfish\", expected \"lotion\"
";
        assert_eq!(printed, expected);
    }

    #[test]
    fn writes_the_json_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        let summary = Summary::new(&CLOSED, &mixed());
        summary.write_json(&path).unwrap();
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written, serde_json::to_value(&summary).unwrap());
    }
}
