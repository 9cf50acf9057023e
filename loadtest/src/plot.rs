//! The SVG: above, each request's latency against when it was sent, so stalls and warm-up
//! show; below, the latency histogram.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::Error;
use crate::traffic::Sample;

/// Width and height of the whole picture, in pixels.
const SIZE: (u32, u32) = (1000, 800);

/// The font of captions.
const CAPTION: (&str, u32) = ("sans-serif", 22);
/// The font of axis labels and descriptions.
const LABELS: (&str, u32) = ("sans-serif", 14);

/// Bars in the histogram.
const BINS: usize = 40;

/// The colour of requests answered 200.
const ANSWERED: RGBColor = RGBColor(31, 119, 180);
/// The colour of all other requests.
const FAILED: RGBColor = RGBColor(214, 39, 40);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// One bar of the histogram: requests whose latency in milliseconds is in `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bin {
    from: f64,
    to: f64,
    count: usize,
}

/// Draws `samples` to an SVG file at `path`.
pub fn draw(path: &Path, samples: &[Sample]) -> Result<(), Error> {
    render(path, samples).map_err(|error| Error::Plot {
        path: path.to_owned(),
        reason: error.to_string(),
    })
}

fn render(path: &Path, samples: &[Sample]) -> Drawn {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(SIZE.1 / 2);
    latency_over_time(&top, samples)?;
    histogram(&bottom, &bins(&latencies_ms(samples), BINS))?;
    root.present()
}

fn latency_over_time(area: &Area<'_>, samples: &[Sample]) -> Drawn {
    let last_sent = samples
        .iter()
        .map(|s| s.sent.as_secs_f64())
        .fold(0.0, f64::max);
    let slowest = latencies_ms(samples).into_iter().fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption("Latency by send time (red: not answered 200)", CAPTION)
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..headroom(last_sent), 0.0..headroom(slowest))?;
    chart
        .configure_mesh()
        .label_style(LABELS)
        .axis_desc_style(LABELS)
        .x_desc("sent (s)")
        .y_desc("latency (ms)")
        .draw()?;

    let point = |s: &Sample| {
        let colour = if s.outcome.is_answered() {
            ANSWERED
        } else {
            FAILED
        };
        let at = (s.sent.as_secs_f64(), s.latency.as_secs_f64() * 1000.0);
        Circle::new(at, 2, colour.filled())
    };
    chart.draw_series(samples.iter().map(point))?;
    Ok(())
}

fn histogram(area: &Area<'_>, bins: &[Bin]) -> Drawn {
    let widest = bins.last().map_or(0.0, |bin| bin.to);
    let tallest = bins.iter().map(|bin| bin.count).max().unwrap_or(0);
    let mut chart = ChartBuilder::on(area)
        .caption("Latency histogram", CAPTION)
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..headroom(widest), 0.0..headroom(tallest as f64))?;
    chart
        .configure_mesh()
        .label_style(LABELS)
        .axis_desc_style(LABELS)
        .x_desc("latency (ms)")
        .y_desc("requests")
        .y_label_formatter(&|count| format!("{count:.0}"))
        .draw()?;

    let bar = |bin: &Bin| {
        let corners = [(bin.from, 0.0), (bin.to, bin.count as f64)];
        Rectangle::new(corners, ANSWERED.mix(0.7).filled())
    };
    chart.draw_series(bins.iter().filter(|bin| bin.count > 0).map(bar))?;
    Ok(())
}

fn latencies_ms(samples: &[Sample]) -> Vec<f64> {
    samples
        .iter()
        .map(|s| s.latency.as_secs_f64() * 1000.0)
        .collect()
}

/// `count` equal bins from 0 to the largest latency, which falls in the last bin.
fn bins(latencies_ms: &[f64], count: usize) -> Vec<Bin> {
    let largest = latencies_ms.iter().copied().fold(0.0, f64::max);
    let width = if largest > 0.0 {
        largest / count as f64
    } else {
        1.0
    };
    let mut counts = vec![0; count];
    for latency in latencies_ms {
        let index = ((latency / width) as usize).min(count - 1);
        counts[index] += 1;
    }
    let bin = |(index, count)| Bin {
        from: index as f64 * width,
        to: (index + 1) as f64 * width,
        count,
    };
    counts.into_iter().enumerate().map(bin).collect()
}

/// An axis end a little past `largest`, and never an empty range.
fn headroom(largest: f64) -> f64 {
    if largest > 0.0 { largest * 1.05 } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::client::Outcome;
    use crate::expected::Verdict;

    #[test]
    fn bins_split_zero_to_the_largest_latency_evenly() {
        let bins = bins(&[0.0, 1.0, 1.9, 2.0, 4.0], 2);
        let expected = [
            Bin {
                from: 0.0,
                to: 2.0,
                count: 3,
            },
            Bin {
                from: 2.0,
                to: 4.0,
                count: 2,
            },
        ];
        assert_eq!(bins, expected);
    }

    #[test]
    fn bins_of_nothing_are_empty_but_present() {
        let bins = bins(&[], 3);
        let counts: Vec<usize> = bins.iter().map(|bin| bin.count).collect();
        assert_eq!(counts, [0, 0, 0]);
        assert_eq!(bins[2].to, 3.0);
    }

    #[test]
    fn draws_an_svg_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plot.svg");
        let samples: Vec<Sample> = (0..10)
            .map(|i| Sample {
                request: i,
                sent: Duration::from_millis(20 * i as u64),
                latency: Duration::from_millis(100 + i as u64),
                outcome: if i == 3 {
                    Outcome::Failed
                } else {
                    Outcome::Answered(Verdict::Unchecked)
                },
            })
            .collect();
        draw(&path, &samples).unwrap();

        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{svg:.100}");
        assert!(svg.contains("Latency histogram"));
        assert_eq!(svg.matches("<circle").count(), 10);
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("plot.svg");
        let error = draw(&path, &[]).unwrap_err();
        assert!(
            error.to_string().starts_with("cannot draw --plot "),
            "{error}"
        );
    }
}
