//! What a `recog worker` child tells the `recog serve` that started it, one JSON line per event
//! on its stdout: whether it is ready or busy, and every metric event, which the parent replays
//! into its own recorder so that one `/metrics` covers the whole embedded service.

use std::io::Write;
use std::sync::Arc;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Label, Metadata,
    Recorder, SharedString, Unit,
};
use serde::{Deserialize, Serialize};

/// One line of a worker child's stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Report {
    /// The model is loaded; the worker takes requests.
    Ready,
    /// The worker holds a batch.
    Busy,
    /// The worker finished its batch.
    Idle,
    /// A counter went up by `value`.
    Counter { metric: Metric, value: u64 },
    /// A gauge changed.
    Gauge { metric: Metric, change: GaugeChange },
    /// A histogram observed `value`.
    Histogram { metric: Metric, value: f64 },
}

/// A metric's name and labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Metric {
    name: String,
    labels: Vec<(String, String)>,
}

/// How a gauge changed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum GaugeChange {
    Set(f64),
    Increment(f64),
    Decrement(f64),
}

impl Metric {
    fn of(key: &Key) -> Metric {
        Metric {
            name: key.name().to_owned(),
            labels: key
                .labels()
                .map(|label| (label.key().to_owned(), label.value().to_owned()))
                .collect(),
        }
    }

    fn key(self) -> Key {
        let labels: Vec<Label> = self
            .labels
            .into_iter()
            .map(|(key, value)| Label::new(key, value))
            .collect();
        Key::from_parts(self.name, labels)
    }
}

impl Report {
    /// Writes this report as one line on stdout. A write fails only once the parent is gone,
    /// and then the closed stdin stops the worker, so failures are ignored.
    pub(crate) fn emit(&self) {
        let mut line = serde_json::to_vec(self).expect("reports always serialise");
        line.push(b'\n');
        let _ = std::io::stdout().lock().write_all(&line);
    }

    /// Applies a metric event from a child to this process's recorder; returns the state
    /// reports unchanged, for the caller.
    pub(crate) fn replay(self) -> Option<Report> {
        let recorder_metadata = Metadata::new(module_path!(), metrics::Level::INFO, None);
        metrics::with_recorder(|recorder| match self {
            Report::Counter { metric, value } => {
                recorder
                    .register_counter(&metric.key(), &recorder_metadata)
                    .increment(value);
                None
            }
            Report::Gauge { metric, change } => {
                let gauge = recorder.register_gauge(&metric.key(), &recorder_metadata);
                match change {
                    GaugeChange::Set(value) => gauge.set(value),
                    GaugeChange::Increment(value) => gauge.increment(value),
                    GaugeChange::Decrement(value) => gauge.decrement(value),
                }
                None
            }
            Report::Histogram { metric, value } => {
                recorder
                    .register_histogram(&metric.key(), &recorder_metadata)
                    .record(value);
                None
            }
            state => Some(state),
        })
    }
}

/// The recorder of a worker child: forwards every event to the parent as a [`Report`].
pub(crate) struct Forwarder;

impl Recorder for Forwarder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Forwarded(Metric::of(key))))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(Forwarded(Metric::of(key))))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Forwarded(Metric::of(key))))
    }
}

/// One metric of a worker child.
struct Forwarded(Metric);

impl CounterFn for Forwarded {
    fn increment(&self, value: u64) {
        let metric = self.0.clone();
        Report::Counter { metric, value }.emit();
    }

    /// Ignored: the parent sums its children's increments, so one child's absolute value has
    /// no place in the total.
    fn absolute(&self, _: u64) {}
}

impl Forwarded {
    fn gauge(&self, change: GaugeChange) {
        let metric = self.0.clone();
        Report::Gauge { metric, change }.emit();
    }
}

impl GaugeFn for Forwarded {
    fn increment(&self, value: f64) {
        self.gauge(GaugeChange::Increment(value));
    }

    fn decrement(&self, value: f64) {
        self.gauge(GaugeChange::Decrement(value));
    }

    fn set(&self, value: f64) {
        self.gauge(GaugeChange::Set(value));
    }
}

impl HistogramFn for Forwarded {
    fn record(&self, value: f64) {
        let metric = self.0.clone();
        Report::Histogram { metric, value }.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip_through_one_line_of_json() {
        let metric = Metric {
            name: "recog_images_classified_total".into(),
            labels: vec![("backend".into(), "ort".into())],
        };
        for report in [
            Report::Busy,
            Report::Counter {
                metric: metric.clone(),
                value: 3,
            },
            Report::Gauge {
                metric: metric.clone(),
                change: GaugeChange::Decrement(1.5),
            },
            Report::Histogram {
                metric,
                value: 0.25,
            },
        ] {
            let line = serde_json::to_string(&report).unwrap();
            assert!(!line.contains('\n'));
            assert_eq!(serde_json::from_str::<Report>(&line).unwrap(), report);
        }
    }

    #[test]
    fn metric_keeps_its_name_and_labels() {
        let key = Key::from_parts("recog_batch_size", vec![Label::new("backend", "tch")]);
        assert_eq!(Metric::of(&key).key(), key);
    }
}
