//! Plots: memory against measured loss for a sweep, and per-feature bytes of a plan.
//!
//! Text is drawn with the bundled DejaVu Sans (registered once as "sans-serif"), so plots
//! render on a machine with no fonts installed and are byte-identical across runs.
//! The format follows the output path's extension: `.png` or `.svg`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use anyhow::{Context, Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::plan::Plan;
use crate::results::{Method, Results};
use crate::size::format_iec;

/// Plot width in pixels.
pub const WIDTH: u32 = 960;
/// Plot height in pixels.
pub const HEIGHT: u32 = 600;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        // The bundled font is a valid TTF; failure here would be a packaging bug.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// Image formats a plot can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageFormat {
    Png,
    Svg,
}

fn image_format(path: &Path) -> Result<ImageFormat> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => Ok(ImageFormat::Png),
        Some("svg") => Ok(ImageFormat::Svg),
        _ => bail!("'{}': a plot file must end in .png or .svg", path.display()),
    }
}

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

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];

fn draw_results<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, results: &Results) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    area.fill(&WHITE).map_err(err)?;
    let all = series(results);
    let full_loss = all
        .get(&Method::Full)
        .map(|pts| pts.iter().map(|p| p.loss).sum::<f64>() / pts.len() as f64);
    let points: Vec<SeriesPoint> = all.values().flatten().copied().collect();
    if points.is_empty() {
        bail!("the results hold no runs to plot");
    }
    let (x_lo, x_hi, y_range) = extent(&points);
    let title = format!(
        "Memory vs validation log-loss — schema {}, data {}",
        results.schema, results.data
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x_lo..x_hi, y_range)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("embedding + optimizer bytes (log scale)")
        .y_desc("validation log-loss")
        .x_labels(((x_hi - x_lo).ceil() as usize + 1).min(24))
        .x_label_formatter(&|x| power_of_two_label(*x))
        .y_label_formatter(&|l| format!("{l:.4}"))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    if let Some(full) = full_loss {
        let style = ShapeStyle::from(&BLACK.mix(0.6)).stroke_width(1);
        chart
            .draw_series(LineSeries::new([(x_lo, full), (x_hi, full)], style))
            .map_err(err)?
            .label("full model (reference)")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    // Colours by the method's place among the compared ones: `searched` is always the first.
    for (i, (method, pts)) in all.iter().filter(|(m, _)| **m != Method::Full).enumerate() {
        draw_method(&mut chart, &method.name(), pts, PALETTE[i % PALETTE.len()])?;
    }
    let frontier = pareto_frontier(&points);
    let dashed = ShapeStyle::from(&BLACK).stroke_width(1);
    chart
        .draw_series(
            frontier
                .iter()
                .map(|p| Cross::new((p.bytes.log2(), p.loss), 7, dashed)),
        )
        .map_err(err)?
        .label("Pareto frontier")
        .legend(move |(x, y)| Cross::new((x + 10, y), 5, dashed));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    area.present().map_err(err)?;
    Ok(())
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

/// An axis label for log2(bytes) = x: a whole IEC size at powers of two, else blank.
fn power_of_two_label(x: f64) -> String {
    if (x - x.round()).abs() > 1e-6 || !(0.0..64.0).contains(&x) {
        return String::new();
    }
    let bytes = 1u64 << (x.round() as u32);
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let exp = x.round() as u32;
    format!(
        "{} {}",
        bytes >> (exp / 10 * 10),
        units[(exp / 10) as usize]
    )
}

fn draw_plan<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, plan: &Plan) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    area.fill(&WHITE).map_err(err)?;
    let costs = plan.costs()?;
    let mut by_family: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (f, c) in plan.features.iter().zip(&costs.features) {
        let hot = if f.scheme().hot() > 0 { "hot+" } else { "" };
        let label = match f.combiner() {
            Some(comb) => format!("{hot}{} {comb}", f.scheme().family()),
            None => format!("{hot}{}", f.scheme().family()),
        };
        by_family
            .entry(label)
            .or_default()
            .push((f.cardinality() as f64, (c.bytes as f64).max(1.0)));
    }
    let xs = plan.features.iter().map(|f| f.cardinality() as f64);
    let max_n = xs.clone().fold(1.0, f64::max);
    let min_n = xs.fold(f64::INFINITY, f64::min).max(1.0);
    let ys = by_family.values().flatten().map(|p| p.1);
    let max_b = ys.clone().fold(1.0, f64::max);
    let min_b = ys.fold(f64::INFINITY, f64::min);
    let title = format!(
        "Per-feature bytes vs cardinality — {}",
        plan.name.as_deref().unwrap_or("plan")
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(84)
        .build_cartesian_2d(
            (min_n / 2.0..max_n * 2.0).log_scale(),
            (min_b / 2.0..max_b * 2.0).log_scale(),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("cardinality (log scale)")
        .y_desc("bytes (log scale)")
        .x_label_formatter(&|n| format!("{n:.0e}"))
        .y_label_formatter(&|b| format_iec(*b as u64))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    for (i, (label, pts)) in by_family.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 5, color.filled())))
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    area.present().map_err(err)?;
    Ok(())
}

/// Draws a sweep's memory-versus-loss plot to `path` (.png or .svg).
pub fn plot_results(results: &Results, path: &Path) -> Result<()> {
    write_image(
        path,
        |svg| draw_results(svg, results),
        |bmp| draw_results(bmp, results),
    )
}

/// Draws a plan's per-feature bytes against cardinality to `path` (.png or .svg).
pub fn plot_plan(plan: &Plan, path: &Path) -> Result<()> {
    write_image(path, |svg| draw_plan(svg, plan), |bmp| draw_plan(bmp, plan))
}

fn write_image(
    path: &Path,
    svg: impl Fn(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
    bitmap: impl Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    register_font();
    let bytes = match image_format(path)? {
        ImageFormat::Svg => {
            let mut text = String::new();
            {
                let area = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
                svg(&area)?;
            }
            text.into_bytes()
        }
        ImageFormat::Png => {
            let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
            {
                let area =
                    BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
                bitmap(&area)?;
            }
            encode_png(&rgb)?
        }
    };
    crate::output::write_atomic(path, &bytes)
}

fn encode_png(rgb: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("cannot encode PNG")?;
        writer.write_image_data(rgb).context("cannot encode PNG")?;
    }
    Ok(out)
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
    fn powers_of_two_read_as_iec() {
        assert_eq!(power_of_two_label(0.0), "1 B");
        assert_eq!(power_of_two_label(22.0), "4 MiB");
        assert_eq!(power_of_two_label(30.0), "1 GiB");
        assert_eq!(power_of_two_label(22.5), "");
    }

    #[test]
    fn frontier_keeps_only_undominated_points() {
        let pts = [pt(10.0, 0.6), pt(20.0, 0.65), pt(30.0, 0.55), pt(5.0, 0.7)];
        let f: Vec<f64> = pareto_frontier(&pts).iter().map(|p| p.bytes).collect();
        assert_eq!(f, vec![5.0, 10.0, 30.0]);
    }
}
