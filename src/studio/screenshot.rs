//! Screenshot mode: run N control steps in lockstep, save the window as a PNG, exit. Also the
//! studio's "window PNG" export.

use std::path::{Path, PathBuf};

use bevy::app::AppExit;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};

use super::experiment::Experiment;
use super::saves_panel::SavesUi;

/// When and where to take the picture.
#[derive(Resource, Clone, Debug)]
pub struct ScreenshotPlan {
    pub steps: u64,
    pub out: PathBuf,
}

/// Progress of the screenshot (frames waited, result).
#[derive(Resource, Default, Debug)]
pub struct ScreenshotState {
    frames_after_steps: u32,
    requested: bool,
    /// `Some(Ok)` once written, `Some(Err(message))` if saving failed.
    pub result: Option<Result<(), String>>,
    frames_after_result: u32,
}

/// Frames rendered after the last step before capturing, so meshes, gizmos and egui are current.
const SETTLE_FRAMES: u32 = 4;

pub struct ScreenshotPlugin;

impl Plugin for ScreenshotPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ScreenshotState>().add_systems(Startup, lockstep).add_systems(Last, take_screenshot);
    }
}

/// Each frame takes exactly one control step, whatever the planning time.
fn lockstep(mut experiment: ResMut<Experiment>) {
    experiment.run.blocking = true;
}

fn take_screenshot(
    mut commands: Commands,
    plan: Res<ScreenshotPlan>,
    mut state: ResMut<ScreenshotState>,
    mut experiment: ResMut<Experiment>,
    mut exit: MessageWriter<AppExit>,
) {
    if experiment.history.env_steps < plan.steps && !state.requested {
        return;
    }
    experiment.run.paused = true;
    experiment.run.blocking = false;
    if !state.requested {
        state.frames_after_steps += 1;
        if state.frames_after_steps >= SETTLE_FRAMES {
            state.requested = true;
            let path = plan.out.clone();
            commands.spawn(Screenshot::primary_window()).observe(
                move |captured: On<ScreenshotCaptured>, mut state: ResMut<ScreenshotState>| {
                    state.result = Some(write_png(&captured.image, &path));
                },
            );
        }
        return;
    }
    if let Some(result) = state.result.clone() {
        state.frames_after_result += 1;
        if state.frames_after_result > 1 {
            match result {
                Ok(()) => {
                    println!("saved {} after {} control steps", plan.out.display(), experiment.history.env_steps);
                    exit.write(AppExit::Success);
                }
                Err(message) => {
                    eprintln!("error: {message}");
                    exit.write(AppExit::error());
                }
            }
        }
    }
}

/// Writes a captured frame as an RGB PNG.
fn write_png(image: &Image, path: &Path) -> Result<(), String> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    }
    let frame = image.clone().try_into_dynamic().map_err(|e| format!("cannot convert the frame: {e}"))?;
    frame.to_rgb8().save(path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Takes the window PNG the saves panel asked for; the outcome becomes the status message.
pub fn take_requested_png(mut commands: Commands, mut saves: ResMut<SavesUi>) {
    let Some(path) = saves.png_request.take() else { return };
    commands.spawn(Screenshot::primary_window()).observe(
        move |captured: On<ScreenshotCaptured>, mut experiment: ResMut<Experiment>| {
            experiment.ui.message = Some(match write_png(&captured.image, &path) {
                Ok(()) => format!("exported {}", path.display()),
                Err(error) => error,
            });
        },
    );
}
