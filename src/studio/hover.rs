//! Hovering a drawn trajectory: the sample whose drawn path passes nearest the cursor (within a
//! few pixels on screen) is highlighted, and a tooltip shows its score, weight, elite and prior
//! flags and its first actions.

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::StudioSet;
use super::experiment::Experiment;
use super::view::{ThickLines, TraceSettings};
use crate::plan::PlanTrace;

/// A drawn path within this many pixels of the cursor counts as hovered.
pub const HOVER_PIXELS: f32 = 6.0;

/// The hovered sample of the shown plan, and where the cursor is (window pixels).
#[derive(Resource, Default, Debug, Clone, PartialEq)]
pub struct Hovered {
    pub sample: Option<usize>,
    pub cursor: Option<Vec2>,
}

pub struct HoverPlugin;

impl Plugin for HoverPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Hovered>()
            .add_systems(Update, find_hovered.in_set(StudioSet::View))
            .add_systems(EguiPrimaryContextPass, tooltip);
    }
}

/// The plan the 3D view shows: the scrubbed step's, else the last one.
fn shown_trace(experiment: &Experiment) -> Option<&PlanTrace> {
    match experiment.history.timeline.shown() {
        Some(frame) => frame.trace.as_ref(),
        None => experiment.history.last_trace.as_ref(),
    }
}

/// The sample whose drawn path (any drawn point's) comes nearest `cursor` on screen, if within
/// `max_pixels`; `project` maps a world point to screen pixels (None: behind the camera).
pub fn nearest_sample(
    trace: &PlanTrace,
    project: impl Fn([f32; 3]) -> Option<Vec2>,
    cursor: Vec2,
    max_pixels: f32,
) -> Option<usize> {
    let (pc, steps) = (trace.point_count, trace.horizon + 1);
    if pc == 0 || trace.points.is_empty() {
        return None;
    }
    let mut best: Option<(f32, usize)> = None;
    for n in 0..trace.sequence_count() {
        let points = trace.points_of(n);
        for k in 0..pc {
            let screen: Vec<Option<Vec2>> = (0..steps).map(|h| project(points[h * pc + k])).collect();
            for pair in screen.windows(2) {
                let (Some(a), Some(b)) = (pair[0], pair[1]) else { continue };
                let d = segment_distance(cursor, a, b);
                if d <= max_pixels && best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, n));
                }
            }
        }
    }
    best.map(|(_, n)| n)
}

/// Distance from `p` to the segment `a`–`b`.
fn segment_distance(p: Vec2, a: Vec2, b: Vec2) -> f32 {
    let ab = b - a;
    let t = if ab.length_squared() > 0.0 { ((p - a).dot(ab) / ab.length_squared()).clamp(0.0, 1.0) } else { 0.0 };
    p.distance(a + ab * t)
}

/// What the tooltip says about sample `n`.
pub fn sample_summary(trace: &PlanTrace, n: usize) -> String {
    let mut text = format!(
        "sample {n}{}: score {:.3}, weight {:.4}{}",
        if trace.is_prior.get(n).copied().unwrap_or(false) { " (policy prior)" } else { "" },
        trace.scores[n],
        trace.weights[n],
        if trace.elite[n] { ", elite" } else { "" },
    );
    let actions = trace.sequence(n);
    for (h, step) in actions.chunks(trace.action_dim.max(1)).take(3).enumerate() {
        let values: Vec<String> = step.iter().map(|a| format!("{a:+.2}")).collect();
        text += &format!("\nstep {h}: [{}]", values.join(", "));
    }
    if trace.horizon > 3 {
        text += &format!("\n… {} more steps", trace.horizon - 3);
    }
    text
}

fn find_hovered(
    experiment: Res<Experiment>,
    settings: Res<TraceSettings>,
    windows: Query<&Window, With<PrimaryWindow>>,
    cameras: Query<(&Camera, &GlobalTransform), With<Camera3d>>,
    mut hovered: ResMut<Hovered>,
    mut gizmos: Gizmos<ThickLines>,
) {
    let cursor = windows.single().ok().and_then(Window::cursor_position);
    let found = match (shown_trace(&experiment), cursor, cameras.single()) {
        (Some(trace), Some(cursor), Ok((camera, transform))) if !settings.hidden => {
            let project = |p: [f32; 3]| camera.world_to_viewport(transform, Vec3::from_array(p)).ok();
            nearest_sample(trace, project, cursor, HOVER_PIXELS)
        }
        _ => None,
    };
    let next = Hovered { sample: found, cursor };
    if *hovered != next {
        *hovered = next;
    }
    if let (Some(n), Some(trace)) = (hovered.sample, shown_trace(&experiment)) {
        let (pc, points) = (trace.point_count, trace.points_of(n));
        for k in 0..pc {
            let path = (0..=trace.horizon).map(|h| Vec3::from_array(points[h * pc + k]));
            gizmos.linestrip(path, Color::srgb(1.0, 0.2, 1.0));
        }
    }
}

fn tooltip(mut contexts: EguiContexts, experiment: Res<Experiment>, hovered: Res<Hovered>) -> Result {
    let (Some(n), Some(cursor), Some(trace)) = (hovered.sample, hovered.cursor, shown_trace(&experiment)) else {
        return Ok(());
    };
    if n >= trace.sequence_count() {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    egui::Area::new("hovered-sample".into()).fixed_pos(egui::pos2(cursor.x + 14.0, cursor.y + 10.0)).show(ctx, |ui| {
        egui::Frame::popup(ui.style())
            .show(ui, |ui| ui.label(egui::RichText::new(sample_summary(trace, n)).monospace()));
    });
    Ok(())
}
