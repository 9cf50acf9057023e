//! The scaling policy against a modelled queue: arrivals from a traffic trace, each running
//! worker serving at a fixed rate, new workers taking a boot delay before they serve. Each run
//! yields a row per tick and a summary: worker-seconds, queue wait percentiles, direction changes.

use std::collections::VecDeque;
use std::path::Path;

use serde::Serialize;

use crate::policy::{Memory, Observation, Policy};

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be read.
    #[error("cannot read trace {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `seconds,rate` with both numbers non-negative and seconds increasing.
    #[error("trace line {line}: expected `seconds,rate`, non-negative, seconds increasing")]
    Line {
        /// The 1-based line number.
        line: usize,
    },
}

/// Arrival rates over time: from each point's second on, requests arrive at its rate per
/// second, until the last point, which marks the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    points: Vec<(f64, f64)>,
}

impl Trace {
    /// Reads a CSV of `seconds,rate` lines after a header line.
    pub fn load(path: &Path) -> Result<Trace, TraceError> {
        let text = std::fs::read_to_string(path).map_err(|source| TraceError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Trace::parse(&text)
    }

    /// Parses the CSV text of a trace.
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (index, line) in text
            .lines()
            .enumerate()
            .skip(1)
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let bad = || TraceError::Line { line: index + 1 };
            let (seconds, rate) = line.split_once(',').ok_or_else(bad)?;
            let seconds: f64 = seconds.trim().parse().map_err(|_| bad())?;
            let rate: f64 = rate.trim().parse().map_err(|_| bad())?;
            let increasing = points.last().is_none_or(|&(last, _)| seconds > last);
            if seconds < 0.0 || rate < 0.0 || !increasing {
                return Err(bad());
            }
            points.push((seconds, rate));
        }
        Ok(Trace { points })
    }

    /// Requests per second at time `t`; none from the last point on, which marks the end.
    pub fn rate(&self, t: f64) -> f64 {
        if t >= self.end() {
            return 0.0;
        }
        self.points
            .iter()
            .rev()
            .find(|(start, _)| *start <= t)
            .map_or(0.0, |&(_, rate)| rate)
    }

    /// The last point's time: the trace's length.
    pub fn end(&self) -> f64 {
        self.points.last().map_or(0.0, |&(t, _)| t)
    }
}

/// A scaling policy under simulation.
pub trait Scaling {
    /// A short name for reports.
    fn name(&self) -> &'static str;

    /// The worker count to aim for now.
    fn decide(&mut self, now: Observation) -> usize;
}

/// The design card's policy.
#[derive(Debug, Clone)]
pub struct Card {
    policy: Policy,
    memory: Memory,
}

impl Card {
    /// The card's policy with these settings.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            memory: Memory::default(),
        }
    }
}

impl Scaling for Card {
    fn name(&self) -> &'static str {
        "card"
    }

    fn decide(&mut self, now: Observation) -> usize {
        let (desired, memory) = self.policy.decide(self.memory, now);
        self.memory = memory;
        desired
    }
}

/// AWS-style target tracking on backlog per worker: as many workers as keep each one's share
/// of the queue at the target, out at once, in after the same sustained period as the card.
#[derive(Debug, Clone)]
pub struct BacklogTarget {
    /// Messages each worker should have queued.
    pub per_worker: usize,
    /// The same bounds and scale-in period as the card.
    pub policy: Policy,
    low_ticks: u32,
}

impl BacklogTarget {
    /// Target tracking at `per_worker` messages per worker.
    pub fn new(per_worker: usize, policy: Policy) -> Self {
        Self {
            per_worker: per_worker.max(1),
            policy,
            low_ticks: 0,
        }
    }
}

