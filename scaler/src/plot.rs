//! Draws a simulated run as SVG: queue depth on top, desired and running workers below.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::simulate::Row;

const SIZE: (u32, u32) = (1000, 640);
const LABELS: (&str, u32) = ("sans-serif", 14);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), Box<dyn std::error::Error>>;

/// Writes the plot of `rows` to `path`, titled `title`.
pub fn draw(path: &Path, title: &str, rows: &[Row]) -> Result<(), String> {
    render(path, title, rows).map_err(|error| format!("cannot draw {}: {error}", path.display()))
}

fn render(path: &Path, title: &str, rows: &[Row]) -> Drawn {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(SIZE.1 / 2);
    let end = rows.last().map_or(1.0, |r| r.seconds.max(1.0));
    let depth: Vec<(f64, f64)> = rows.iter().map(|r| (r.seconds, r.depth)).collect();
    panel(
        &top,
        &format!("{title}: queue depth"),
        "requests",
        end,
        &[(&depth, BLUE)],
    )?;

    let desired: Vec<(f64, f64)> = rows.iter().map(|r| (r.seconds, r.desired as f64)).collect();
    let running: Vec<(f64, f64)> = rows.iter().map(|r| (r.seconds, r.running as f64)).collect();
    let caption = "workers: desired (red), running (green)";
    panel(
        &bottom,
        caption,
        "workers",
        end,
        &[(&desired, RED), (&running, GREEN)],
    )?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &Area<'_>,
    caption: &str,
    unit: &str,
    end: f64,
    lines: &[(&[(f64, f64)], RGBColor)],
) -> Drawn {
    let top = lines
        .iter()
        .flat_map(|(points, _)| points.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..top * 1.1)?;
    chart
        .configure_mesh()
        .label_style(LABELS)
        .x_desc("seconds")
        .y_desc(unit)
        .draw()?;
    for (points, colour) in lines {
        chart.draw_series(std::iter::once(PathElement::new(
            points.to_vec(),
            colour.stroke_width(2),
        )))?;
    }
    Ok(())
}
