//! The profile plot: each profiled feature's coverage curve (the share of rows its k most
//! frequent values cover, against k on a log2 axis), and where a plan is given, its hot-row
//! count K marked on the curve of every feature that has one.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{HEIGHT, PALETTE, WIDTH, binary_parts, draw_legend, write_image};
use crate::plan::Plan;
use crate::schema::{Feature, Schema};

/// Features with a legend entry and a colour of their own; the rest are drawn in grey.
pub const MAX_NAMED: usize = 12;

/// A label for k = 2^x: 1, 2, …, 512, 1K, …, 512K, 1M, … (blank between powers of two).
pub fn count_label(x: f64) -> String {
    let prefixes = ["", "K", "M", "G", "T", "P", "E"];
    binary_parts(x).map_or(String::new(), |(m, p)| format!("{m}{}", prefixes[p]))
}

/// The profiled features, most rows first (ties by name).
fn profiled(schema: &Schema) -> Vec<&Feature> {
    let mut out: Vec<&Feature> = schema
        .features
        .iter()
        .filter(|f| f.profile.as_ref().is_some_and(|p| !p.coverage.is_empty()))
        .collect();
    out.sort_by(|a, b| {
        let rows = |f: &Feature| f.profile.as_ref().map_or(0, |p| p.rows);
        rows(b).cmp(&rows(a)).then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// (log2 k, share) points of a feature's coverage curve.
fn curve(f: &Feature) -> Vec<(f64, f64)> {
    let coverage = f.profile.as_ref().map_or(&[][..], |p| &p.coverage[..]);
    coverage
        .iter()
        .enumerate()
        .map(|(i, &c)| (i as f64, c))
        .collect()
}

/// Every (feature, log2 K, share) where the plan keeps K hot rows and the curve measures K.
fn hot_marks(features: &[&Feature], plan: &Plan) -> Vec<(usize, f64, f64)> {
    let mut out = Vec::new();
    for p in &plan.features {
        let k = p.scheme().hot();
        let Some(i) = features.iter().position(|f| f.name == p.name()) else {
            continue;
        };
        if k == 0 {
            continue;
        }
        let x = (k as f64).log2();
        if let Some(share) = crate::plan::explain::coverage_of(Some(features[i]), k) {
            out.push((i, x, share));
        }
    }
    out
}

fn draw_profile<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    schema: &Schema,
    plan: Option<&Plan>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    let features = profiled(schema);
    if features.is_empty() {
        bail!(
            "schema '{}' has no profiled feature (no coverage curve): run `embplan profile` on the data and plot the schema it writes",
            schema.display_name()
        );
    }
    area.fill(&WHITE).map_err(err)?;
    let x_hi = features.iter().map(|f| curve(f).len()).max().unwrap_or(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "Coverage of the most frequent values — {}",
                schema.display_name()
            ),
            ("sans-serif", 18),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_hi, 0.0..1.02)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("the k most frequent values (log scale)")
        .y_desc("share of rows covered")
        .x_labels((x_hi as usize + 1).min(40))
        .x_label_formatter(&|x| count_label(*x))
        .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    let grey = RGBColor(190, 190, 190);
    for f in features.iter().skip(MAX_NAMED).rev() {
        chart
            .draw_series(LineSeries::new(curve(f), grey.stroke_width(1)))
            .map_err(err)?;
    }
    for (i, f) in features.iter().enumerate().take(MAX_NAMED) {
        let c = PALETTE[i % PALETTE.len()];
        let style = if i < PALETTE.len() {
            c.stroke_width(2)
        } else {
            ShapeStyle::from(&c.mix(0.6)).stroke_width(2)
        };
        chart
            .draw_series(LineSeries::new(curve(f), style))
            .map_err(err)?
            .label(f.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
    }
    if let Some(plan) = plan {
        draw_hot_marks(&mut chart, &hot_marks(&features, plan))?;
    }
    if features.len() > MAX_NAMED {
        let rest = features.len() - MAX_NAMED;
        chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
            .map_err(err)?
            .label(format!("{rest} more features (grey)"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], grey.stroke_width(1)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    area.present().map_err(err)?;
    Ok(())
}

/// A chart over (log2 k, share).
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Rings where the plan's hot-row counts meet their features' curves.
fn draw_hot_marks<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    marks: &[(usize, f64, f64)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    if marks.is_empty() {
        return Ok(());
    }
    chart
        .draw_series(
            marks
                .iter()
                .map(|&(_, x, y)| Circle::new((x, y), 6, BLACK.stroke_width(2))),
        )
        .map_err(err)?
        .label("the plan's hot rows K")
        .legend(|(x, y)| Circle::new((x + 9, y), 5, BLACK.stroke_width(2)));
    Ok(())
}

/// Draws a profiled schema's coverage curves to `path` (.png or .svg), with `plan`'s hot-row
/// counts marked when one is given.
pub fn plot_profile(schema: &Schema, plan: Option<&Plan>, path: &Path) -> Result<()> {
    write_image(
        path,
        (WIDTH, HEIGHT),
        |svg| draw_profile(svg, schema, plan),
        |bmp| draw_profile(bmp, schema, plan),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_with_binary_prefixes() {
        assert_eq!(count_label(0.0), "1");
        assert_eq!(count_label(9.0), "512");
        assert_eq!(count_label(10.0), "1K");
        assert_eq!(count_label(22.0), "4M");
        assert_eq!(count_label(2.5), "");
    }
}
