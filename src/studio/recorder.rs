//! Recording the window while the run goes on: one captured frame per control step taken,
//! written in step order into a GIF or MP4 (`video.rs`). The Record button starts and stops it;
//! `screenshot --video` records steps 1..N and exits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};

use super::experiment::Experiment;
use super::panels::WidgetRects;
use super::video::VideoWriter;
use bevy_egui::egui;

/// A recording in progress (or none). Frames are captured asynchronously by the renderer and
/// may arrive a few frames later; they are written in the order of their steps.
#[derive(Resource, Default)]
pub struct Recorder {
    active: Option<Recording>,
    /// What the last recording ended with: the file and its frames, or why it failed.
    pub outcome: Option<Result<(PathBuf, usize), String>>,
    /// The panel's choice of container for the next recording.
    pub gif: bool,
}

struct Recording {
    path: PathBuf,
    fps: f64,
    /// Frames are stamped with simulated time since the start (the Record button), else one
    /// every `1 / fps` (`screenshot --fps`).
    clock: FrameClock,
    start_sim: f64,
    /// The env step of the last frame asked for.
    last_step: u64,
    requested: usize,
    /// Captured frames not yet written, with their times, by index; filled by the capture observers.
    arrived: Arc<Mutex<BTreeMap<usize, (Image, f64)>>>,
    writer: Option<VideoWriter>,
    written: usize,
    stopping: bool,
    error: Option<String>,
}

/// How recorded frames are timed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FrameClock {
    /// At the simulated time of their step: the video shows the motion at its real speed.
    Simulated,
    /// One every `1 / fps`, whatever the steps.
    Fixed,
}

impl Recorder {
    /// Starts recording into `path` (.gif or .mp4); frames come from the next steps, timed by
    /// `clock` (`fps` is the nominal rate: the fixed one, or the encoder's hint).
    pub fn start(&mut self, path: PathBuf, fps: f64, clock: FrameClock, experiment: &Experiment) -> anyhow::Result<()> {
        super::video::VideoFormat::of(&path)?;
        if !(fps > 0.0 && fps <= super::video::MAX_FPS) {
            anyhow::bail!("{fps} frames per second; expected more than 0 and at most {}", super::video::MAX_FPS);
        }
        self.outcome = None;
        self.active = Some(Recording {
            path,
            fps,
            clock,
            start_sim: experiment.history.sim_time,
            last_step: experiment.history.env_steps,
            requested: 0,
            arrived: Default::default(),
            writer: None,
            written: 0,
            stopping: false,
            error: None,
        });
        Ok(())
    }

    /// Stops taking frames; the file is completed once the frames in flight are written.
    pub fn stop(&mut self) {
        if let Some(r) = &mut self.active {
            r.stopping = true;
        }
    }

    pub fn is_recording(&self) -> bool {
        self.active.as_ref().is_some_and(|r| !r.stopping)
    }

    /// Frames asked for so far in the current recording.
    pub fn frames_requested(&self) -> usize {
        self.active.as_ref().map_or(0, |r| r.requested)
    }
}

pub struct RecorderPlugin;

/// The recorder's systems (in `Last`, after the frame's step and drawing).
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecorderSet;

impl Plugin for RecorderPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Recorder>().add_systems(Last, (capture_steps, write_arrived).chain().in_set(RecorderSet));
    }
}

/// Asks the renderer for this frame's picture when the run took a step since the last one.
fn capture_steps(mut commands: Commands, experiment: Res<Experiment>, mut recorder: ResMut<Recorder>) {
    let Some(r) = recorder.active.as_mut().filter(|r| !r.stopping && r.error.is_none()) else { return };
    let step = experiment.history.env_steps;
    if step == r.last_step {
        return;
    }
    r.last_step = step;
    let (index, arrived) = (r.requested, r.arrived.clone());
    let at = match r.clock {
        FrameClock::Simulated => experiment.history.sim_time - r.start_sim,
        FrameClock::Fixed => index as f64 / r.fps,
    };
    r.requested += 1;
    commands.spawn(Screenshot::primary_window()).observe(move |captured: On<ScreenshotCaptured>| {
        arrived.lock().unwrap_or_else(|p| p.into_inner()).insert(index, (captured.image.clone(), at));
    });
}

/// Writes the frames that arrived, in order; completes the file once stopped and drained.
fn write_arrived(mut recorder: ResMut<Recorder>, mut experiment: ResMut<Experiment>) {
    let Some(r) = recorder.active.as_mut() else { return };
    loop {
        let next = r.arrived.lock().unwrap_or_else(|p| p.into_inner()).remove(&r.written);
        let Some((image, at)) = next else { break };
        if r.error.is_none()
            && let Err(e) = write_frame(r, &image, at)
        {
            r.error = Some(format!("{e:#}"));
        }
        r.written += 1;
    }
    if !(r.stopping && r.written == r.requested) && r.error.is_none() {
        return;
    }
    let done = recorder.active.take().expect("checked above");
    let outcome = match (done.error, done.writer) {
        (Some(error), _) => Err(error),
        (None, Some(writer)) => writer.finish().map_err(|e| format!("{e:#}")),
        (None, None) => Err(format!("{}: no frame was recorded", done.path.display())),
    };
    experiment.ui.message = Some(match &outcome {
        Ok((path, frames)) => format!("recorded {frames} frames into {}", path.display()),
        Err(error) => format!("recording failed: {error}"),
    });
    recorder.outcome = Some(outcome);
}

fn write_frame(r: &mut Recording, image: &Image, at: f64) -> anyhow::Result<()> {
    let rgba = image.clone().try_into_dynamic().map_err(|e| anyhow::anyhow!("cannot convert a frame: {e}"))?.to_rgba8();
    if r.writer.is_none() {
        r.writer = Some(VideoWriter::create(&r.path, rgba.width(), rgba.height(), r.fps)?);
    }
    let writer = r.writer.as_mut().expect("created above");
    if (rgba.width(), rgba.height()) != writer.frame_size() {
        anyhow::bail!("the window changed size while recording");
    }
    writer.push_rgba_at(rgba.as_raw(), at)
}

/// The Record button (with GIF/MP4 choice): records the window from the next step into
/// `exports/<scene>-step<k>.<ext>`, each frame at its simulated time, so the video plays the
/// motion at its real speed.
pub fn record_controls(ui: &mut egui::Ui, e: &mut Experiment, recorder: &mut Recorder) -> WidgetRects {
    let mut rects = WidgetRects::new();
    ui.horizontal(|ui| {
        if recorder.is_recording() {
            let stop = ui.button(format!("⏹ stop ({} frames)", recorder.frames_requested()));
            rects.insert("record_stop", stop.rect);
            if stop.clicked() {
                recorder.stop();
            }
        } else {
            let record = ui.button("⏺ record").on_hover_text("Record the window, one frame per control step.");
            rects.insert("record", record.rect);
            ui.radio_value(&mut recorder.gif, false, "mp4");
            ui.radio_value(&mut recorder.gif, true, "gif");
            if record.clicked() {
                let stem =
                    e.run.scene_path.file_stem().map_or_else(|| "run".into(), |s| s.to_string_lossy().to_string());
                let ext = if recorder.gif { "gif" } else { "mp4" };
                let path = e.ui.exports_dir.join(format!("{stem}-step{}.{ext}", e.history.env_steps));
                let fps = (1.0 / e.control_dt()).clamp(1.0, super::video::MAX_FPS);
                if let Err(error) = recorder.start(path, fps, FrameClock::Simulated, e) {
                    e.ui.message = Some(format!("cannot record: {error:#}"));
                }
            }
        }
    });
    rects
}
