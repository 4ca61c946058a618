//! Learning curves: mean eval return over seeds against env steps, with a min–max band per mode,
//! drawn once with plotters into an RGB buffer (encoded as PNG) and once as SVG. Text uses a font
//! compiled into the binary (egui's Ubuntu Light), so no system fonts are needed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use anyhow::{Context, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::SeedCurve;

/// Picture size in pixels (SVG user units).
const SIZE: (u32, u32) = (1000, 620);

/// Line colours by mode position (a colour-blind-friendly qualitative set).
const COLOURS: [(u8, u8, u8); 6] =
    [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207)];

/// The line colour of the `k`-th mode.
pub fn mode_colour(k: usize) -> (u8, u8, u8) {
    COLOURS[k % COLOURS.len()]
}

/// One mode's curve over seeds: at each evaluated env-step count, the mean, min and max over the
/// seeds evaluated there.
#[derive(Clone, Debug, PartialEq)]
pub struct ModeBand {
    pub mode: String,
    pub seeds: usize,
    pub steps: Vec<u64>,
    pub mean: Vec<f64>,
    pub min: Vec<f64>,
    pub max: Vec<f64>,
}

/// Groups the curves by mode (in `modes` order) and aggregates them per env-step count.
pub fn mode_bands(curves: &[SeedCurve], modes: &[String]) -> Vec<ModeBand> {
    modes
        .iter()
        .map(|mode| {
            let runs: Vec<&SeedCurve> = curves.iter().filter(|c| &c.mode == mode).collect();
            let mut by_step: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            for point in runs.iter().flat_map(|c| &c.points) {
                by_step.entry(point.env_steps).or_default().push(point.mean);
            }
            let mut band = ModeBand {
                mode: mode.clone(),
                seeds: runs.len(),
                steps: Vec::new(),
                mean: Vec::new(),
                min: Vec::new(),
                max: Vec::new(),
            };
            for (step, values) in by_step {
                band.steps.push(step);
                band.mean.push(values.iter().sum::<f64>() / values.len() as f64);
                band.min.push(values.iter().copied().fold(f64::INFINITY, f64::min));
                band.max.push(values.iter().copied().fold(f64::NEG_INFINITY, f64::max));
            }
            band
        })
        .collect()
}

fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        for family in ["sans-serif", "serif", "monospace"] {
            // The bytes are a valid TrueType font compiled into the binary.
            let _ = register_font(family, FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT);
        }
    });
}

/// Axis ranges with a margin: steps from 0, returns padded by 5 % of their span.
fn ranges(bands: &[ModeBand]) -> (f64, f64, f64) {
    let x_max = bands.iter().flat_map(|b| b.steps.iter().copied()).max().unwrap_or(1).max(1) as f64;
    let finite = |v: &&f64| v.is_finite();
    let lo = bands.iter().flat_map(|b| b.min.iter()).filter(finite).copied().fold(f64::INFINITY, f64::min);
    let hi = bands.iter().flat_map(|b| b.max.iter()).filter(finite).copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi.is_finite() { (lo, hi) } else { (-1.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1.0);
    (x_max, lo - pad, hi + pad)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    bands: &[ModeBand],
    threshold: Option<f64>,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (x_max, mut y_min, mut y_max) = ranges(bands);
    if let Some(t) = threshold.filter(|t| t.is_finite()) {
        (y_min, y_max) = (y_min.min(t - 1.0), y_max.max(t + 1.0));
    }
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 26))
        .margin(18)
        .x_label_area_size(52)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)?;
    chart
        .configure_mesh()
        .x_desc("env steps")
        .y_desc("eval return (mean over eval episodes)")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(WHITE)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    let colour = |k: usize| {
        let (r, g, b) = mode_colour(k);
        RGBColor(r, g, b)
    };
    let xs = |band: &ModeBand| band.steps.iter().map(|&s| s as f64).collect::<Vec<f64>>();
    // Every band before any line, so no band hides another mode's mean.
    for (k, band) in bands.iter().enumerate() {
        let mut outline: Vec<(f64, f64)> = xs(band).into_iter().zip(band.max.iter().copied()).collect();
        outline.extend(xs(band).into_iter().zip(band.min.iter().copied()).rev());
        chart.draw_series(std::iter::once(Polygon::new(outline, colour(k).mix(0.18).filled())))?;
    }
    for (k, band) in bands.iter().enumerate() {
        let seeds = if band.seeds == 1 { "1 seed".to_string() } else { format!("{} seeds", band.seeds) };
        let label = format!("{}: mean of {seeds}, band = min–max over seeds", band.mode);
        let line = colour(k).stroke_width(3);
        chart
            .draw_series(LineSeries::new(xs(band).into_iter().zip(band.mean.iter().copied()), line))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line));
    }
    if let Some(t) = threshold.filter(|t| t.is_finite()) {
        let grey = RGBColor(90, 90, 90);
        chart
            .draw_series(DashedLineSeries::new([(0.0, t), (x_max, t)], 10, 6, grey.stroke_width(2)))?
            .label(format!("threshold {t:.1}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], grey.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(150, 150, 150))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Writes the learning-curve plot as `png` and `svg`, with the threshold as a dashed line if given.
pub fn write_curves(
    png: &Path,
    svg: &Path,
    title: &str,
    bands: &[ModeBand],
    threshold: Option<f64>,
) -> anyhow::Result<()> {
    register_fonts();
    let (w, h) = SIZE;
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        draw(&root, title, bands, threshold).context("cannot draw the PNG plot")?;
    }
    write_png(png, &pixels, SIZE)?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        draw(&root, title, bands, threshold).context("cannot draw the SVG plot")?;
    }
    std::fs::write(svg, text).with_context(|| format!("cannot write {}", svg.display()))
}

fn write_png(path: &Path, rgb: &[u8], (w, h): (u32, u32)) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    writer.write_image_data(rgb).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    writer.finish().map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}
