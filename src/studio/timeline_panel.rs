//! The timeline bar under the 3D view: scrub through the current episode, go back to live,
//! and replay the episode from the shown step with the current settings.

use bevy_egui::egui;

use super::experiment::Experiment;
use super::panels::WidgetRects;
use crate::config::RunMode;

/// The bar's widgets; returns their rects.
pub fn timeline_controls(ui: &mut egui::Ui, e: &mut Experiment) -> WidgetRects {
    let mut rects = WidgetRects::new();
    let len = e.history.timeline.len();
    ui.horizontal(|ui| {
        let live = e.history.timeline.cursor.is_none();
        let mut step = e.history.timeline.cursor.unwrap_or(len.saturating_sub(1));
        let slider = ui
            .add_enabled(len > 0, egui::Slider::new(&mut step, 0..=len.saturating_sub(1)).text("step of this episode"))
            .on_hover_text("Scrub back through the episode: the robot, its plan and the plots' cursor at that step.");
        rects.insert("timeline", slider.rect);
        if slider.changed() {
            e.scrub(Some(step));
        }
        let live_button = ui.add_enabled(!live, egui::Button::new("● live"));
        rects.insert("timeline_live", live_button.rect);
        if live_button.clicked() {
            e.scrub(None);
        }
        if e.run.mode == RunMode::MpcSimulator {
            let replay = ui.add_enabled(!live, egui::Button::new("⟲ replay from here")).on_hover_text(
                "Restart the episode from this step with the current settings (unchanged settings repeat it exactly).",
            );
            rects.insert("timeline_replay", replay.rect);
            if replay.clicked()
                && let Some(k) = e.history.timeline.cursor
                && let Err(error) = e.replay_from(k)
            {
                e.ui.message = Some(error);
            }
        }
        let t = &e.history.timeline;
        ui.label(format!("plans kept from step {} ({:.1} MB)", t.first_kept_plan(), t.bytes() as f64 / 1e6));
    });
    rects
}
