//! `recog simulate`: the scaling policy, and target tracking for comparison, against a modelled
//! queue fed by a traffic trace. Writes a CSV and an SVG per policy and prints a summary.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use recog_scaler::Policy;
use recog_scaler::simulate::{self, BacklogTarget, Card, Row, Scaling, Summary, System, Trace};

use crate::cli::SimulateArgs;

/// Runs both policies over the trace and reports.
pub(crate) fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let trace = Trace::load(&args.trace)?;
    let system = System {
        tick: args.tick.as_secs_f64(),
        service_rate: args.service_rate,
        boot: args.boot.as_secs_f64(),
    };
    let policy = Policy {
        min_workers: 0,
        max_workers: args.max_workers,
        scale_in_ticks: args.scale_in_ticks,
    };
    let seconds = trace.end() + args.tail.as_secs_f64();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let name = args
        .trace
        .file_stem()
        .map_or("trace".into(), |s| s.to_string_lossy().into_owned());

    println!(
        "{:<8} {:>15} {:>10} {:>10} {:>18} {:>6}",
        "policy", "worker-seconds", "wait p50", "wait p95", "direction changes", "left"
    );
    let policies: [Box<dyn Scaling>; 2] = [
        Box::new(Card::new(policy)),
        Box::new(BacklogTarget::new(args.backlog_per_worker, policy)),
    ];
    for mut scaling in policies {
        let (rows, summary) = simulate::run(&trace, system, scaling.as_mut(), seconds);
        let stem = args.out.join(format!("{name}-{}", scaling.name()));
        write_csv(&stem.with_extension("csv"), &rows)?;
        recog_scaler::plot::draw(
            &stem.with_extension("svg"),
            &format!("{name}, {} policy", scaling.name()),
            &rows,
        )
        .map_err(anyhow::Error::msg)?;
        print_summary(scaling.name(), &summary);
    }
    println!(
        "wrote {}/{name}-{{card,backlog}}.{{csv,svg}}",
        args.out.display()
    );
    Ok(())
}

fn write_csv(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let mut csv = String::from("seconds,arrival_rate,depth,desired,running,pending\n");
    for r in rows {
        let _ = writeln!(
            csv,
            "{},{},{:.1},{},{},{}",
            r.seconds, r.arrival_rate, r.depth, r.desired, r.running, r.pending
        );
    }
    std::fs::write(path, csv).with_context(|| format!("cannot write {}", path.display()))
}

fn print_summary(name: &str, s: &Summary) {
    println!(
        "{name:<8} {:>15.0} {:>9.1}s {:>9.1}s {:>18} {:>6.0}",
        s.worker_seconds, s.wait_p50, s.wait_p95, s.direction_changes, s.left
    );
}
