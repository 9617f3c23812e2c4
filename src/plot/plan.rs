//! The plan plot: one row per feature, largest full table first, its full bytes (grey) behind
//! its planned bytes (coloured by family) on a log2 byte axis, labelled with its scheme and
//! compression; the plan's total on top, the budget as a dashed line.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{PALETTE, WIDTH, draw_legend, power_of_two_label, write_image};
use crate::family::Family;
use crate::partition::Scheme;
use crate::plan::Plan;
use crate::size::format_iec;

/// Features drawn one per row; beyond this the smallest are summed into one row.
pub const MAX_ROWS: usize = 40;

/// One row: a label, full and planned bytes, the scheme text and its colour's family.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Feature name (or `total`, `other N features`).
    pub name: String,
    /// Bytes of the full table; `None` beyond 2^64.
    pub full: Option<u64>,
    /// Bytes the plan gives it.
    pub planned: u64,
    /// The scheme, e.g. `hot(4096)+qr(5) concat`, and the compression.
    pub label: String,
    /// The family that colours the bar (`None`: a summary row).
    pub family: Option<Family>,
}

/// The plot's rows: the total, then features by full bytes (largest first), the smallest
/// summed into one row beyond [`MAX_ROWS`].
pub fn rows(plan: &Plan) -> Result<Vec<Row>> {
    let costs = plan.costs()?;
    let mut features: Vec<Row> = plan
        .features
        .iter()
        .zip(&costs.features)
        .zip(&costs.full_features)
        .map(|((f, c), full)| Row {
            name: f.name().to_string(),
            full: full.map(|x| x.bytes),
            planned: c.bytes,
            label: if *f.scheme() == Scheme::Full {
                "full".into()
            } else {
                with_ratio(f.scheme_label(), full.map(|x| x.bytes), c.bytes)
            },
            family: Some(f.scheme().family()),
        })
        .collect();
    features.sort_by(|a, b| {
        b.full
            .unwrap_or(u64::MAX)
            .cmp(&a.full.unwrap_or(u64::MAX))
            .then_with(|| a.name.cmp(&b.name))
    });
    if features.len() > MAX_ROWS {
        let rest = features.split_off(MAX_ROWS - 1);
        let full = rest
            .iter()
            .try_fold(0u64, |acc, r| acc.checked_add(r.full?));
        let planned = rest.iter().map(|r| r.planned).sum();
        features.push(Row {
            name: format!("other {} features", rest.len()),
            full,
            planned,
            label: with_ratio("smaller features".into(), full, planned),
            family: None,
        });
    }
    let total = costs.full_total.map(|c| c.bytes);
    let mut out = vec![Row {
        name: "total".into(),
        full: total,
        planned: costs.total.bytes,
        label: with_ratio(format_iec(costs.total.bytes), total, costs.total.bytes),
        family: None,
    }];
    out.extend(features);
    Ok(out)
}

/// `label · 4.00×` (the compression against the full table, when it is known).
fn with_ratio(label: String, full: Option<u64>, planned: u64) -> String {
    match full {
        Some(full) if planned > 0 => {
            format!("{label} · {:.2}×", full as f64 / planned as f64)
        }
        _ => label,
    }
}

/// Height in pixels for `rows` rows: room for the title, axis and legend, 22 px a row.
pub fn height(rows: usize) -> u32 {
    u32::try_from(rows).map_or(u32::MAX, |r| 150 + 22 * r)
}