impl Scaling for BacklogTarget {
    fn name(&self) -> &'static str {
        "backlog"
    }

    fn decide(&mut self, now: Observation) -> usize {
        let target = now.depth.div_ceil(self.per_worker);
        self.low_ticks = if target < now.workers {
            self.low_ticks + 1
        } else {
            0
        };
        let desired = if target > now.workers || self.low_ticks >= self.policy.scale_in_ticks {
            target
        } else {
            now.workers
        };
        let floor = self
            .policy
            .min_workers
            .max(now.busy.min(self.policy.max_workers));
        desired.min(self.policy.max_workers).max(floor)
    }
}

/// The simulation's time step, in seconds: short beside a request's service time, so that the
/// depth a tick sees is the work queued and in progress at that instant.
pub const STEP: f64 = 0.1;

/// How the modelled system behaves.
#[derive(Debug, Clone, Copy)]
pub struct System {
    /// Seconds between scaler ticks.
    pub tick: f64,
    /// Requests one running worker serves per second.
    pub service_rate: f64,
    /// Seconds from starting a worker to its first request.
    pub boot: f64,
}

/// The state after one tick.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Row {
    /// Seconds since the start.
    pub seconds: f64,
    /// Requests per second arriving.
    pub arrival_rate: f64,
    /// Requests waiting.
    pub depth: f64,
    /// Workers the policy wants.
    pub desired: usize,
    /// Workers serving.
    pub running: usize,
    /// Workers booting.
    pub pending: usize,
}

/// What one run cost and how it served.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Seconds of worker time paid for, booting included.
    pub worker_seconds: f64,
    /// Median time a request waited in the queue.
    pub wait_p50: f64,
    /// 95th percentile of that wait.
    pub wait_p95: f64,
    /// Times the desired count turned from rising to falling or back.
    pub direction_changes: usize,
    /// Requests still queued at the end.
    pub left: f64,
}

/// Runs `scaling` over `trace` for `seconds`, one row per scaler tick.
pub fn run(
    trace: &Trace,
    system: System,
    scaling: &mut dyn Scaling,
    seconds: f64,
) -> (Vec<Row>, Summary) {
    let mut queue: VecDeque<(f64, f64)> = VecDeque::new();
    let mut booting: Vec<f64> = Vec::new();
    let (mut running, mut worker_seconds) = (0usize, 0.0);
    let (mut waits, mut rows) = (Vec::new(), Vec::new());
    let steps_per_tick = (system.tick / STEP).round().max(1.0) as usize;

    for step in 0..(seconds / STEP).ceil() as usize {
        let t = step as f64 * STEP;
        let arrival_rate = trace.rate(t);
        if arrival_rate > 0.0 {
            queue.push_back((t, arrival_rate * STEP));
        }
        let depth: f64 = queue.iter().map(|(_, count)| count).sum();
        let busy = running.min((depth / (system.service_rate * STEP)).ceil() as usize);

        if step % steps_per_tick == 0 {
            let now = Observation {
                depth: depth.ceil() as usize,
                workers: running + booting.len(),
                busy,
            };
            let desired = scaling.decide(now);
            resize(&mut booting, &mut running, busy, desired, system.boot);
            let pending = booting.len();
            rows.push(Row {
                seconds: t,
                arrival_rate,
                depth,
                desired,
                running,
                pending,
            });
        }
        serve(
            &mut queue,
            running as f64 * system.service_rate * STEP,
            t,
            &mut waits,
        );

        worker_seconds += (running + booting.len()) as f64 * STEP;
        booting.iter_mut().for_each(|left| *left -= STEP);
        running += booting.iter().filter(|left| **left <= 1e-9).count();
        booting.retain(|left| *left > 1e-9);
    }

    let left: f64 = queue.iter().map(|(_, count)| count).sum();
    let summary = Summary {
        worker_seconds,
        wait_p50: percentile(&mut waits, 0.50),
        wait_p95: percentile(&mut waits, 0.95),
        direction_changes: direction_changes(&rows),
        left: if left > 1e-6 { left } else { 0.0 },
    };
    (rows, summary)
}

