//! The sweep plot: memory (log2 bytes) against validation loss per method, repeats as spread
//! bars, the full model as a labelled reference and the Pareto frontier ringed.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{HEIGHT, PALETTE, WIDTH, draw_legend, power_of_two_label, write_image};
use crate::results::{Method, Results};

/// One point of a series: bytes, mean loss, min and max loss over repeats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesPoint {
    /// Bytes used (mean over repeats).
    pub bytes: f64,
    /// Mean validation log-loss.
    pub loss: f64,
    /// Lowest loss over repeats.
    pub low: f64,
    /// Highest loss over repeats.
    pub high: f64,
}

/// Groups runs by method and budget; repeats become one point with a spread.
pub fn series(results: &Results) -> BTreeMap<Method, Vec<SeriesPoint>> {
    // (method, budget) → [(bytes, loss)] over repeats.
    type Groups = BTreeMap<(Method, Option<u64>), Vec<(f64, f64)>>;
    let mut groups = Groups::new();
    for r in &results.runs {
        groups
            .entry((r.method, r.budget_bytes))
            .or_default()
            .push((r.bytes as f64, r.valid_logloss));
    }
    let mut out: BTreeMap<Method, Vec<SeriesPoint>> = BTreeMap::new();
    for ((method, _), runs) in groups {
        let k = runs.len() as f64;
        let bytes = runs.iter().map(|r| r.0).sum::<f64>() / k;
        let loss = runs.iter().map(|r| r.1).sum::<f64>() / k;
        let low = runs.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
        let high = runs.iter().map(|r| r.1).fold(f64::NEG_INFINITY, f64::max);
        out.entry(method).or_default().push(SeriesPoint {
            bytes,
            loss,
            low,
            high,
        });
    }
    for points in out.values_mut() {
        points.sort_by(|a, b| a.bytes.total_cmp(&b.bytes));
    }
    out
}

/// The Pareto frontier over all points: no other point has fewer bytes and lower loss.
pub fn pareto_frontier(points: &[SeriesPoint]) -> Vec<SeriesPoint> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.bytes.total_cmp(&b.bytes).then(a.loss.total_cmp(&b.loss)));
    let mut frontier: Vec<SeriesPoint> = Vec::new();
    for p in sorted {
        if frontier.last().is_none_or(|last| p.loss < last.loss) {
            frontier.push(p);
        }
    }
    frontier
}

/// The colour of every compared method, by its place among them (`searched` first); the
/// same in both panels.
fn colours(all: &BTreeMap<Method, Vec<SeriesPoint>>) -> BTreeMap<Method, RGBColor> {
    all.keys()
        .filter(|m| **m != Method::Full)
        .enumerate()
        .map(|(i, m)| (*m, PALETTE[i % PALETTE.len()]))
        .collect()
}

/// A loss tick label with four decimals, never "-0.0000".
fn loss_label(l: f64) -> String {
    let l = if l.abs() < 5e-5 { 0.0 } else { l };
    format!("{l:.4}")
}

/// Every compressed run with a prediction: (method, predicted Δloss, measured Δloss against
/// the full model of the same seed, or of the mean over seeds without one).
fn predictions(results: &Results) -> Vec<(Method, f64, f64)> {
    let Some(full) = results.full_losses() else {
        return Vec::new();
    };
    results
        .runs
        .iter()
        .filter_map(|r| Some((r.method, r.predicted_loss?, full.increase(r))))
        .collect()
}

fn draw_results<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, results: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    area.fill(&WHITE).map_err(err)?;
    let all = series(results);
    if all.values().all(Vec::is_empty) {
        bail!("the results hold no runs to plot");
    }
    let colours = colours(&all);
    let predicted = predictions(results);
    if predicted.is_empty() {
        draw_memory(area, results, &all, &colours)?;
    } else {
        let (left, right) = area.split_horizontally(WIDTH * 64 / 100);
        draw_memory(&left, results, &all, &colours)?;
        draw_predictions(&right, &predicted, &colours)?;
    }
    area.present().map_err(err)?;
    Ok(())
}

