//! Turns a `PlanTrace` into coloured line strips: samples by score, elites, the mean plan, the
//! executed path and the "ghost" (what an older plan predicted versus what happened).

use crate::plan::PlanTrace;

use super::colormap::{viridis, warm};

/// Which drawing layer a strip belongs to (each can be toggled; widths differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Sample,
    Elite,
    Mean,
    Executed,
    Ghost,
}

/// A polyline with one colour (RGBA, sRGB).
#[derive(Clone, Debug, PartialEq)]
pub struct Strip {
    pub layer: Layer,
    pub points: Vec<[f32; 3]>,
    pub colour: [f32; 4],
}

/// What to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceOptions {
    pub samples: bool,
    pub elites: bool,
    pub mean: bool,
    pub executed: bool,
    pub ghost: bool,
    /// At most this many non-elite samples are drawn (evenly spread over the batch).
    pub max_samples: usize,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions { samples: true, elites: true, mean: true, executed: true, ghost: true, max_samples: 64 }
    }
}

pub const MEAN_COLOUR: [f32; 4] = [1.0, 1.0, 1.0, 1.0];
pub const EXECUTED_COLOUR: [f32; 4] = [1.0, 0.35, 0.2, 1.0];
pub const GHOST_COLOUR: [f32; 4] = [0.6, 0.85, 1.0, 0.8];
const SAMPLE_ALPHA: f32 = 0.45;

/// Scores mapped to [0, 1] over the finite range (all equal -> 1; non-finite -> 0).
pub fn normalised_scores(scores: &[f32]) -> Vec<f32> {
    let finite = scores.iter().copied().filter(|s| s.is_finite());
    let (lo, hi) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), s| (lo.min(s), hi.max(s)));
    scores
        .iter()
        .map(|&s| match (s.is_finite(), hi > lo) {
            (false, _) => 0.0,
            (true, true) => (s - lo) / (hi - lo),
            (true, false) => 1.0,
        })
        .collect()
}

/// Points of drawn point `k` along a [step][point] array.
fn path(points: &[[f32; 3]], point_count: usize, k: usize) -> Vec<[f32; 3]> {
    points.chunks(point_count).map(|step| step[k]).collect()
}

/// How one plan's strips are coloured: samples by score on `map`, the mean plan in `mean`.
#[derive(Clone, Copy, Debug)]
pub struct Palette {
    pub map: fn(f32) -> [f32; 3],
    pub mean: [f32; 4],
}

/// The studio's plans (and plan A of an A/B comparison).
pub const COOL: Palette = Palette { map: viridis, mean: MEAN_COLOUR };
/// Plan B of an A/B comparison.
pub const WARM: Palette = Palette { map: warm, mean: [1.0, 0.9, 0.3, 1.0] };

/// Strips for one plan: one per (sequence, drawn point), plus the mean plan's.
pub fn plan_strips(trace: &PlanTrace, options: &TraceOptions) -> Vec<Strip> {
    plan_strips_in(trace, options, COOL)
}

/// [`plan_strips`] in another palette.
pub fn plan_strips_in(trace: &PlanTrace, options: &TraceOptions, palette: Palette) -> Vec<Strip> {
    let mut strips = Vec::new();
    let pc = trace.point_count;
    if pc == 0 || trace.points.is_empty() {
        return strips;
    }
    let shades = normalised_scores(&trace.scores);
    let count = trace.sequence_count();
    let non_elite = (0..count).filter(|&n| !trace.elite[n]).count();
    let stride = non_elite.div_ceil(options.max_samples.max(1)).max(1);
    let mut non_elite_seen = 0;
    // Worst first, so better plans are drawn on top.
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by(|&a, &b| shades[a].total_cmp(&shades[b]));
    for n in order {
        let elite = trace.elite[n];
        let draw = if elite {
            options.elites
        } else {
            let keep = options.samples && options.max_samples > 0 && non_elite_seen % stride == 0;
            non_elite_seen += 1;
            keep
        };
        if !draw {
            continue;
        }
        let [r, g, b] = (palette.map)(shades[n]);
        let (layer, alpha) = if elite { (Layer::Elite, 1.0) } else { (Layer::Sample, SAMPLE_ALPHA) };
        for k in 0..pc {
            strips.push(Strip { layer, points: path(trace.points_of(n), pc, k), colour: [r, g, b, alpha] });
        }
    }
    if options.mean && !trace.mean_points.is_empty() {
        for k in 0..pc {
            strips.push(Strip { layer: Layer::Mean, points: path(&trace.mean_points, pc, k), colour: palette.mean });
        }
    }
    strips
}

/// Strips for the executed path (recent drawn points, oldest first) and the ghost comparison.
pub fn history_strips(
    executed: &[Vec<[f32; 3]>],
    ghost: Option<&[Vec<[f32; 3]>]>,
    options: &TraceOptions,
) -> Vec<Strip> {
    let mut strips = Vec::new();
    let point_count = executed.first().map_or(0, Vec::len);
    if options.executed && executed.len() >= 2 {
        for k in 0..point_count {
            strips.push(Strip {
                layer: Layer::Executed,
                points: executed.iter().map(|p| p[k]).collect(),
                colour: EXECUTED_COLOUR,
            });
        }
    }
    if let (true, Some(ghost)) = (options.ghost, ghost)
        && ghost.len() >= 2
    {
        for k in 0..ghost[0].len() {
            strips.push(Strip {
                layer: Layer::Ghost,
                points: ghost.iter().map(|p| p[k]).collect(),
                colour: GHOST_COLOUR,
            });
        }
    }
    strips
}
