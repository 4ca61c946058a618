//! The gait controls: plan around the scene's nominal schedule or not, and retune its period
//! and amplitude live (the next plan uses them, like every planner setting).

use bevy_egui::egui;

use super::panels::{WidgetRects, named_slider};
use crate::config::{PeriodicNominal, PlannerSettings};

/// Widgets for `settings.nominal`; `scene_gait` is what ticking the box brings back (a preset
/// without a schedule unticks it). Shows nothing when neither has a schedule. Returns the
/// rects of the named widgets.
pub fn gait_controls(
    ui: &mut egui::Ui,
    settings: &mut PlannerSettings,
    scene_gait: Option<&PeriodicNominal>,
) -> WidgetRects {
    let mut rects = WidgetRects::new();
    let Some(fallback) = settings.nominal.clone().or_else(|| scene_gait.cloned()) else {
        return rects;
    };
    let mut on = settings.nominal.is_some();
    let toggle = ui.checkbox(&mut on, "plan around the gait").on_hover_text(
        "The plan is a correction to the scene's periodic gait: a zero correction walks the gait open loop.",
    );
    rects.insert("gait_toggle", toggle.rect);
    if toggle.changed() {
        settings.nominal = on.then_some(fallback);
    }
    let Some(gait) = settings.nominal.as_mut() else {
        return rects;
    };
    named_slider(
        ui,
        &mut rects,
        "gait_period",
        egui::Slider::new(&mut gait.period_steps, 2.0..=40.0).text("gait period (steps)"),
        "Control steps per gait cycle.",
    );
    // One slider for the largest amplitude; the others keep their proportions to it.
    let largest = gait.amplitude.iter().fold(0.0f32, |m, a| m.max(a.abs()));
    if largest > 0.0 {
        let mut edited = largest;
        named_slider(
            ui,
            &mut rects,
            "gait_amplitude",
            egui::Slider::new(&mut edited, 0.01..=1.0).text("gait amplitude"),
            "Largest swing of the gait, in action units; the other joints scale with it.",
        );
        if edited != largest {
            let scale = edited / largest;
            gait.amplitude.iter_mut().for_each(|a| *a *= scale);
        }
    }
    rects
}