/// The main panel: memory against validation loss.
fn draw_memory<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    results: &Results,
    all: &BTreeMap<Method, Vec<SeriesPoint>>,
    colours: &BTreeMap<Method, RGBColor>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    let full_loss = all
        .get(&Method::Full)
        .map(|pts| pts.iter().map(|p| p.loss).sum::<f64>() / pts.len() as f64);
    let points: Vec<SeriesPoint> = all.values().flatten().copied().collect();
    let (x_lo, x_hi, y_range) = extent(&points);
    let title = format!(
        "Memory vs log-loss — {} on {}",
        results.schema,
        short(&results.data, 44)
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 17))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x_lo..x_hi, y_range)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("embedding + optimizer bytes (log scale)")
        .y_desc("validation log-loss")
        .x_labels(((x_hi - x_lo).ceil() as usize + 1).min(12))
        .x_label_formatter(&|x| power_of_two_label(*x))
        .y_label_formatter(&|l| loss_label(*l))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    if let Some(full) = full_loss {
        let style = ShapeStyle::from(&BLACK).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                [(x_lo, full), (x_hi, full)],
                10,
                6,
                style,
            ))
            .map_err(err)?
            .label(format!("full model (reference) {}", loss_label(full)))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    // Rings around the frontier's points, drawn first so the points stay visible inside.
    let ring = ShapeStyle::from(&BLACK).stroke_width(1);
    chart
        .draw_series(
            pareto_frontier(&points)
                .iter()
                .map(|p| Circle::new((p.bytes.log2(), p.loss), 10, ring)),
        )
        .map_err(err)?
        .label("Pareto frontier")
        .legend(move |(x, y)| Circle::new((x + 10, y), 6, ring));
    if let Some(full) = all.get(&Method::Full) {
        chart
            .draw_series(
                full.iter()
                    .map(|p| Circle::new((p.bytes.log2(), p.loss), 4, BLACK.filled())),
            )
            .map_err(err)?;
    }
    for (method, pts) in all.iter().filter(|(m, _)| **m != Method::Full) {
        draw_method(&mut chart, &method.name(), pts, colours[method])?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

/// The second panel: each run's measured loss increase against the planner's prediction,
/// with the line where they agree.
fn draw_predictions<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    runs: &[(Method, f64, f64)],
    colours: &BTreeMap<Method, RGBColor>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    let lo = runs.iter().flat_map(|r| [r.1, r.2]).fold(0.0, f64::min);
    let hi = runs.iter().flat_map(|r| [r.1, r.2]).fold(1e-4, f64::max);
    let pad = (hi - lo) * 0.08;
    let range = (lo - pad)..(hi + pad);
    let mut chart = ChartBuilder::on(area)
        .caption("predicted vs measured Δ log-loss", ("sans-serif", 15))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(range.clone(), range)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("predicted (quality model)")
        .y_desc("measured (vs full, same seed)")
        .x_labels(5)
        .y_labels(6)
        .x_label_formatter(&|l| loss_label(*l))
        .y_label_formatter(&|l| loss_label(*l))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    let grey = ShapeStyle::from(&BLACK.mix(0.5)).stroke_width(1);
    chart
        .draw_series(DashedLineSeries::new(
            [(lo - pad, lo - pad), (hi + pad, hi + pad)],
            6,
            4,
            grey,
        ))
        .map_err(err)?;
    chart
        .draw_series(runs.iter().map(|&(m, p, measured)| {
            let c = colours.get(&m).copied().unwrap_or(RGBColor(90, 90, 90));
            Circle::new((p, measured), 4, c.filled())
        }))
        .map_err(err)?;
    Ok(())
}

/// `text` cut to `max` characters with an ellipsis (long data paths in titles).
fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let tail: String = text
        .chars()
        .rev()
        .take(max - 1)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

/// A chart over (log2 bytes, loss).
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One method's line, points and spread bars over repeats, with its legend entry.
fn draw_method<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    name: &str,
    pts: &[SeriesPoint],
    color: RGBColor,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    let line = ShapeStyle::from(&color).stroke_width(2);
    chart
        .draw_series(LineSeries::new(
            pts.iter().map(|p| (p.bytes.log2(), p.loss)),
            line,
        ))
        .map_err(err)?
        .label(name)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], line));
    chart
        .draw_series(
            pts.iter()
                .map(|p| Circle::new((p.bytes.log2(), p.loss), 4, color.filled())),
        )
        .map_err(err)?;
    chart
        .draw_series(
            pts.iter()
                .filter(|p| p.high > p.low)
                .map(|p| ErrorBar::new_vertical(p.bytes.log2(), p.low, p.loss, p.high, color, 8)),
        )
        .map_err(err)?;
    Ok(())
}

/// The chart's x range (log2 bytes, whole powers of two around the points) and its y range
/// (every point's spread, padded 8%). The x axis is log2(bytes) on a linear scale, so ticks
/// land on powers of two and read as whole IEC sizes (4 MiB, 8 MiB, …).
fn extent(points: &[SeriesPoint]) -> (f64, f64, std::ops::Range<f64>) {
    let min_b = points.iter().map(|p| p.bytes).fold(f64::INFINITY, f64::min);
    let max_b = points.iter().map(|p| p.bytes).fold(0.0, f64::max);
    let min_l = points.iter().map(|p| p.low).fold(f64::INFINITY, f64::min);
    let max_l = points
        .iter()
        .map(|p| p.high)
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = ((max_l - min_l) * 0.08).max(1e-3);
    let (x_lo, x_hi) = ((min_b.log2() - 0.5).floor(), (max_b.log2() + 0.5).ceil());
    (x_lo, x_hi, (min_l - pad)..(max_l + pad))
}

/// Draws a sweep's memory-versus-loss plot to `path` (.png or .svg).
pub fn plot_results(results: &Results, path: &Path) -> Result<()> {
    write_image(
        path,
        (WIDTH, HEIGHT),
        |svg| draw_results(svg, results),
        |bmp| draw_results(bmp, results),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(bytes: f64, loss: f64) -> SeriesPoint {
        SeriesPoint {
            bytes,
            loss,
            low: loss,
            high: loss,
        }
    }

    #[test]
    fn frontier_keeps_only_undominated_points() {
        let pts = [pt(10.0, 0.6), pt(20.0, 0.65), pt(30.0, 0.55), pt(5.0, 0.7)];
        let f: Vec<f64> = pareto_frontier(&pts).iter().map(|p| p.bytes).collect();
        assert_eq!(f, vec![5.0, 10.0, 30.0]);
    }
}
