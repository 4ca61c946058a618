//! The studio's experiment loop, trace drawing and panels, exercised without a window.

use std::path::Path;

use bevy::prelude::*;
use bevy_egui::egui;
use demorl_studio::agent::{MpcAgent, episode_seed};
use demorl_studio::plan::{ActionMode, Loss, PlanTrace, PlannerSettings};
use demorl_studio::sim::Env;
use demorl_studio::studio::colormap::viridis;
use demorl_studio::studio::panels::planner_controls;
use demorl_studio::studio::traces::{Layer, MEAN_COLOUR, TraceOptions, plan_strips};
use demorl_studio::studio::{Experiment, ExperimentPlugin};

fn headless_app(scene: &str) -> App {
    let mut experiment = Experiment::new(Path::new(scene), 3, 1).unwrap();
    experiment.blocking = true;
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).insert_resource(experiment).add_plugins(ExperimentPlugin);
    app.finish();
    app.cleanup();
    app
}

fn experiment(app: &App) -> &Experiment {
    app.world().resource::<Experiment>()
}

#[test]
fn n_updates_advance_exactly_n_control_steps() {
    let mut app = headless_app("scenes/pendulum.ron");
    for n in 1..=15 {
        app.update();
        assert_eq!(experiment(&app).env_steps, n);
        assert_eq!(experiment(&app).env.steps() as u64, n);
    }
    assert!((experiment(&app).sim_time - 15.0 * 0.05).abs() < 1e-9);
}

#[test]
fn the_run_is_identical_with_or_without_the_studio() {
    let mut app = headless_app("scenes/leg2r.ron");
    let mut executed = Vec::new();
    for _ in 0..25 {
        app.update();
        executed.push(experiment(&app).metrics.executed_action.back().unwrap().clone());
    }
    // The same episode driven directly, as `train` does.
    let scene = demorl_studio::scene::load_scene(Path::new("scenes/leg2r.ron")).unwrap();
    let mut env = Env::new(&scene);
    env.reset(episode_seed(3, 0));
    let mut agent = MpcAgent::new(&env, scene.planner.clone(), 3, 1).unwrap();
    agent.reset();
    for step in executed {
        let output = agent.plan(&env, ActionMode::Evaluation);
        assert_eq!(output.action, step);
        env.step(&output.action);
    }
    assert_eq!(env.observation(), experiment(&app).env.observation());
}

#[test]
fn a_settings_change_applies_to_the_next_plan() {
    let mut app = headless_app("scenes/pendulum.ron");
    app.update();
    assert_eq!(experiment(&app).last_trace.as_ref().unwrap().horizon, 20);
    app.world_mut().resource_mut::<Experiment>().settings.horizon = 7;
    app.update();
    assert_eq!(experiment(&app).last_trace.as_ref().unwrap().horizon, 7);
    assert_eq!(experiment(&app).metrics.plan_ms.len(), 2);
}

#[test]
fn invalid_settings_are_refused_with_a_message_and_planning_goes_on() {
    let mut app = headless_app("scenes/pendulum.ron");
    app.update();
    app.world_mut().resource_mut::<Experiment>().settings.loss = Loss::Cem { elite_fraction: 2.0 };
    app.update();
    let e = experiment(&app);
    assert_eq!(e.env_steps, 2, "the step still happens with the old settings");
    let message = e.message.as_deref().unwrap_or_default();
    assert!(message.contains("elite_fraction"), "{message}");
    assert_eq!(e.last_trace.as_ref().unwrap().horizon, 20);
}

#[test]
fn pausing_stops_simulated_time_and_single_steps_advance_one() {
    let mut app = headless_app("scenes/pendulum.ron");
    app.update();
    app.world_mut().resource_mut::<Experiment>().paused = true;
    for _ in 0..5 {
        app.update();
    }
    assert_eq!(experiment(&app).env_steps, 1);
    app.world_mut().resource_mut::<Experiment>().pending_steps = 1;
    app.update();
    app.update();
    assert_eq!(experiment(&app).env_steps, 2);
}

#[test]
fn resetting_the_episode_starts_from_the_next_seed() {
    let mut app = headless_app("scenes/pendulum.ron");
    app.update();
    app.world_mut().resource_mut::<Experiment>().reset_episode();
    let e = experiment(&app);
    assert_eq!((e.episode, e.env.steps(), e.episode_return), (1, 0, 0.0));
    let scene = demorl_studio::scene::load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    let mut env = Env::new(&scene);
    env.reset(episode_seed(3, 1));
    assert_eq!(env.observation(), e.env.observation());
}

