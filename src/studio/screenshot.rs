//! Screenshot mode: run N control steps in lockstep, save the window as a PNG and/or record
//! every step's frame as a GIF or MP4, exit. Also the studio's "window PNG" export.

use std::path::{Path, PathBuf};

use bevy::app::AppExit;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};

use super::ab_plans::AbPlans;
use super::experiment::Experiment;
use super::recorder::{FrameClock, Recorder};
use super::saves_panel::SavesUi;

/// When and where to take the picture, and the video of the steps before it.
#[derive(Resource, Clone, Debug)]
pub struct ScreenshotPlan {
    pub steps: u64,
    /// The PNG of the window after the last step.
    pub out: Option<PathBuf>,
    /// A video of steps 1..=steps, one frame per step, at this many frames per second.
    pub video: Option<(PathBuf, f64)>,
    /// Pushes started before the given control steps.
    pub pushes: Vec<(u64, crate::sim::Push)>,
    /// After the steps: A/B plans with these settings as B, drawn in the picture.
    pub ab: Option<crate::config::PlannerSettings>,
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
        app.init_resource::<ScreenshotState>()
            .add_systems(Startup, (lockstep, start_video).chain())
            .add_systems(Update, scripted_pushes.in_set(super::StudioSet::Input))
            .add_systems(Last, take_screenshot.after(super::recorder::RecorderSet));
    }
}

/// Each frame takes exactly one control step, whatever the planning time.
fn lockstep(mut experiment: ResMut<Experiment>) {
    experiment.run.blocking = true;
}

/// Starts the plan's pushes before their steps.
fn scripted_pushes(plan: Res<ScreenshotPlan>, mut experiment: ResMut<Experiment>, mut exit: MessageWriter<AppExit>) {
    let step = experiment.history.env_steps;
    for (_, push) in plan.pushes.iter().filter(|(at, _)| *at == step) {
        if let Err(e) = experiment.push(push.clone()) {
            eprintln!("error: --push: {e}");
            exit.write(AppExit::error());
        }
    }
}

/// Records from the first step on, when a video is asked for.
fn start_video(
    plan: Res<ScreenshotPlan>,
    experiment: Res<Experiment>,
    mut recorder: ResMut<Recorder>,
    mut exit: MessageWriter<AppExit>,
) {
    // One step per frame here: frames one `1 / fps` apart (the control rate unless --fps).
    if let Some((path, fps)) = &plan.video
        && let Err(e) = recorder.start(path.clone(), *fps, FrameClock::Fixed, &experiment)
    {
        eprintln!("error: {e:#}");
        exit.write(AppExit::error());
    }
}

fn take_screenshot(
    mut commands: Commands,
    plan: Res<ScreenshotPlan>,
    mut state: ResMut<ScreenshotState>,
    mut experiment: ResMut<Experiment>,
    mut recorder: ResMut<Recorder>,
    mut ab: Option<ResMut<AbPlans>>,
    mut exit: MessageWriter<AppExit>,
) {
    if experiment.history.env_steps < plan.steps && !state.requested {
        return;
    }
    experiment.run.paused = true;
    experiment.run.blocking = false;
    recorder.stop();
    if let (Some(b), Some(ab)) = (&plan.ab, ab.as_deref_mut())
        && !state.requested
    {
        // Plan A and B first; the picture waits for both.
        if ab.result.is_none() && !ab.busy() && ab.error.is_none() {
            ab.b = b.clone();
            if let Err(e) = ab.start(&mut experiment) {
                ab.error = Some(e);
            }
        }
        if let Some(error) = &ab.error {
            eprintln!("error: --ab: {error}");
            exit.write(AppExit::error());
            return;
        }
        if ab.result.is_none() {
            return;
        }
    }
    if !state.requested {
        state.frames_after_steps += 1;
        if state.frames_after_steps >= SETTLE_FRAMES {
            state.requested = true;
            match plan.out.clone() {
                Some(path) => {
                    commands.spawn(Screenshot::primary_window()).observe(
                        move |captured: On<ScreenshotCaptured>, mut state: ResMut<ScreenshotState>| {
                            state.result = Some(write_png(&captured.image, &path));
                        },
                    );
                }
                None => state.result = Some(Ok(())),
            }
        }
        return;
    }
    let video_done = plan.video.is_none() || recorder.outcome.is_some();
    let Some(result) = state.result.clone().filter(|_| video_done) else { return };
    state.frames_after_result += 1;
    if state.frames_after_result <= 1 {
        return;
    }
    let video = recorder.outcome.clone().unwrap_or(Ok((PathBuf::new(), 0)));
    match (result, video) {
        (Ok(()), Ok((video, frames))) => {
            if let Some(out) = &plan.out {
                println!("saved {} after {} control steps", out.display(), experiment.history.env_steps);
            }
            if plan.video.is_some() {
                println!("recorded {frames} frames into {}", video.display());
            }
            exit.write(AppExit::Success);
        }
        (Err(message), _) | (_, Err(message)) => {
            eprintln!("error: {message}");
            exit.write(AppExit::error());
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
