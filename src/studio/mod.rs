//! The studio: a Bevy app that runs the experiment live and shows it — robot, planned
//! trajectories, controls and plots. Each feature is one plugin.

pub mod ab_plans;
pub mod camera;
pub mod colormap;
pub mod experiment;
pub mod frame_budget;
pub mod gait_panel;
pub mod hover;
pub mod input;
pub mod panels;
pub mod physics_debug;
pub mod presets_panel;
pub mod push_tool;
pub mod recorder;
pub mod saves;
pub mod saves_panel;
pub mod schedule_panel;
pub mod screenshot;
pub mod timed;
pub mod timeline;
pub mod timeline_panel;
pub mod traces;
pub mod video;
pub mod view;
pub mod worker;

use std::path::PathBuf;

use anyhow::Context;
use bevy::prelude::*;
use bevy::window::{PresentMode, WindowResolution};
use bevy_egui::EguiPlugin;

pub use experiment::{Experiment, ExperimentPlugin, StudioSet};

use crate::config::RunMode;

/// How to start the studio.
#[derive(Clone, Debug)]
pub struct StudioOptions {
    pub scene: PathBuf,
    /// What the control loop runs.
    pub mode: RunMode,
    pub seed: u64,
    /// A recorded run's settings file: its scene, mode, seed and settings replace the three above.
    pub recorded: Option<PathBuf>,
    /// Rollout threads of the planner (the render thread is separate).
    pub threads: usize,
    /// Initial simulation speed (simulated seconds per wall second).
    pub speed: f32,
    /// Close after this many wall seconds and print performance figures.
    pub run_seconds: Option<f64>,
    pub width: u32,
    pub height: u32,
    /// Take a screenshot after this many control steps, save it and exit.
    pub screenshot: Option<screenshot::ScreenshotPlan>,
    /// Frame cap chosen on the command line: `Some(None)` uncapped, `Some(Some(fps))` capped,
    /// `None` the renderer's default (capped on a software renderer).
    pub max_fps: Option<Option<f32>>,
    /// Open with the physics debug layer shown (P toggles it).
    pub physics_debug: bool,
}

/// Opens the window and runs until it is closed (or the screenshot is saved).
pub fn run(options: StudioOptions) -> anyhow::Result<()> {
    // Load before opening a window, so a bad scene is a clear error rather than an empty window.
    let mut experiment = match &options.recorded {
        Some(file) => Experiment::from_recorded(&crate::config::read_run_config(file)?, options.threads)
            .with_context(|| format!("cannot start the run {} records", file.display()))?,
        None => Experiment::new_in_mode(&options.scene, options.mode, options.seed, options.threads)?,
    };
    experiment.run.speed = options.speed;
    let mut app = App::new();
    app.insert_resource(ClearColor(Color::srgb(0.11, 0.12, 0.14)))
        .add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window {
                title: format!("DeMoRL Studio — {}", experiment.run.scene.name),
                resolution: WindowResolution::new(options.width, options.height),
                present_mode: PresentMode::AutoVsync,
                ..default()
            }),
            ..default()
        }))
        .add_plugins(EguiPlugin::default())
        .insert_resource(experiment)
        .add_plugins((
            ExperimentPlugin,
            view::ViewPlugin,
            camera::CameraPlugin,
            panels::PanelsPlugin,
            input::ShortcutsPlugin,
            frame_budget::FrameBudgetPlugin,
            physics_debug::PhysicsDebugPlugin,
            push_tool::PushToolPlugin,
            recorder::RecorderPlugin,
            ab_plans::AbPlansPlugin,
            hover::HoverPlugin,
        ));
    if options.screenshot.is_some() {
        // Screenshots are documentation: full quality, and one control step per frame at full speed.
        app.insert_resource(frame_budget::FrameBudget::chosen(None, true));
    } else if let Some(max_fps) = options.max_fps {
        app.insert_resource(frame_budget::FrameBudget::with_max_fps(max_fps));
    }
    if options.physics_debug {
        app.insert_resource(physics_debug::PhysicsDebug { shown: true, ..default() });
    }
    if let Some(seconds) = options.run_seconds {
        app.insert_resource(timed::TimedRun::new(seconds)).add_plugins(timed::TimedRunPlugin);
    }
    if let Some(plan) = options.screenshot {
        app.insert_resource(plan).add_plugins(screenshot::ScreenshotPlugin);
    }
    app.run();
    Ok(())
}
