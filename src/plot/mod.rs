//! Plots: memory against measured loss for a sweep ([`sweep`]), planned against full bytes per
//! feature ([`plan`]), and the coverage curves of a profiled schema ([`profile`]).
//!
//! Text is drawn with the bundled DejaVu Sans (registered once as "sans-serif"), so plots
//! render on a machine with no fonts installed and are byte-identical across runs.
//! The format follows the output path's extension: `.png` or `.svg`.

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, Result, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

pub mod plan;
pub mod profile;
pub mod sweep;

pub use plan::plot_plan;
pub use profile::plot_profile;
pub use sweep::{SeriesPoint, pareto_frontier, plot_results, series};

/// Plot width in pixels.
pub const WIDTH: u32 = 960;
/// Plot height in pixels.
pub const HEIGHT: u32 = 600;

static FONT: Once = Once::new();

pub(crate) fn register_font() {
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

pub(crate) const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];

/// Draws a chart's legend in a framed, nearly opaque box at `position`.
pub(crate) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .position(position)
        .draw()
        .map_err(|e| anyhow::anyhow!("drawing failed: {e:?}"))
}

/// An axis label for log2(bytes) = x: a whole IEC size at powers of two, else blank.
pub(crate) fn power_of_two_label(x: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    binary_parts(x).map_or(String::new(), |(m, p)| format!("{m} {}", units[p]))
}

/// 2^x as (mantissa, prefix index) with 2^x = mantissa × 1024^index, for axis labels;
/// `None` between powers of two and outside [0, 64).
pub(crate) fn binary_parts(x: f64) -> Option<(u64, usize)> {
    if (x - x.round()).abs() > 1e-6 || !(0.0..64.0).contains(&x) {
        return None;
    }
    let exp = x.round() as u32;
    Some((1u64 << (exp % 10), (exp / 10) as usize))
}

pub(crate) fn write_image(
    path: &Path,
    (width, height): (u32, u32),
    svg: impl Fn(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
    bitmap: impl Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    register_font();
    let bytes = match image_format(path)? {
        ImageFormat::Svg => {
            let mut text = String::new();
            {
                let area = SVGBackend::with_string(&mut text, (width, height)).into_drawing_area();
                svg(&area)?;
            }
            text.into_bytes()
        }
        ImageFormat::Png => {
            let mut rgb = vec![0u8; width as usize * height as usize * 3];
            {
                let area =
                    BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
                bitmap(&area)?;
            }
            encode_png(&rgb, width, height)?
        }
    };
    crate::output::write_atomic(path, &bytes)
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
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

    #[test]
    fn powers_of_two_read_as_iec() {
        assert_eq!(power_of_two_label(0.0), "1 B");
        assert_eq!(power_of_two_label(22.0), "4 MiB");
        assert_eq!(power_of_two_label(30.0), "1 GiB");
        assert_eq!(power_of_two_label(22.5), "");
    }
}
