//! Keyboard shortcuts: Space pause, → step, R reset episode, T traces, F follow, +/− speed, F1 help
//! (P, the physics debug layer, is its plugin's own).

use bevy::prelude::*;

use super::StudioSet;
use super::camera::OrbitCamera;
use super::experiment::Experiment;
use super::view::TraceSettings;

/// Every shortcut with what it does (shown by F1).
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Space", "pause / resume"),
    ("→", "one control step (while paused)"),
    ("R", "reset the episode (mpc; learning modes: reset training in the panel)"),
    ("T", "show / hide planned trajectories"),
    ("P", "physics debug layer: collision shapes, joints, contacts"),
    ("F", "camera follows the robot"),
    ("+ / −", "faster / slower simulation"),
    ("F1", "this help"),
    ("Mouse", "left drag orbits, right drag pans, wheel zooms"),
    ("Ctrl + right drag", "pull a link toward the cursor (a spring push)"),
];

/// Whether the help overlay is open.
#[derive(Resource, Default)]
pub struct HelpOverlay(pub bool);

pub struct ShortcutsPlugin;

impl Plugin for ShortcutsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<HelpOverlay>().add_systems(Update, shortcuts.in_set(StudioSet::Input));
    }
}

fn shortcuts(
    keys: Res<ButtonInput<KeyCode>>,
    mut contexts: bevy_egui::EguiContexts,
    mut experiment: ResMut<Experiment>,
    mut traces: ResMut<TraceSettings>,
    mut orbit: ResMut<OrbitCamera>,
    mut help: ResMut<HelpOverlay>,
) {
    if let Ok(ctx) = contexts.ctx_mut()
        && ctx.egui_wants_keyboard_input()
    {
        return; // typing into a text field
    }
    if keys.just_pressed(KeyCode::Space) {
        experiment.run.paused = !experiment.run.paused;
    }
    if keys.just_pressed(KeyCode::ArrowRight) {
        experiment.run.paused = true;
        experiment.run.pending_steps += 1;
    }
    if keys.just_pressed(KeyCode::KeyR) {
        experiment.reset_episode();
    }
    if keys.just_pressed(KeyCode::KeyT) {
        traces.hidden = !traces.hidden;
    }
    if keys.just_pressed(KeyCode::KeyF) {
        orbit.follow = !orbit.follow;
    }
    if keys.just_pressed(KeyCode::Equal) || keys.just_pressed(KeyCode::NumpadAdd) {
        experiment.run.speed = (experiment.run.speed * 2.0).min(16.0);
    }
    if keys.just_pressed(KeyCode::Minus) || keys.just_pressed(KeyCode::NumpadSubtract) {
        experiment.run.speed = (experiment.run.speed / 2.0).max(1.0 / 16.0);
    }
    if keys.just_pressed(KeyCode::F1) {
        help.0 = !help.0;
    }
}
