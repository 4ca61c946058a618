//! The saves panel: save the learning run under a name, list the saves (loadable or why not),
//! load one, and export the current episode (CSV) or the window (PNG).

use std::path::PathBuf;

use bevy::prelude::Resource;
use bevy_egui::egui;

use super::experiment::Experiment;
use super::panels::WidgetRects;
use crate::agent::{SaveEntry, list_checkpoints};

/// The panel's own state (kept between frames).
#[derive(Resource, Default)]
pub struct SavesUi {
    /// The save name typed; empty means the default `<scene>-<mode>-seed<seed>`.
    pub name: String,
    /// The listed saves; `None` until (re)read. Listing checks every file's checksum, so it is
    /// read on demand and after a save, never every frame.
    pub entries: Option<Vec<SaveEntry>>,
    /// The save outcome the list was last refreshed for.
    seen_outcome: Option<String>,
    /// A window PNG asked for (taken by the screenshot system at the end of the frame).
    pub png_request: Option<PathBuf>,
}

/// Save, list, load and export widgets. Returns the rects of the named widgets.
pub fn saves_panel(ui: &mut egui::Ui, e: &mut Experiment, state: &mut SavesUi) -> WidgetRects {
    let mut rects = WidgetRects::new();
    if e.ui.save_outcome != state.seen_outcome {
        state.seen_outcome.clone_from(&e.ui.save_outcome);
        state.entries = None;
    }
    if e.run.mode.is_learning() {
        ui.horizontal(|ui| {
            let field = ui
                .add(egui::TextEdit::singleline(&mut state.name).hint_text(e.default_save_name()).desired_width(170.0));
            rects.insert("save_name", field.rect);
            let button = ui
                .add_enabled(e.ui.saving.is_none() && e.ui.stopped.is_none(), egui::Button::new("💾 save"))
                .on_hover_text("Checkpoint the run into saves/<name>/ at the next episode start.");
            rects.insert("save", button.rect);
            if button.clicked() {
                let name = if state.name.trim().is_empty() { e.default_save_name() } else { state.name.trim().into() };
                if let Err(error) = e.request_save(&name) {
                    e.ui.save_outcome = Some(format!("{error:#}"));
                }
            }
        });
        if let Some(dir) = &e.ui.saving {
            ui.label(format!("saving {} at the next episode start…", dir.display()));
        }
    } else {
        ui.label("Saves hold learning runs: choose sac, demorl or mpc + learned to save.");
    }
    if let Some(outcome) = &e.ui.save_outcome {
        ui.label(egui::RichText::new(outcome).small());
    }
    ui.horizontal(|ui| {
        let refresh = ui.button("⟳ list saves").on_hover_text("Read saves/ again (checks every file).");
        rects.insert("list_saves", refresh.rect);
        if refresh.clicked() {
            state.entries = None;
        }
        let csv = ui.button("export episode CSV").on_hover_text(
            "Write this episode's steps (observation, action, reward, planned first action) to exports/.",
        );
        rects.insert("export_csv", csv.rect);
        if csv.clicked() {
            e.ui.message = Some(match e.export_episode_csv() {
                Ok(path) => format!("exported {}", path.display()),
                Err(error) => format!("{error:#}"),
            });
        }
        if ui.button("window PNG").on_hover_text("Save the whole window, plots included, to exports/.").clicked() {
            let stem =
                e.run.scene_path.file_stem().map_or_else(|| "studio".into(), |s| s.to_string_lossy().into_owned());
            state.png_request = Some(e.ui.exports_dir.join(format!("{stem}-step{}.png", e.history.env_steps)));
        }
    });
    let entries = state.entries.get_or_insert_with(|| list_checkpoints(&e.ui.saves_dir));
    if entries.is_empty() {
        ui.label(format!("no saves in {}", e.ui.saves_dir.display()));
    }
    let mut load = None;
    // One row per save, truncated or wrapped to the panel's width (a grid would widen the panel).
    for entry in entries.iter() {
        let name = entry.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match &entry.manifest {
            Ok(m) => {
                ui.horizontal(|ui| {
                    let button = ui.button(format!("load {name}")).on_hover_text(format!(
                        "{}\nscene {}, {}, seed {}",
                        entry.path.display(),
                        m.config.scene.display(),
                        m.config.mode,
                        m.config.seed
                    ));
                    rects.entry("load_first").or_insert(button.rect);
                    if button.clicked() {
                        load = Some(entry.path.clone());
                    }
                    let scene =
                        m.config.scene.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                    let eval = m.last_eval_return().map_or_else(|| "no eval".into(), |r| format!("eval {r:.1}"));
                    let details = format!(
                        "{} · {scene} · {} · {} steps · {eval}",
                        utc_minutes(m.created_unix_seconds),
                        m.config.mode,
                        m.trainer.env_steps
                    );
                    ui.add(egui::Label::new(egui::RichText::new(details).small()).truncate());
                });
            }
            Err(why) => {
                ui.label(egui::RichText::new(format!("{name}: cannot load")).strikethrough());
                ui.add(
                    egui::Label::new(egui::RichText::new(why).small().color(egui::Color32::from_rgb(240, 140, 120)))
                        .wrap(),
                );
            }
        }
    }
    if let Some(dir) = load
        && let Err(error) = e.load_save(&dir)
    {
        // The experiment runs on unchanged; the list shows the save again as it is now.
        e.ui.message = Some(format!("not loaded: {error:#}"));
        state.entries = None;
    }
    rects
}

/// `YYYY-MM-DD HH:MM` (UTC) of a Unix time, without a date crate (days to civil date by the
/// usual era arithmetic).
pub fn utc_minutes(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let minutes = (unix_seconds % 86_400) / 60;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", minutes / 60, minutes % 60)
}