/// The colour of a family's bars (summary rows are dark grey).
fn colour(family: Option<Family>) -> RGBColor {
    let Some(family) = family else {
        return RGBColor(90, 90, 90);
    };
    let i = Family::ALL.iter().position(|f| *f == family).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

fn draw_plan<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plan: &Plan,
    rows: &[Row],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    area.fill(&WHITE).map_err(err)?;
    let budget = plan.planner.as_ref().and_then(|p| p.budget_bytes);
    let log = |b: u64| (b.max(1) as f64).log2();
    let widest = rows
        .iter()
        .map(|r| log(r.full.unwrap_or(u64::MAX).max(r.planned)))
        .chain(budget.map(log))
        .fold(0.0, f64::max);
    let narrowest = rows.iter().map(|r| log(r.planned)).fold(64.0, f64::min);
    let x_lo = (narrowest - 1.0).floor().max(0.0);
    // Room on the right for the scheme labels.
    let x_hi = (widest + 1.0).ceil() + (widest - x_lo) * 0.3;
    let n = i32::try_from(rows.len()).unwrap_or(i32::MAX);
    let title = format!(
        "Planned vs full bytes per feature — {}",
        plan.name.as_deref().unwrap_or("plan")
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(150)
        .build_cartesian_2d(x_lo..x_hi, (0..n).into_segmented())
        .map_err(err)?;
    let name_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => usize::try_from(n - 1 - i)
            .ok()
            .and_then(|r| rows.get(r))
            .map_or(String::new(), |r| r.name.clone()),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("weights + optimizer state (log scale)")
        // Few enough ticks to read: plotters picks round positions (multiples of 1, 2, 5 or
        // 10 powers), each labelled as the power of two it is.
        .x_labels(8)
        .x_label_formatter(&|x| power_of_two_label(*x))
        .y_labels(rows.len())
        .y_label_formatter(&name_of)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    draw_bars(&mut chart, rows, x_lo, x_hi)?;
    if let Some(b) = budget {
        draw_budget(&mut chart, b, n)?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    area.present().map_err(err)?;
    Ok(())
}

/// A chart with log2 bytes across and one segment per row.
type BarChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordi32>>>;

/// The full (grey) and planned (by family) bars of every row, and their labels.
fn draw_bars<DB: DrawingBackend>(
    chart: &mut BarChart<'_, DB>,
    rows: &[Row],
    x_lo: f64,
    x_hi: f64,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    let log = |b: u64| (b.max(1) as f64).log2();
    let n = i32::try_from(rows.len()).unwrap_or(i32::MAX);
    let at = |r: usize| n - 1 - i32::try_from(r).unwrap_or(0);
    let grey = RGBColor(215, 215, 215);
    chart
        .draw_series(rows.iter().enumerate().map(|(r, row)| {
            let end = row.full.map_or(x_hi, log);
            bar(x_lo, end, at(r), grey.filled())
        }))
        .map_err(err)?
        .label("full table")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], grey.filled()));
    for family in Family::ALL {
        let mut drawn = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.family == Some(family));
        if drawn.clone().next().is_none() {
            continue;
        }
        let c = colour(Some(family));
        chart
            .draw_series(
                drawn
                    .by_ref()
                    .map(|(r, row)| bar(x_lo, log(row.planned), at(r), c.filled())),
            )
            .map_err(err)?
            .label(format!("planned: {family}"))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], c.filled()));
    }
    let summary = colour(None);
    chart
        .draw_series(
            rows.iter()
                .enumerate()
                .filter(|(_, r)| r.family.is_none())
                .map(|(r, row)| bar(x_lo, log(row.planned), at(r), summary.filled())),
        )
        .map_err(err)?;
    chart
        .draw_series(rows.iter().enumerate().map(|(r, row)| {
            let end = row.full.map_or(x_hi, log).max(log(row.planned));
            Text::new(
                row.label.clone(),
                (end + 0.15, SegmentValue::CenterOf(at(r))),
                TextStyle::from(("sans-serif", 12).into_font())
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))
        .map_err(err)?;
    Ok(())
}

/// The budget as a dashed vertical line across every row.
fn draw_budget<DB: DrawingBackend>(chart: &mut BarChart<'_, DB>, b: u64, n: i32) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    let log = |b: u64| (b.max(1) as f64).log2();
    let red = RGBColor(200, 30, 30);
    let style = ShapeStyle::from(&red).stroke_width(2);
    chart
        .draw_series(DashedLineSeries::new(
            [
                (log(b), SegmentValue::Exact(0)),
                (log(b), SegmentValue::Exact(n)),
            ],
            8,
            5,
            style,
        ))
        .map_err(err)?
        .label(format!("budget {}", format_iec(b)))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
    Ok(())
}

/// A bar from `x0` to `x1` filling row `y`, inset a little so rows stay apart.
fn bar(x0: f64, x1: f64, y: i32, style: ShapeStyle) -> Rectangle<(f64, SegmentValue<i32>)> {
    let mut r = Rectangle::new(
        [
            (x0, SegmentValue::Exact(y)),
            (x1.max(x0), SegmentValue::Exact(y + 1)),
        ],
        style,
    );
    r.set_margin(3, 3, 0, 0);
    r
}

/// Draws a plan's per-feature bytes to `path` (.png or .svg).
pub fn plot_plan(plan: &Plan, path: &Path) -> Result<()> {
    let rows = rows(plan)?;
    write_image(
        path,
        (WIDTH, height(rows.len())),
        |svg| draw_plan(svg, plan, &rows),
        |bmp| draw_plan(bmp, plan, &rows),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlannedFeature;
    use crate::schema::{Dtype, Optimizer};

    #[test]
    fn rows_put_the_total_first_and_summarise_beyond_the_limit() {
        let features = (0..45u64)
            .map(|i| PlannedFeature::new(&format!("f{i}"), 100 + i, 4, Scheme::Full, None).unwrap())
            .collect();
        let plan = Plan {
            name: None,
            dtype: Dtype::F32,
            optimizer: Optimizer::Sgd,
            features,
            planner: None,
            placement: None,
        };
        let rows = rows(&plan).unwrap();
        assert_eq!(rows.len(), 1 + MAX_ROWS);
        assert_eq!(rows[0].name, "total");
        assert_eq!(rows[1].name, "f44");
        assert_eq!(rows[MAX_ROWS].name, "other 6 features");
        let summed: u64 = (0..6u64).map(|i| (100 + i) * 16).sum();
        assert_eq!(rows[MAX_ROWS].planned, summed);
        assert_eq!(
            rows[1..].iter().map(|r| r.planned).sum::<u64>(),
            rows[0].planned
        );
    }
}