/// Serves up to `capacity` requests oldest first, recording each served cohort's wait.
fn serve(queue: &mut VecDeque<(f64, f64)>, mut capacity: f64, t: f64, waits: &mut Vec<(f64, f64)>) {
    while capacity > 0.0 {
        let Some(front) = queue.front_mut() else {
            break;
        };
        let taken = front.1.min(capacity);
        waits.push((t - front.0, taken));
        capacity -= taken;
        front.1 -= taken;
        if front.1 <= 1e-9 {
            queue.pop_front();
        }
    }
}

/// Starts booting workers, or retires booting ones first and then idle running ones.
fn resize(booting: &mut Vec<f64>, running: &mut usize, busy: usize, desired: usize, boot: f64) {
    let workers = *running + booting.len();
    if desired > workers {
        booting.extend(std::iter::repeat_n(boot, desired - workers));
        return;
    }
    let mut surplus = workers - desired;
    let cancelled = surplus.min(booting.len());
    booting.truncate(booting.len() - cancelled);
    surplus -= cancelled;
    *running -= surplus.min(*running - busy.min(*running));
}

/// The `q`-quantile of weighted `(value, weight)` pairs.
fn percentile(values: &mut [(f64, f64)], q: f64) -> f64 {
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = values.iter().map(|(_, w)| w).sum();
    let mut seen = 0.0;
    for &(value, weight) in values.iter() {
        seen += weight;
        if seen >= q * total {
            return value;
        }
    }
    0.0
}

fn direction_changes(rows: &[Row]) -> usize {
    let steps = rows.windows(2).filter(|w| w[0].desired != w[1].desired);
    let mut directions: Vec<bool> = steps.map(|w| w[1].desired > w[0].desired).collect();
    directions.dedup();
    directions.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEM: System = System {
        tick: 1.0,
        service_rate: 10.0,
        boot: 2.0,
    };

    fn burst() -> Trace {
        Trace::parse("seconds,rate\n0,0\n10,100\n11,0\n").unwrap()
    }

    #[test]
    fn trace_is_piecewise_constant() {
        let trace = Trace::parse("seconds,rate\n0,3\n10,100\n20,7\n").unwrap();
        assert_eq!(trace.rate(20.0), 0.0);
        let trace = burst();
        assert_eq!(
            (trace.rate(5.0), trace.rate(10.5), trace.rate(30.0)),
            (0.0, 100.0, 0.0)
        );
        assert_eq!(trace.end(), 11.0);
    }

    #[test]
    fn bad_trace_lines_are_refused_with_their_number() {
        let error = Trace::parse("seconds,rate\n0,1\n0,2\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "trace line 3: expected `seconds,rate`, non-negative, seconds increasing"
        );
        assert!(Trace::parse("seconds,rate\nx,1\n").is_err());
    }

    #[test]
    fn card_serves_a_burst_with_one_rise_and_one_fall() {
        let (rows, summary) = run(&burst(), SYSTEM, &mut Card::new(Policy::card()), 60.0);
        assert_eq!(summary.direction_changes, 1);
        assert_eq!(summary.left, 0.0);
        assert_eq!(
            rows.last().unwrap().running + rows.last().unwrap().pending,
            0
        );
        assert_eq!(rows.iter().map(|r| r.desired).max(), Some(19));
    }

    #[test]
    fn every_request_waits_at_least_the_boot_delay_from_cold() {
        let (_, summary) = run(&burst(), SYSTEM, &mut Card::new(Policy::card()), 60.0);
        assert!(summary.wait_p50 >= SYSTEM.boot, "{summary:?}");
    }

    #[test]
    fn retiring_never_touches_busy_workers() {
        let (mut booting, mut running) = (vec![1.0], 5usize);
        resize(&mut booting, &mut running, 4, 0, 2.0);
        assert_eq!((booting.len(), running), (0, 4));
    }

    #[test]
    fn weighted_percentiles() {
        let mut waits = vec![(1.0, 9.0), (10.0, 1.0)];
        assert_eq!(percentile(&mut waits, 0.5), 1.0);
        assert_eq!(percentile(&mut waits, 0.95), 10.0);
    }
}