/// A trace of 4 sequences, horizon 2, one drawn point, scores 0..3, elite = the best two.
fn toy_trace() -> PlanTrace {
    let mut trace = PlanTrace { horizon: 2, action_dim: 1, point_count: 1, sample_count: 4, ..Default::default() };
    trace.sequences = vec![0.0; 8];
    trace.is_prior = vec![false; 4];
    for n in 0..4 {
        let x = n as f32;
        trace.points.extend([[x, 0.0, 0.0], [x, 1.0, 0.0], [x, 2.0, 0.0]]);
    }
    trace.scores = vec![0.0, 1.0, 2.0, 3.0];
    trace.weights = vec![0.0, 0.0, 0.5, 0.5];
    trace.elite = vec![false, false, true, true];
    trace.mean_points = vec![[9.0, 0.0, 0.0], [9.0, 1.0, 0.0], [9.0, 2.0, 0.0]];
    trace
}

#[test]
fn trace_strips_have_the_expected_layers_points_and_colours() {
    let strips = plan_strips(&toy_trace(), &TraceOptions::default());
    assert_eq!(strips.len(), 5);
    // Worst first, best last before the mean; colours from the viridis map by normalised score.
    let layers: Vec<Layer> = strips.iter().map(|s| s.layer).collect();
    assert_eq!(layers, [Layer::Sample, Layer::Sample, Layer::Elite, Layer::Elite, Layer::Mean]);
    assert_eq!(strips[0].points, vec![[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 2.0, 0.0]]);
    let [r, g, b] = viridis(1.0);
    assert_eq!(strips[3].colour, [r, g, b, 1.0]);
    let [r, g, b] = viridis(0.0);
    assert_eq!(&strips[0].colour[..3], &[r, g, b]);
    assert!(strips[0].colour[3] < 1.0, "plain samples are translucent");
    assert_eq!(strips[4].colour, MEAN_COLOUR);
    assert_eq!(strips[4].points[0], [9.0, 0.0, 0.0]);
}

#[test]
fn trace_layers_toggle_and_samples_are_capped() {
    let trace = toy_trace();
    let only_mean = TraceOptions { samples: false, elites: false, ..Default::default() };
    assert_eq!(plan_strips(&trace, &only_mean).len(), 1);
    let capped = TraceOptions { max_samples: 1, ..Default::default() };
    let strips = plan_strips(&trace, &capped);
    assert_eq!(strips.iter().filter(|s| s.layer == Layer::Sample).count(), 1, "one of the two plain samples");
    assert_eq!(strips.iter().filter(|s| s.layer == Layer::Elite).count(), 2, "elites are never capped");
}

/// Runs one egui frame of the planner controls with the given events.
fn controls_frame(
    ctx: &egui::Context,
    settings: &mut PlannerSettings,
    events: Vec<egui::Event>,
) -> std::collections::HashMap<&'static str, egui::Rect> {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(420.0, 900.0))),
        events,
        ..Default::default()
    };
    let mut rects = Default::default();
    // Debug builds assert that texture updates are consumed; a headless test has none to apply.
    ctx.run_ui(input, |ui| rects = planner_controls(ui, settings)).drop_without_applying_deltas();
    rects
}

#[test]
fn dragging_the_elite_fraction_slider_changes_the_planner_settings() {
    let ctx = egui::Context::default();
    let mut settings = PlannerSettings { loss: Loss::Cem { elite_fraction: 0.1 }, ..PlannerSettings::default() };
    let rects = controls_frame(&ctx, &mut settings, vec![]);
    let rect = rects["elite_fraction"];
    let target = egui::pos2(rect.left() + 0.8 * ctx.global_style().spacing.slider_width, rect.center().y);
    let press = |pressed| egui::Event::PointerButton {
        pos: target,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: Default::default(),
    };
    controls_frame(&ctx, &mut settings, vec![egui::Event::PointerMoved(target), press(true)]);
    controls_frame(&ctx, &mut settings, vec![press(false)]);
    let Loss::Cem { elite_fraction } = settings.loss else { panic!("loss changed kind") };
    assert!(elite_fraction > 0.6 && elite_fraction < 0.95, "elite fraction {elite_fraction}");
    settings.validate().expect("widgets keep values valid");
}

#[test]
fn every_planner_widget_is_laid_out() {
    let ctx = egui::Context::default();
    let mut settings = PlannerSettings::default();
    let rects = controls_frame(&ctx, &mut settings, vec![]);
    for name in [
        "horizon",
        "samples",
        "iterations",
        "temperature",
        "mean_step",
        "variance_step",
        "initial_std",
        "min_std",
        "discount",
        "particles",
        "policy_fraction",
    ] {
        assert!(rects.get(name).is_some_and(|r| r.width() > 50.0), "{name} missing");
    }
}
