//! The preset picker: load a built-in or saved planner preset, and save the current settings
//! as a named user preset (`saves/presets/NAME.ron`). Built-ins are read-only; replacing a
//! saved preset needs the overwrite box ticked.

use bevy::prelude::Resource;
use bevy_egui::egui;

use super::panels::WidgetRects;
use crate::config::{PRESET_NAMES, PlannerSettings};
use crate::plan::{DEFAULT_PRESET_DIR, PresetStore};

/// The picker's own state (kept between frames).
#[derive(Resource)]
pub struct PresetUi {
    pub store: PresetStore,
    /// The name to save under.
    pub name: String,
    /// Replace a saved preset of the same name (never a built-in).
    pub overwrite: bool,
    /// Saved preset names; `None` until (re)read from the folder.
    pub saved: Option<Vec<String>>,
    /// The last save or load outcome.
    pub status: Option<String>,
    /// Where the entries of the open picker were drawn, by preset name (for tests and tours).
    pub item_rects: Vec<(String, egui::Rect)>,
}

impl Default for PresetUi {
    fn default() -> Self {
        PresetUi::new(PresetStore::new(DEFAULT_PRESET_DIR))
    }
}

impl PresetUi {
    pub fn new(store: PresetStore) -> Self {
        PresetUi { store, name: String::new(), overwrite: false, saved: None, status: None, item_rects: Vec::new() }
    }
}

/// The picker and the save row. Returns the rects of the named widgets.
pub fn preset_controls(ui: &mut egui::Ui, settings: &mut PlannerSettings, state: &mut PresetUi) -> WidgetRects {
    let mut rects = WidgetRects::new();
    if state.saved.is_none() {
        state.saved = Some(state.store.list().unwrap_or_else(|error| {
            state.status = Some(error.to_string());
            Vec::new()
        }));
    }
    let saved = state.saved.clone().unwrap_or_default();
    let mut chosen = None;
    state.item_rects.clear();
    let picker = egui::ComboBox::from_label("preset").selected_text("load a preset…").show_ui(ui, |ui| {
        for name in PRESET_NAMES.iter().map(|n| n.to_string()).chain(saved.iter().cloned()) {
            let label = if PRESET_NAMES.contains(&name.as_str()) { name.clone() } else { format!("{name} (saved)") };
            let item = ui.selectable_label(false, label);
            state.item_rects.push((name.clone(), item.rect));
            if item.clicked() {
                chosen = Some(name);
            }
        }
    });
    rects.insert("preset_picker", picker.response.rect);
    picker.response.on_hover_text(
        "reference = the authors' settings; paper-cem = CEM with 10% elites; mppi; mirror-descent; \
         then your saved presets (saves/presets/).",
    );
    if let Some(name) = chosen {
        match state.store.load(&name) {
            Ok(loaded) => {
                *settings = loaded;
                state.status = Some(format!("loaded preset {name}"));
            }
            Err(error) => state.status = Some(error.to_string()),
        }
    }
    ui.horizontal(|ui| {
        let field = ui.add(egui::TextEdit::singleline(&mut state.name).hint_text("preset name").desired_width(120.0));
        rects.insert("preset_name", field.rect);
        let save = ui.button("save preset").on_hover_text("Save these planner settings as a named preset.");
        rects.insert("save_preset", save.rect);
        let overwrite = ui
            .checkbox(&mut state.overwrite, "overwrite")
            .on_hover_text("Replace a saved preset of that name (built-in presets are never replaced).");
        rects.insert("overwrite_preset", overwrite.rect);
        if save.clicked() {
            let name = state.name.trim().to_string();
            state.status = Some(match state.store.save(&name, settings, state.overwrite) {
                Ok(path) => {
                    state.saved = None;
                    state.overwrite = false;
                    format!("saved preset {name} to {}", path.display())
                }
                Err(error) => error.to_string(),
            });
        }
    });
    if let Some(status) = &state.status {
        ui.label(egui::RichText::new(status).small());
    }
    rects
}
