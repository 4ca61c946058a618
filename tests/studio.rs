//! The studio's experiment loop, trace drawing and panels, exercised without a window.

use std::path::Path;

use bevy::prelude::*;
use bevy_egui::egui;
use demorl_studio::agent::{MpcAgent, episode_seed, run_learning};
use demorl_studio::config::RunMode;
use demorl_studio::config::{EnsembleSettings, Loss, PlannerSettings, SacSettings, TrainSettings, preset};
use demorl_studio::plan::PresetStore;
use demorl_studio::plan::{ActionMode, PlanTrace};
use demorl_studio::sim::Env;
use demorl_studio::studio::colormap::viridis;
use demorl_studio::studio::gait_panel::gait_controls;
use demorl_studio::studio::panels::{WidgetRects, mode_controls, planner_controls};
use demorl_studio::studio::presets_panel::{PresetUi, preset_controls};
use demorl_studio::studio::saves_panel::{SavesUi, saves_panel, utc_minutes};
use demorl_studio::studio::traces::{Layer, MEAN_COLOUR, TraceOptions, plan_strips};
use demorl_studio::studio::{Experiment, ExperimentPlugin};

fn headless_app(scene: &str) -> App {
    let mut experiment = Experiment::new(Path::new(scene), 3, 1).unwrap();
    experiment.run.blocking = true;
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
        assert_eq!(experiment(&app).history.env_steps, n);
        assert_eq!(experiment(&app).run.env.steps() as u64, n);
    }
    assert!((experiment(&app).history.sim_time - 15.0 * 0.05).abs() < 1e-9);
}

#[test]
fn studio_sets_run_input_then_simulate_then_view_each_frame() {
    use demorl_studio::studio::StudioSet;
    #[derive(Resource, Default)]
    struct Seen(Vec<(&'static str, u64)>);
    let mut app = headless_app("scenes/pendulum.ron");
    app.init_resource::<Seen>();
    // Added in the opposite order on purpose: only the sets' order can put them right.
    app.add_systems(
        Update,
        (|e: Res<Experiment>, mut seen: ResMut<Seen>| seen.0.push(("view", e.history.env_steps)))
            .in_set(StudioSet::View),
    );
    app.add_systems(
        Update,
        (|e: Res<Experiment>, mut seen: ResMut<Seen>| seen.0.push(("input", e.history.env_steps)))
            .in_set(StudioSet::Input),
    );
    app.update();
    app.update();
    let seen = &app.world().resource::<Seen>().0;
    assert_eq!(seen, &[("input", 0), ("view", 1), ("input", 1), ("view", 2)]);
}

#[test]
fn the_run_is_identical_with_or_without_the_studio() {
    let mut app = headless_app("scenes/leg2r.ron");
    let mut executed = Vec::new();
    for _ in 0..25 {
        app.update();
        executed.push(experiment(&app).history.metrics.executed_action.back().unwrap().clone());
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
    assert_eq!(env.observation(), experiment(&app).run.env.observation());
}

#[test]
fn train_mpc_runs_the_studios_episodes_without_the_studio() {
    // `train --mode mpc` calls `run_mpc_episodes` directly; the studio's lockstep loop must give
    // the same episodes (returns, lengths, ends, reward terms) across an episode boundary.
    let path = Path::new("scenes/pendulum.ron");
    let scene = demorl_studio::scene::load_scene(path).unwrap();
    let small = PlannerSettings { horizon: 6, samples: 12, iterations: 1, ..scene.planner.clone() };
    let mut studio = Experiment::with_settings(path, scene.clone(), small.clone(), 5, 1).unwrap();
    studio.run.blocking = true;
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).insert_resource(studio).add_plugins(ExperimentPlugin);
    app.finish();
    app.cleanup();
    while experiment(&app).history.finished.len() < 2 {
        app.update();
    }
    let mut env = Env::new(&scene);
    let direct = demorl_studio::agent::run_mpc_episodes(&mut env, small, 5, 1, 2, |_, _| {}).unwrap();
    let strip =
        |e: &demorl_studio::agent::EpisodeSummary| (e.episode_return, e.length, e.end.clone(), e.reward_terms.clone());
    let studio: Vec<_> = experiment(&app).history.finished[..2].iter().map(strip).collect();
    assert_eq!(studio, direct.iter().map(strip).collect::<Vec<_>>());
}

#[test]
fn a_settings_change_applies_to_the_next_plan() {
    let mut app = headless_app("scenes/pendulum.ron");
    app.update();
    assert_eq!(experiment(&app).history.last_trace.as_ref().unwrap().horizon, 20);
    app.world_mut().resource_mut::<Experiment>().run.settings.horizon = 7;
    app.update();
    assert_eq!(experiment(&app).history.last_trace.as_ref().unwrap().horizon, 7);
    assert_eq!(experiment(&app).history.metrics.plan_ms.len(), 2);
}

#[test]
fn invalid_settings_are_refused_with_a_message_and_planning_goes_on() {
    let mut app = headless_app("scenes/pendulum.ron");
    app.update();
    app.world_mut().resource_mut::<Experiment>().run.settings.loss = Loss::Cem { elite_fraction: 2.0 };
    app.update();
    let e = experiment(&app);
    assert_eq!(e.history.env_steps, 2, "the step still happens with the old settings");
    let message = e.ui.message.as_deref().unwrap_or_default();
    assert!(message.contains("elite_fraction"), "{message}");
    assert_eq!(e.history.last_trace.as_ref().unwrap().horizon, 20);
}

#[test]
fn pausing_stops_simulated_time_and_single_steps_advance_one() {
    let mut app = headless_app("scenes/pendulum.ron");
    app.update();
    app.world_mut().resource_mut::<Experiment>().run.paused = true;
    for _ in 0..5 {
        app.update();
    }
    assert_eq!(experiment(&app).history.env_steps, 1);
    app.world_mut().resource_mut::<Experiment>().run.pending_steps = 1;
    app.update();
    app.update();
    assert_eq!(experiment(&app).history.env_steps, 2);
}

#[test]
fn resetting_the_episode_starts_from_the_next_seed() {
    let mut app = headless_app("scenes/pendulum.ron");
    app.update();
    app.world_mut().resource_mut::<Experiment>().reset_episode();
    let e = experiment(&app);
    assert_eq!((e.history.episode, e.run.env.steps(), e.history.episode_return), (1, 0, 0.0));
    let scene = demorl_studio::scene::load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    let mut env = Env::new(&scene);
    env.reset(episode_seed(3, 1));
    assert_eq!(env.observation(), e.run.env.observation());
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

/// Runs one egui frame of a panel function with the given events; returns its widget rects.
fn ui_frame(
    ctx: &egui::Context,
    events: Vec<egui::Event>,
    mut panel: impl FnMut(&mut egui::Ui) -> WidgetRects,
) -> WidgetRects {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(420.0, 900.0))),
        events,
        ..Default::default()
    };
    let mut rects = Default::default();
    // Debug builds assert that texture updates are consumed; a headless test has none to apply.
    ctx.run_ui(input, |ui| rects = panel(ui)).drop_without_applying_deltas();
    rects
}

/// One egui frame of the planner controls with the given events.
/// (In DeMoRL, the mode where every planner setting applies.)
fn controls_frame(ctx: &egui::Context, settings: &mut PlannerSettings, events: Vec<egui::Event>) -> WidgetRects {
    ui_frame(ctx, events, |ui| planner_controls(ui, settings, RunMode::Demorl))
}

fn press_at(pos: egui::Pos2, pressed: bool) -> egui::Event {
    egui::Event::PointerButton { pos, button: egui::PointerButton::Primary, pressed, modifiers: Default::default() }
}

#[test]
fn dragging_the_elite_fraction_slider_changes_the_planner_settings() {
    let ctx = egui::Context::default();
    let mut settings = PlannerSettings { loss: Loss::Cem { elite_fraction: 0.1 }, ..PlannerSettings::default() };
    let rects = controls_frame(&ctx, &mut settings, vec![]);
    let rect = rects["elite_fraction"];
    let target = egui::pos2(rect.left() + 0.8 * ctx.global_style().spacing.slider_width, rect.center().y);
    controls_frame(&ctx, &mut settings, vec![egui::Event::PointerMoved(target), press_at(target, true)]);
    controls_frame(&ctx, &mut settings, vec![press_at(target, false)]);
    let Loss::Cem { elite_fraction } = settings.loss else { panic!("loss changed kind") };
    assert!(elite_fraction > 0.6 && elite_fraction < 0.95, "elite fraction {elite_fraction}");
    settings.validate().expect("widgets keep values valid");
}

#[test]
fn choosing_relative_mppi_in_the_panel_sets_that_loss_and_its_slider_drives_it() {
    let ctx = egui::Context::default();
    let mut settings = PlannerSettings { loss: Loss::Cem { elite_fraction: 0.1 }, ..PlannerSettings::default() };
    let button = controls_frame(&ctx, &mut settings, vec![])["loss_mppi_relative"].center();
    controls_frame(&ctx, &mut settings, vec![egui::Event::PointerMoved(button), press_at(button, true)]);
    controls_frame(&ctx, &mut settings, vec![press_at(button, false)]);
    assert_eq!(settings.loss, Loss::MppiRelative { temperature: 0.5 });
    let rect = controls_frame(&ctx, &mut settings, vec![])["temperature"];
    let target = egui::pos2(rect.left() + 0.9 * ctx.global_style().spacing.slider_width, rect.center().y);
    controls_frame(&ctx, &mut settings, vec![egui::Event::PointerMoved(target), press_at(target, true)]);
    controls_frame(&ctx, &mut settings, vec![press_at(target, false)]);
    let Loss::MppiRelative { temperature } = settings.loss else { panic!("loss changed kind: {:?}", settings.loss) };
    assert!(temperature > 2.0, "temperature {temperature}");
    settings.validate().expect("widgets keep values valid");
}

/// A setting the mode does not use is greyed out: clicking "start at actor" toggles it in DeMoRL
/// only, and dragging the particles slider moves it only where there is a learned model.
#[test]
fn settings_the_mode_does_not_use_are_inert_in_the_panel() {
    let ctx = egui::Context::default();
    let press = |settings: &mut PlannerSettings, mode: RunMode, widget: &str, x: f32| {
        let rect = ui_frame(&ctx, vec![], |ui| planner_controls(ui, settings, mode))[widget];
        click_at(&ctx, egui::pos2(rect.left() + x, rect.center().y), |ui| planner_controls(ui, settings, mode));
    };
    let slider_end = 0.9 * ctx.global_style().spacing.slider_width;
    for (mode, actor, model) in
        [(RunMode::Demorl, true, true), (RunMode::MpcLearned, false, true), (RunMode::MpcSimulator, false, false)]
    {
        let mut settings = PlannerSettings { particles: 1, ..PlannerSettings::default() };
        press(&mut settings, mode, "start_at_prior", 8.0);
        assert_eq!(settings.start_at_prior, actor, "{mode:?}: start at actor");
        press(&mut settings, mode, "particles", slider_end);
        assert_eq!(settings.particles > 1, model, "{mode:?}: particles {}", settings.particles);
    }
}

/// The quadruped's gait: ticking the box brings it back after a preset dropped it, and the
/// amplitude slider rescales every joint's swing in proportion.
#[test]
fn the_gait_box_restores_the_scene_gait_and_its_slider_scales_it() {
    let scene = demorl_studio::scene::load_scene(Path::new("scenes/quadruped.ron")).unwrap();
    let gait = scene.planner.nominal.clone().expect("the quadruped plans around a trot");
    let ctx = egui::Context::default();
    let mut settings = preset("reference").unwrap();
    let frame =
        |settings: &mut PlannerSettings, events| ui_frame(&ctx, events, |ui| gait_controls(ui, settings, Some(&gait)));
    let rects = frame(&mut settings, vec![]);
    assert!(!rects.contains_key("gait_amplitude"), "no sliders while the gait is off");
    let tick = rects["gait_toggle"].left_center() + egui::vec2(8.0, 0.0);
    frame(&mut settings, vec![egui::Event::PointerMoved(tick), press_at(tick, true)]);
    frame(&mut settings, vec![press_at(tick, false)]);
    assert_eq!(settings.nominal.as_ref(), Some(&gait));

    let rect = frame(&mut settings, vec![])["gait_amplitude"];
    let target = egui::pos2(rect.left() + 0.5 * ctx.global_style().spacing.slider_width, rect.center().y);
    frame(&mut settings, vec![egui::Event::PointerMoved(target), press_at(target, true)]);
    frame(&mut settings, vec![press_at(target, false)]);
    let edited = settings.nominal.clone().unwrap();
    let scale = edited.amplitude[0] / gait.amplitude[0];
    assert!(scale > 2.0, "amplitude {:?}", edited.amplitude);
    for (a, b) in edited.amplitude.iter().zip(&gait.amplitude) {
        assert!((a - b * scale).abs() < 1e-6, "{:?} is not {scale} x {:?}", edited.amplitude, gait.amplitude);
    }
    settings.validate().expect("widgets keep values valid");

    // Unticking drops the schedule; a scene without one shows no gait widgets at all.
    frame(&mut settings, vec![egui::Event::PointerMoved(tick), press_at(tick, true)]);
    frame(&mut settings, vec![press_at(tick, false)]);
    assert_eq!(settings.nominal, None);
    let mut plain = preset("reference").unwrap();
    assert!(ui_frame(&ctx, vec![], |ui| gait_controls(ui, &mut plain, None)).is_empty());
}

#[test]
fn planner_widgets_keep_every_valid_value_and_follow_the_knob_table() {
    use demorl_studio::config::{MirrorMap, knobs};
    let ctx = egui::Context::default();
    // Valid values beyond the sliders' spans (a long horizon, a large Euclidean step) survive a frame.
    let mut settings = PlannerSettings {
        horizon: 1000,
        samples: 5000,
        particles: 1,
        mirror_map: MirrorMap::Euclidean,
        mean_step: 20.0,
        ..PlannerSettings::default()
    };
    settings.validate().unwrap();
    let before = settings.clone();
    let rects = controls_frame(&ctx, &mut settings, vec![]);
    assert_eq!(settings, before, "the panel changed valid settings");
    // Every knob of the table that applies has its widget.
    for knob in [knobs::HORIZON, knobs::SAMPLES, knobs::EUCLIDEAN_MEAN_STEP, knobs::MIN_STD, knobs::DISCOUNT] {
        assert!(rects.contains_key(knob.widget), "{} has no widget", knob.field);
    }
    // Switching to KL (steps at most 1) brings the step into KL's range instead of leaving it invalid.
    settings.mirror_map = MirrorMap::Kl;
    controls_frame(&ctx, &mut settings, vec![]);
    assert_eq!(settings.mean_step, 1.0);
    settings.validate().unwrap();
}

#[test]
fn evaluation_gets_its_own_kappa_from_a_tick_and_its_slider() {
    let ctx = egui::Context::default();
    let mut settings = PlannerSettings { particles: 2, disagreement_penalty: 1.0, ..PlannerSettings::default() };
    let click_at = |settings: &mut PlannerSettings, pos: egui::Pos2| {
        controls_frame(&ctx, settings, vec![egui::Event::PointerMoved(pos), press_at(pos, true)]);
        controls_frame(&ctx, settings, vec![press_at(pos, false)])
    };
    let rects = controls_frame(&ctx, &mut settings, vec![]);
    assert!(!rects.contains_key("evaluation_disagreement"), "no slider while evaluation shares training's κ");
    let tick = rects["evaluation_disagreement_on"].left_center() + egui::vec2(8.0, 0.0);
    let rects = click_at(&mut settings, tick);
    assert_eq!(settings.evaluation_disagreement_penalty, Some(1.0), "it starts at the training κ");
    // The slider spans κ 0–3: near its right end, evaluation becomes cautious; training keeps 1.
    let rect = rects["evaluation_disagreement"];
    click_at(&mut settings, egui::pos2(rect.left() + 0.95 * ctx.global_style().spacing.slider_width, rect.center().y));
    let kappa = settings.evaluation_disagreement_penalty.unwrap();
    assert!(kappa > 2.5, "κ in evaluation {kappa}");
    assert_eq!(settings.disagreement_penalty, 1.0);
    settings.validate().expect("widgets keep values valid");
    click_at(&mut settings, tick);
    assert_eq!(settings.evaluation_disagreement_penalty, None, "unticked, evaluation follows training again");
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

// ---- Learning modes ----

/// Small networks and a short schedule, so a learning run takes seconds.
fn small_train() -> TrainSettings {
    TrainSettings {
        warmup_steps: 20,
        eval_every: 30,
        eval_episodes: 1,
        log_every: 10,
        model_train_every: 20,
        sac: SacSettings { hidden: vec![32, 32], batch_size: 16, ..Default::default() },
        ensemble: EnsembleSettings {
            members: 3,
            elites: 2,
            hidden_layers: 2,
            hidden_width: 32,
            batch_size: 16,
            max_epochs: 5,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn small_planner() -> PlannerSettings {
    PlannerSettings { horizon: 6, samples: 16, iterations: 2, particles: 2, ..preset("demorl-h15").unwrap() }
}

/// A pendulum experiment in `mode` with the small settings, in lockstep.
fn learning_experiment(mode: RunMode, seed: u64) -> Experiment {
    learning_experiment_on("scenes/pendulum.ron", mode, seed)
}

fn learning_experiment_on(scene: &str, mode: RunMode, seed: u64) -> Experiment {
    let path = Path::new(scene);
    let scene = demorl_studio::scene::load_scene(path).unwrap();
    let mut e = Experiment::start(path, scene, mode, small_planner(), small_train(), seed, 1).unwrap();
    e.run.blocking = true;
    e
}

/// Clicks the mode-controls button `name`.
fn click(ctx: &egui::Context, e: &mut Experiment, name: &str) {
    click_widget(ctx, name, |ui| mode_controls(ui, e));
}

/// Clicks the widget `name` of a panel (one frame to lay out, one to press, one to release).
fn click_widget(ctx: &egui::Context, name: &str, mut panel: impl FnMut(&mut egui::Ui) -> WidgetRects) {
    let target = ui_frame(ctx, vec![], &mut panel)[name].center();
    click_at(ctx, target, panel);
}

fn click_at(ctx: &egui::Context, target: egui::Pos2, mut panel: impl FnMut(&mut egui::Ui) -> WidgetRects) {
    ui_frame(ctx, vec![egui::Event::PointerMoved(target), press_at(target, true)], &mut panel);
    ui_frame(ctx, vec![press_at(target, false)], &mut panel);
}

#[test]
fn choosing_sac_or_demorl_in_the_panel_restarts_the_experiment_in_that_mode() {
    let mut e = Experiment::new(Path::new("scenes/pendulum.ron"), 3, 1).unwrap();
    e.run.blocking = true;
    e.run.train = small_train();
    for _ in 0..3 {
        e.advance(0.0);
    }
    assert_eq!((e.run.mode, e.history.env_steps), (RunMode::MpcSimulator, 3));
    let ctx = egui::Context::default();
    click(&ctx, &mut e, "sac");
    assert_eq!((e.run.mode, e.history.env_steps, e.history.episode), (RunMode::Sac, 0, 0), "restarted from step 0");
    assert!(e.run.blocking, "run controls carry over");
    assert_eq!(e.run.train.eval_every, 30, "learning settings carry over");
    e.advance(0.0);
    assert_eq!(e.history.env_steps, 1);
    assert_eq!(e.history.learning.evals.len(), 1, "a learning run evaluates at step 0");
    assert!(e.history.last_trace.is_none(), "SAC does not plan");

    click(&ctx, &mut e, "demorl");
    assert_eq!((e.run.mode, e.history.env_steps), (RunMode::Demorl, 0));
    assert_eq!(e.run.settings, e.run.scene.defaults(RunMode::Demorl).planner);
    assert!(e.history.learning.evals.is_empty());
    // The learned model is selected and the simulator is not offered outside mpc.
    click(&ctx, &mut e, "simulator");
    assert_eq!(e.run.mode, RunMode::Demorl);

    click(&ctx, &mut e, "mpc");
    assert_eq!(e.run.mode, RunMode::MpcSimulator);
    click(&ctx, &mut e, "learned");
    assert_eq!(e.run.mode, RunMode::MpcLearned);
    e.advance(0.0);
    e.advance(0.0);
    click(&ctx, &mut e, "reset_training");
    assert_eq!((e.run.mode, e.history.env_steps), (RunMode::MpcLearned, 0));
}

#[test]
fn n_updates_advance_exactly_n_env_steps_in_a_learning_mode() {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .insert_resource(learning_experiment(RunMode::Demorl, 1))
        .add_plugins(ExperimentPlugin);
    app.finish();
    app.cleanup();
    // Across the warm-up, the first model fit (step 20) and the evaluation at step 30.
    for n in 1..=35 {
        app.update();
        let e = experiment(&app);
        assert_eq!((e.history.env_steps, u64::from(e.run.env.steps())), (n, n));
    }
    let e = experiment(&app);
    assert_eq!(e.history.learning.model_fits.len(), 1);
    let [_, mse, predicted_variance] = e.history.learning.model_fits[0];
    assert!(mse > 0.0 && predicted_variance > 0.0 && predicted_variance.is_finite(), "{mse} {predicted_variance}");
    assert!(e.history.learning.updates > 0, "SAC updates after warm-up");
    assert!(e.history.last_trace.is_some(), "plans after warm-up");
}

#[test]
fn the_studio_learns_exactly_as_the_headless_trainer() {
    // 210 steps: past the first episode's end (200 steps), two refits and evaluations at 0, 100, 200.
    let steps = 210;
    let train = TrainSettings { eval_every: 100, ..small_train() };
    let scene = demorl_studio::scene::load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    let path = Path::new("scenes/pendulum.ron");
    let mut e = Experiment::start(path, scene.clone(), RunMode::Demorl, small_planner(), train.clone(), 4, 1).unwrap();
    e.run.blocking = true;
    for _ in 0..steps {
        e.advance(0.0);
    }
    let config = e.run_config();
    let headless =
        run_learning(&demorl_studio::config::RunConfig { steps, ..config }, &scene, None, |_| {}, |_| {}).unwrap();
    // NaN fields (no return yet, no update yet) compare equal through their Debug text.
    assert_eq!(e.history.learning.evals.len(), 3);
    assert_eq!(format!("{:?}", e.history.learning.evals), format!("{:?}", &headless.evals[..3]));
    assert_eq!(e.history.learning.rows.len(), 21);
    assert_eq!(format!("{:?}", e.history.learning.rows), format!("{:?}", &headless.rows[..21]));
    assert!(e.history.learning.rows.last().unwrap().critic_loss.is_finite());
    assert_eq!(e.history.learning.train_episodes.len(), 1);
    assert_eq!(e.history.learning.train_episodes[0].episode_return, headless.evals[2].last_train_return);
    assert!(!e.history.learning.train_episodes[0].fell, "the pendulum's episode ended at its time limit");
}

#[test]
fn the_studio_marks_the_training_episodes_that_fell() {
    // SAC's uniform warm-up actions topple the hopper within a few dozen steps.
    let steps = 150;
    let mut e = learning_experiment_on("scenes/hopper.ron", RunMode::Sac, 2);
    for _ in 0..steps {
        e.advance(0.0);
    }
    let scene = demorl_studio::scene::load_scene(Path::new("scenes/hopper.ron")).unwrap();
    let headless =
        run_learning(&demorl_studio::config::RunConfig { steps, ..e.run_config() }, &scene, None, |_| {}, |_| {})
            .unwrap();
    let falls = headless.episodes.iter().filter(|episode| episode.fell).count();
    assert!(falls >= 2, "the hopper fell: {:?}", headless.episodes);
    assert_eq!(e.history.learning.train_episodes, headless.episodes, "the trainer's episodes, falls marked");
}

#[test]
fn the_status_line_says_what_the_schedule_still_holds_back() {
    use demorl_studio::config::PlannerStart;
    use demorl_studio::studio::panels::learning_state;
    // Warm-up and the first fit end at step 20; evaluations at multiples of 30.
    let train = TrainSettings { planner_start: PlannerStart::Step(40), terminal_value_start: 80, ..small_train() };
    let path = Path::new("scenes/pendulum.ron");
    let scene = demorl_studio::scene::load_scene(path).unwrap();
    let mut e = Experiment::start(path, scene, RunMode::Demorl, small_planner(), train, 4, 1).unwrap();
    e.run.blocking = true;
    let mut seen = Vec::new();
    for steps in [10, 35, 50, 85] {
        while e.history.env_steps < steps {
            e.advance(0.0);
        }
        seen.push(learning_state(&e));
    }
    let expected = [
        "warm-up: random actions, 10 steps left",
        "learning, the actor acts until the planner starts",
        "learning, plans without the critic until step 80",
        "learning ",
    ];
    for (state, phase) in seen.iter().zip(expected) {
        assert!(state.contains(phase), "{state:?} should say {phase:?}: {seen:#?}");
    }
}

#[test]
fn learned_model_plans_draw_non_empty_strips_from_the_robot() {
    let mut e = learning_experiment(RunMode::MpcLearned, 2);
    for _ in 0..25 {
        e.advance(0.0);
    }
    let trace = e.history.last_trace.clone().expect("plans after the warm-up");
    assert_eq!(trace.point_count, 1, "the pendulum's tip");
    let strips = plan_strips(&trace, &TraceOptions::default());
    assert!(strips.iter().any(|s| s.layer == Layer::Mean));
    assert!(strips.iter().filter(|s| s.layer != Layer::Mean).count() >= 2);
    for strip in &strips {
        assert_eq!(strip.points.len(), trace.horizon + 1);
        assert!(strip.points.iter().flatten().all(|v| v.is_finite()));
    }
    // Every plan starts at the tip where it was made (before this step's action).
    let before = &e.history.executed[e.history.executed.len() - 2][0];
    let start = trace.mean_points[0];
    assert!((0..3).all(|k| (start[k] - before[k]).abs() < 1e-4), "{start:?} vs {before:?}");
    // The tip moves along the plan (a 1 m rod about a pivot 1.5 m up).
    let end = trace.mean_points[trace.horizon];
    assert!(end != start);
    assert!(((end[0]).powi(2) + (end[1] - 1.5).powi(2)).sqrt() - 1.0 < 1e-3);
}

#[test]
fn an_evaluation_row_arrives_after_eval_every_steps() {
    let mut e = learning_experiment(RunMode::Sac, 5);
    e.advance(0.0);
    assert_eq!(e.history.learning.evals.len(), 1);
    assert_eq!(e.history.learning.evals[0].env_steps, 0);
    for _ in 1..30 {
        e.advance(0.0);
    }
    assert_eq!(e.history.learning.evals.len(), 2, "the evaluation at step 30 belongs to step 30");
    assert_eq!(e.history.learning.evals[1].env_steps, 30);
    assert!(!e.history.evaluating);
    assert!(
        e.history.learning.evals[1].eval_return_mean < 0.0 && e.history.learning.evals[1].eval_length_mean == 200.0
    );
}

#[test]
fn a_floating_base_scene_draws_learned_model_plans_from_where_the_robot_stands() {
    // The hopper's observation has no x position: plans are dead-reckoned from its velocity and
    // placed at the torso's position when the plan was made.
    let mut e = learning_experiment_on("scenes/hopper.ron", RunMode::MpcLearned, 1);
    for n in 1..=25 {
        e.advance(0.0);
        assert_eq!(e.history.env_steps, n);
    }
    let trace = e.history.last_trace.as_ref().expect("plans after the warm-up");
    let pc = trace.point_count;
    assert_eq!(pc, e.run.env.robot().drawn_sites.len());
    assert!(!plan_strips(trace, &TraceOptions::default()).is_empty());
    // Step 0 of the mean plan is the state the plan started from: the executed points before the last step.
    let before = &e.history.executed[e.history.executed.len() - 2];
    for (a, b) in trace.mean_points[..pc].iter().zip(before) {
        assert!((0..3).all(|k| (a[k] - b[k]).abs() < 3e-3), "{a:?} vs {b:?}");
    }
}

// ---- Divergence, saves and exports ----

#[test]
fn a_diverging_learner_stops_the_loop_with_a_message_and_reset_training_recovers() {
    let mut e = learning_experiment(RunMode::Sac, 1);
    e.run.train.sac.critic_lr = 1e30;
    e.run.train.sac.actor_lr = 1e30;
    e.reset_training().unwrap();
    for _ in 0..2000 {
        if e.ui.stopped.is_some() {
            break;
        }
        e.advance(0.0);
    }
    let stopped = e.ui.stopped.clone().expect("an absurd learning rate diverges");
    assert!(stopped.contains("learning stopped at env step") && stopped.contains("reset training"), "{stopped}");
    let at = e.history.env_steps;
    // No more steps (and no hang in blocking mode, no empty action replayed).
    for _ in 0..5 {
        assert_eq!(e.advance(0.0), 0);
    }
    assert_eq!(e.history.env_steps, at);
    assert!(e.request_save("after-nan").is_err(), "a stopped run is not saved");
    e.reset_training().unwrap();
    assert!(e.ui.stopped.is_none());
    e.advance(0.0);
    assert_eq!(e.history.env_steps, 1);
}

/// Runs a blocking experiment until `steps` env steps.
fn advance_to(e: &mut Experiment, steps: u64) {
    while e.history.env_steps < steps {
        assert_eq!(e.advance(0.0), 1, "{:?}", e.ui.message);
    }
}

#[test]
fn a_save_from_the_studio_loads_and_continues_exactly_like_an_uninterrupted_run() {
    let folder = tempfile::tempdir().unwrap();
    // Evaluations at 0, 110 and 220: the save at step 200 is not at an evaluation, and one follows it.
    let train = TrainSettings { eval_every: 110, ..small_train() };
    let path = Path::new("scenes/pendulum.ron");
    let scene = demorl_studio::scene::load_scene(path).unwrap();
    let start = || {
        let mut e =
            Experiment::start(path, scene.clone(), RunMode::Demorl, small_planner(), train.clone(), 4, 1).unwrap();
        e.run.blocking = true;
        e.ui.saves_dir = folder.path().to_path_buf();
        e
    };
    let mut whole = start();
    advance_to(&mut whole, 230);

    let mut first = start();
    advance_to(&mut first, 5);
    assert_eq!(first.default_save_name(), "pendulum-demorl-seed4");
    first.request_save("run").unwrap();
    assert!(first.ui.saving.is_some());
    // The first episode ends at step 200; the save is taken before step 201.
    advance_to(&mut first, 200);
    assert!(first.ui.saving.is_some(), "still waiting for the episode start");
    advance_to(&mut first, 201);
    assert!(first.ui.saving.is_none(), "{:?}", first.ui.message);
    assert!(first.ui.save_outcome.as_deref().unwrap().contains("at env step 200"), "{:?}", first.ui.save_outcome);
    let entries = demorl_studio::agent::list_checkpoints(folder.path());
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].manifest.as_ref().unwrap().trainer.env_steps, 200);

    // A fresh studio in another mode loads it and continues in the save's mode.
    let mut resumed = learning_experiment(RunMode::Sac, 9);
    resumed.load_save(&folder.path().join("run")).unwrap();
    assert_eq!(
        (resumed.run.mode, resumed.history.env_steps, resumed.history.episode, resumed.run.seed),
        (RunMode::Demorl, 200, 1, 4)
    );
    assert!(resumed.run.blocking, "run controls carry over");
    advance_to(&mut resumed, 230);
    assert_eq!(whole.history.learning.evals.len(), 3);
    assert_eq!(format!("{:?}", resumed.history.learning.evals), format!("{:?}", whole.history.learning.evals));
    assert_eq!(resumed.history.learning.rows.len(), 23);
    assert_eq!(format!("{:?}", resumed.history.learning.rows), format!("{:?}", whole.history.learning.rows));
    assert_eq!(resumed.history.learning.updates, whole.history.learning.updates);
    assert_eq!(resumed.history.learning.train_episodes, whole.history.learning.train_episodes, "the returns curve");
    assert_eq!(resumed.history.learning.train_episodes.len(), 1);
    assert_eq!(resumed.run.env.observation(), whole.run.env.observation(), "the studio's env copy follows");
}

#[test]
fn a_corrupt_save_is_refused_with_a_message_and_the_experiment_keeps_running() {
    let folder = tempfile::tempdir().unwrap();
    let mut e = learning_experiment(RunMode::Sac, 2);
    e.ui.saves_dir = folder.path().to_path_buf();
    e.request_save("start").unwrap();
    advance_to(&mut e, 1);
    assert!(
        e.ui.saving.is_none() && e.ui.save_outcome.as_deref().unwrap().contains("at env step 0"),
        "{:?}",
        e.ui.save_outcome
    );
    let dir = folder.path().join("start");
    let replay = dir.join("agent/replay.bin");
    let mut bytes = std::fs::read(&replay).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&replay, &bytes).unwrap();
    let before: Vec<_> = walk(&dir);
    let error = format!("{:#}", e.load_save(&dir).unwrap_err());
    assert!(error.contains("replay.bin") && error.contains("checksum"), "{error}");
    assert_eq!(walk(&dir), before, "a failed load changes nothing on disk");
    let entries = demorl_studio::agent::list_checkpoints(folder.path());
    assert!(entries[0].manifest.as_ref().is_err_and(|why| why.contains("replay.bin")));
    assert_eq!((e.run.mode, e.history.env_steps), (RunMode::Sac, 1));
    advance_to(&mut e, 3);
    assert!(e.request_save("../escape").is_err(), "a save name is one folder name");
}

/// Every file under `dir` with its bytes.
fn walk(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    files.sort();
    files
}

#[test]
fn exporting_the_episode_writes_a_row_per_step_with_observation_action_reward_and_plan() {
    let folder = tempfile::tempdir().unwrap();
    let mut e = Experiment::new(Path::new("scenes/pendulum.ron"), 3, 1).unwrap();
    e.run.blocking = true;
    e.ui.exports_dir = folder.path().to_path_buf();
    advance_to(&mut e, 7);
    let path = e.export_episode_csv().unwrap();
    assert_eq!(path, folder.path().join("pendulum-episode1.csv"));
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (obs, act) = (e.run.env.obs_dim(), e.run.env.action_dim());
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(header.len(), 1 + obs + 2 * act + 1);
    assert_eq!((header[0], header[1], header[1 + obs], header[1 + obs + act]), ("step", "obs0", "action0", "reward"));
    assert_eq!(header.last(), Some(&"planned_mean0"));
    assert_eq!(lines.len(), 1 + 7);
    for (k, line) in lines[1..].iter().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), header.len());
        assert_eq!(fields[0], k.to_string());
        assert!(fields[1..].iter().all(|f| f.parse::<f32>().is_ok_and(f32::is_finite)), "{line}");
    }
}

#[test]
fn a_preset_saved_from_the_panel_loads_back_and_built_ins_are_read_only() {
    let folder = tempfile::tempdir().unwrap();
    let ctx = egui::Context::default();
    let mut state = PresetUi::new(PresetStore::new(folder.path()));
    let mine = PlannerSettings { horizon: 17, samples: 40, ..preset("mppi").unwrap() };
    let mut settings = mine.clone();
    // Type the name into the field, then press save.
    click_widget(&ctx, "preset_name", |ui| preset_controls(ui, &mut settings, &mut state));
    ui_frame(&ctx, vec![egui::Event::Text("mine".into())], |ui| preset_controls(ui, &mut settings, &mut state));
    assert_eq!(state.name, "mine");
    click_widget(&ctx, "save_preset", |ui| preset_controls(ui, &mut settings, &mut state));
    assert!(state.status.as_deref().unwrap().starts_with("saved preset mine"), "{:?}", state.status);
    assert!(folder.path().join("mine.ron").is_file());

    // Load it back through the picker.
    settings = PlannerSettings::default();
    click_widget(&ctx, "preset_picker", |ui| preset_controls(ui, &mut settings, &mut state));
    ui_frame(&ctx, vec![], |ui| preset_controls(ui, &mut settings, &mut state));
    let names: Vec<&str> = state.item_rects.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"mppi") && names.contains(&"mine"), "{names:?}");
    let item = state.item_rects.iter().find(|(n, _)| n == "mine").unwrap().1.center();
    click_at(&ctx, item, |ui| preset_controls(ui, &mut settings, &mut state));
    assert_eq!(settings, mine);

    // Saving again needs the overwrite box.
    click_widget(&ctx, "save_preset", |ui| preset_controls(ui, &mut settings, &mut state));
    assert!(state.status.as_deref().unwrap().contains("already exists"), "{:?}", state.status);
    click_widget(&ctx, "overwrite_preset", |ui| preset_controls(ui, &mut settings, &mut state));
    assert!(state.overwrite);
    click_widget(&ctx, "save_preset", |ui| preset_controls(ui, &mut settings, &mut state));
    assert!(state.status.as_deref().unwrap().starts_with("saved preset mine"), "{:?}", state.status);

    // A built-in name is refused with a message, even with overwrite ticked.
    state.name = "mppi".into();
    state.overwrite = true;
    click_widget(&ctx, "save_preset", |ui| preset_controls(ui, &mut settings, &mut state));
    let status = state.status.clone().unwrap();
    assert!(status.contains("mppi") && status.contains("built-in"), "{status}");
    assert!(!folder.path().join("mppi.ron").exists());
}

#[test]
fn the_saves_panel_saves_lists_and_loads_and_shows_unloadable_saves() {
    let folder = tempfile::tempdir().unwrap();
    let ctx = egui::Context::default();
    let mut e = learning_experiment(RunMode::Sac, 6);
    e.ui.saves_dir = folder.path().to_path_buf();
    let mut state = SavesUi::default();
    click_widget(&ctx, "save", |ui| saves_panel(ui, &mut e, &mut state));
    assert!(e.ui.saving.as_ref().is_some_and(|d| d.ends_with("pendulum-sac-seed6")), "{:?}", e.ui.saving);
    advance_to(&mut e, 3);
    assert!(e.ui.saving.is_none());
    // A second, broken save: its manifest is not RON.
    std::fs::create_dir_all(folder.path().join("broken")).unwrap();
    std::fs::write(folder.path().join("broken/manifest.ron"), "format_version: 1, (").unwrap();
    let rects = ui_frame(&ctx, vec![], |ui| saves_panel(ui, &mut e, &mut state));
    let entries = state.entries.as_ref().expect("listed after the save");
    assert_eq!(entries.len(), 2);
    assert!(entries[0].manifest.is_err(), "broken sorts first");
    assert_eq!(entries[1].manifest.as_ref().unwrap().trainer.env_steps, 0);
    assert!(rects.contains_key("load_first"));
    click_widget(&ctx, "load_first", |ui| saves_panel(ui, &mut e, &mut state));
    assert_eq!((e.run.mode, e.history.env_steps), (RunMode::Sac, 0), "{:?}", e.ui.message);
    assert!(e.ui.message.as_deref().unwrap().starts_with("loaded"), "{:?}", e.ui.message);
    assert_eq!(utc_minutes(0), "1970-01-01 00:00");
    assert_eq!(utc_minutes(1_764_077_040), "2025-11-25 13:24");
}

#[test]
fn a_physics_blow_up_ends_the_episode_with_its_reason_shown_and_the_studio_goes_on() {
    // A 1 mg pole driven by a 1 MN·m motor: the first torque flings it past any sane speed.
    let text = std::fs::read_to_string("scenes/pendulum.ron").unwrap();
    let pole = "mass: Some(1.0), position: (0.0, 2.0, 0.0)";
    assert_eq!(text.matches(pole).count(), 1);
    let text = text.replacen(pole, "mass: Some(0.000001), position: (0.0, 2.0, 0.0)", 1).replacen(
        "Torque(max_torque: 2.0)",
        "Torque(max_torque: 1000000.0)",
        1,
    );
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("wild.ron");
    std::fs::write(&path, text).unwrap();
    // SAC's warm-up acts at random, so the very first step applies a large torque; the trainer
    // ends the episode and keeps learning (a blow-up is not a learning divergence).
    let scene = demorl_studio::scene::load_scene(&path).unwrap();
    let mut e = Experiment::start(&path, scene, RunMode::Sac, small_planner(), small_train(), 0, 1).unwrap();
    e.run.blocking = true;
    let mut steps = 0;
    while e.history.finished.is_empty() && steps < 20 {
        e.advance(0.0);
        steps += 1;
    }
    let ended =
        e.history.finished.first().unwrap_or_else(|| panic!("no episode ended: obs {:?}", e.run.env.observation()));
    assert!(ended.end.starts_with("physics blow-up"), "{}", ended.end);
    let shown = e.ui.message.clone().unwrap_or_default();
    assert!(shown.contains("physics blow-up"), "the status message names the reason: {shown}");
    e.advance(0.0);
    assert_eq!(e.history.env_steps, steps + 1, "the studio went on with a new episode");
    assert!(e.ui.stopped.is_none(), "learning was not stopped: {:?}", e.ui.stopped);
}

#[test]
fn a_software_renderer_caps_frames_and_draws_a_grid_ground_unless_the_user_chose() {
    use bevy::winit::UpdateMode;
    use demorl_studio::studio::frame_budget::{FrameBudget, SOFTWARE_MAX_FPS};
    let mut software = FrameBudget::default();
    assert_eq!(software.update_mode(), UpdateMode::Continuous);
    software.adopt_renderer("llvmpipe (LLVM 19.1.7, 256 bits)", true);
    assert_eq!((software.max_fps, software.ground_plane), (Some(SOFTWARE_MAX_FPS), false));
    let UpdateMode::Reactive { wait, react_to_window_events, .. } = software.update_mode() else {
        panic!("not capped")
    };
    assert_eq!(wait, std::time::Duration::from_millis(200));
    assert!(!react_to_window_events, "a redraw is a window event: reacting to it would undo the cap");
    assert!(software.describe().contains("llvmpipe") && software.describe().contains("software"));

    let mut gpu = FrameBudget::default();
    gpu.adopt_renderer("NVIDIA GeForce RTX 4070", false);
    assert_eq!((gpu.max_fps, gpu.ground_plane, gpu.update_mode()), (None, true, UpdateMode::Continuous));

    // `--max-fps 0` (or screenshots) on a software renderer: the user's choice stands.
    let mut chosen = FrameBudget::chosen(None, true);
    chosen.adopt_renderer("llvmpipe", true);
    assert_eq!((chosen.max_fps, chosen.ground_plane), (None, true));
    // `--max-fps 4`: the cap is the user's, the ground still follows the renderer.
    let mut cap_only = FrameBudget::with_max_fps(Some(4.0));
    cap_only.adopt_renderer("llvmpipe", true);
    assert_eq!((cap_only.max_fps, cap_only.ground_plane), (Some(4.0), false));
}

#[test]
fn the_frame_budget_sets_the_window_update_mode_the_shadows_and_the_ground_plane() {
    use bevy::winit::{UpdateMode, WinitSettings};
    use demorl_studio::studio::frame_budget::{FrameBudget, apply_budget};
    use demorl_studio::studio::view::Ground;
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .insert_resource(WinitSettings::game())
        .insert_resource(FrameBudget::chosen(Some(20.0), false))
        .add_systems(Update, apply_budget);
    let sun = app.world_mut().spawn(DirectionalLight { shadow_maps_enabled: true, ..default() }).id();
    let ground = app.world_mut().spawn((Visibility::Inherited, Ground)).id();
    app.update();
    assert_eq!(app.world().get::<Visibility>(ground), Some(&Visibility::Hidden), "no shadows: grid lines only");
    let winit = app.world().resource::<WinitSettings>();
    let capped = FrameBudget::chosen(Some(20.0), false).update_mode();
    assert!(matches!(capped, UpdateMode::Reactive { wait, .. } if wait == std::time::Duration::from_millis(50)));
    assert_eq!((winit.focused_mode, winit.unfocused_mode), (capped, capped));
    assert!(!app.world().get::<DirectionalLight>(sun).unwrap().shadow_maps_enabled);

    *app.world_mut().resource_mut::<FrameBudget>() = FrameBudget::chosen(None, true);
    app.update();
    assert_eq!(app.world().resource::<WinitSettings>().focused_mode, UpdateMode::Continuous);
    assert!(app.world().get::<DirectionalLight>(sun).unwrap().shadow_maps_enabled);
    assert_eq!(app.world().get::<Visibility>(ground), Some(&Visibility::Inherited));
}

#[test]
fn edits_in_the_rendering_panel_toggle_cap_and_ground_plane_as_the_users_choice() {
    use demorl_studio::studio::frame_budget::{FrameBudget, budget_controls};
    let ctx = egui::Context::default();
    let mut budget = FrameBudget::default();
    budget.adopt_renderer("llvmpipe", true);
    assert!(budget.max_fps.is_some() && !budget.ground_plane && !budget.fps_chosen && !budget.ground_chosen);
    click_widget(&ctx, "cap_frame_rate", |ui| budget_controls(ui, &mut budget));
    assert_eq!(budget.max_fps, None);
    assert!(budget.fps_chosen && !budget.ground_chosen, "an edit is the user's choice");
    click_widget(&ctx, "ground_plane", |ui| budget_controls(ui, &mut budget));
    assert!(budget.ground_plane && budget.ground_chosen);
    click_widget(&ctx, "cap_frame_rate", |ui| budget_controls(ui, &mut budget));
    assert_eq!(budget.max_fps, Some(demorl_studio::studio::frame_budget::SOFTWARE_MAX_FPS));
}

#[test]
fn an_episode_summary_splits_the_return_into_its_reward_terms_in_the_studio_and_headless() {
    let path = Path::new("scenes/quadruped.ron");
    let mut scene = demorl_studio::scene::load_scene(path).unwrap();
    scene.task.episode_steps = 12;
    let settings = PlannerSettings { horizon: 3, samples: 6, iterations: 1, ..scene.planner.clone() };
    let mut studio = Experiment::with_settings(path, scene.clone(), settings.clone(), 3, 1).unwrap();
    studio.run.blocking = true;
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).insert_resource(studio).add_plugins(ExperimentPlugin);
    while experiment(&app).history.finished.is_empty() {
        app.update();
    }
    let in_studio = experiment(&app).history.finished[0].clone();

    let mut env = Env::new(&scene);
    let mut agent = MpcAgent::new(&env, settings, 3, 1).unwrap();
    let headless =
        demorl_studio::agent::run_episode(&mut env, &mut agent, episode_seed(3, 0), ActionMode::Evaluation, |_, _| {});
    assert_eq!(in_studio.reward_terms.len(), 6, "one sum per quadruped reward term");
    assert_eq!((in_studio.episode_return, in_studio.length), (headless.episode_return, headless.length));
    for (a, b) in in_studio.reward_terms.iter().zip(&headless.reward_terms) {
        assert!((a - b).abs() < 1e-9, "{:?} vs {:?}", in_studio.reward_terms, headless.reward_terms);
    }
    let total: f64 = headless.reward_terms.iter().sum();
    assert!((total - headless.episode_return).abs() < 1e-3, "terms add to {total}, return {}", headless.episode_return);
    assert!(headless.reward_terms[0] > 0.0 && headless.reward_terms[1] <= 0.0, "{:?}", headless.reward_terms);
}

#[test]
fn the_schedule_panel_edits_the_warm_up_and_reset_training_applies_it() {
    use demorl_studio::studio::schedule_panel::schedule_controls;
    let ctx = egui::Context::default();
    let sac_rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut small_train(), RunMode::Sac));
    assert!(sac_rects.contains_key("actor_lr") && !sac_rects.contains_key("model_train_every"));
    let demorl_rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut small_train(), RunMode::Demorl));
    assert!(demorl_rects.contains_key("actor_lr") && demorl_rects.contains_key("model_train_every"));

    // Control: with the small schedule's 20 warm-up steps, SAC updates by step 40.
    let mut control = learning_experiment(RunMode::Sac, 2);
    advance_to(&mut control, 40);
    assert!(control.history.learning.updates > 0);

    let mut e = learning_experiment(RunMode::Sac, 2);
    let mode = e.run.mode;
    let rect = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut e.run.train, mode))["warmup_steps"];
    let target = egui::pos2(rect.left() + 0.5 * ctx.global_style().spacing.slider_width, rect.center().y);
    ui_frame(&ctx, vec![egui::Event::PointerMoved(target), press_at(target, true)], |ui| {
        schedule_controls(ui, &mut e.run.train, mode)
    });
    ui_frame(&ctx, vec![press_at(target, false)], |ui| schedule_controls(ui, &mut e.run.train, mode));
    let warmup = e.run.train.warmup_steps;
    assert!((1500..=3500).contains(&warmup), "warm-up {warmup}");
    e.reset_training().unwrap();
    advance_to(&mut e, 40);
    assert_eq!(e.history.learning.updates, 0, "still warming up for {warmup} steps");
}

#[test]
fn a_seed_typed_in_the_panel_restarts_the_run_from_that_seed() {
    let ctx = egui::Context::default();
    let mut e = Experiment::new(Path::new("scenes/leg2r.ron"), 3, 1).unwrap();
    e.run.blocking = true;
    for _ in 0..5 {
        e.advance(0.0);
    }
    let rects = ui_frame(&ctx, vec![], |ui| mode_controls(ui, &mut e));
    assert!(rects.contains_key("seed") && !rects.contains_key("restart_seed"), "no restart offered for the same seed");
    e.ui.next_seed = 11;
    click(&ctx, &mut e, "restart_seed");
    assert_eq!((e.run.seed, e.history.env_steps, e.history.episode), (11, 0, 0));
    let scene = demorl_studio::scene::load_scene(Path::new("scenes/leg2r.ron")).unwrap();
    let mut fresh = Env::new(&scene);
    fresh.reset(episode_seed(11, 0));
    assert_eq!(e.run.env.observation(), fresh.observation());
    // The restarted run is the run of seed 11: its first plan equals a fresh experiment's.
    let mut reference = Experiment::new(Path::new("scenes/leg2r.ron"), 11, 1).unwrap();
    reference.run.blocking = true;
    e.advance(0.0);
    reference.advance(0.0);
    assert_eq!(e.history.metrics.executed_action, reference.history.metrics.executed_action);
}

#[test]
fn a_recorded_settings_file_starts_its_run_in_the_studio() {
    // Not the pendulum's DeMoRL defaults (those are the patience-20 file): the refit-100 file.
    let file = Path::new("docs/settings/pendulum-demorl-cem15-refit100.ron");
    let config = demorl_studio::config::read_run_config(file).unwrap();
    let e = Experiment::from_recorded(&config, 2).unwrap();
    assert_eq!(e.run.mode, RunMode::Demorl);
    assert_eq!((e.run.seed, e.run.threads), (config.seed, 2));
    assert_eq!(e.run.scene_path, config.scene);
    assert_eq!(e.run.settings, config.planner);
    assert_eq!(e.run.train, config.train);
    assert_eq!(e.run.train.ensemble.patience, 5, "the file's learning settings, not the studio's defaults");
    assert_ne!(e.run.train, e.run.scene.defaults(RunMode::Demorl).train);

    // A recorded baseline run has no run mode (the settings file is refused, naming the mode);
    // a bad planner value is named, not run.
    let text = std::fs::read_to_string(file).unwrap().replace("mode: \"demorl\"", "mode: \"zero\"");
    let baseline = std::env::temp_dir().join(format!("demorl-baseline-{}.ron", std::process::id()));
    std::fs::write(&baseline, text).unwrap();
    let err = format!("{:#}", demorl_studio::config::read_run_config(&baseline).expect_err("a baseline is refused"));
    assert!(err.contains("`zero`") && err.contains("is not a run"), "{err}");
    let mut bad = config.clone();
    bad.planner.horizon = 0;
    assert!(Experiment::from_recorded(&bad, 1).is_err());
    let missing = demorl_studio::config::RunConfig { scene: "scenes/no-such.ron".into(), ..config };
    let err = format!("{:#}", Experiment::from_recorded(&missing, 1).err().expect("a missing scene is refused"));
    assert!(err.contains("no-such.ron"), "{err}");
}

#[test]
fn the_schedule_panel_sets_model_patience_beta_nll_restarts_and_the_refit_guard() {
    use demorl_studio::studio::schedule_panel::schedule_controls;
    let ctx = egui::Context::default();
    let mut train = small_train();
    assert_eq!(train.ensemble.refit_guard, None);
    let sac_rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, RunMode::Sac));
    assert!(!sac_rects.contains_key("refit_guard") && !sac_rects.contains_key("model_patience"));

    let mode = RunMode::Demorl;
    let rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode));
    assert!(!rects.contains_key("refit_guard_ratio"), "no ratio while the guard is off");
    click_widget(&ctx, "refit_guard", |ui| schedule_controls(ui, &mut train, mode));
    assert_eq!(train.ensemble.refit_guard, Some(2.0));
    assert!(ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode)).contains_key("refit_guard_ratio"));
    click_widget(&ctx, "refit_guard", |ui| schedule_controls(ui, &mut train, mode));
    assert_eq!(train.ensemble.refit_guard, None);

    let rect = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode))["model_patience"];
    let target = egui::pos2(rect.left() + 0.8 * ctx.global_style().spacing.slider_width, rect.center().y);
    click_at(&ctx, target, |ui| schedule_controls(ui, &mut train, mode));
    assert!((35..=45).contains(&train.ensemble.patience), "patience {}", train.ensemble.patience);

    assert!(!train.ensemble.restart_stalled);
    click_widget(&ctx, "restart_stalled", |ui| schedule_controls(ui, &mut train, mode));
    assert!(train.ensemble.restart_stalled);
    assert!(!train.ensemble.known_termination);
    click_widget(&ctx, "known_termination", |ui| schedule_controls(ui, &mut train, mode));
    assert!(train.ensemble.known_termination);
    assert_eq!(train.ensemble.backend, demorl_studio::config::EnsembleBackend::Burn);
    click_widget(&ctx, "host_backend", |ui| schedule_controls(ui, &mut train, mode));
    assert_eq!(train.ensemble.backend, demorl_studio::config::EnsembleBackend::Host);
    let rect = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode))["model_nll_beta"];
    let target = egui::pos2(rect.left() + 0.5 * ctx.global_style().spacing.slider_width, rect.center().y);
    click_at(&ctx, target, |ui| schedule_controls(ui, &mut train, mode));
    assert!((0.4..=0.6).contains(&train.ensemble.nll_beta), "β {}", train.ensemble.nll_beta);
    demorl_studio::config::check_train_settings(&train).expect("widgets keep values valid");
}

#[test]
fn the_schedule_panel_lets_kappa_follow_the_falls() {
    use demorl_studio::config::FallCaution;
    use demorl_studio::studio::schedule_panel::schedule_controls;
    let ctx = egui::Context::default();
    let mut train = small_train();
    let sac_rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, RunMode::Sac));
    assert!(!sac_rects.contains_key("fall_caution"), "SAC has no planner κ");
    let mode = RunMode::Demorl;
    let rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode));
    assert!(rects.contains_key("fall_caution") && !rects.contains_key("fall_caution_max"), "no sliders while off");
    click_widget(&ctx, "fall_caution", |ui| schedule_controls(ui, &mut train, mode));
    assert_eq!(train.fall_caution, Some(FallCaution::default()));
    let rect = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode))["fall_caution_max"];
    let target = egui::pos2(rect.left() + 0.5 * ctx.global_style().spacing.slider_width, rect.center().y);
    click_at(&ctx, target, |ui| schedule_controls(ui, &mut train, mode));
    let highest = train.fall_caution.as_ref().unwrap().max_penalty;
    assert!((4.0..=6.0).contains(&highest), "highest κ {highest}");
    // A cautious start: ticked, it starts at the ceiling; its slider spans 0 to the ceiling.
    let rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode));
    assert!(rects.contains_key("fall_caution_start") && !rects.contains_key("fall_caution_start_value"));
    click_widget(&ctx, "fall_caution_start", |ui| schedule_controls(ui, &mut train, mode));
    assert_eq!(train.fall_caution.as_ref().unwrap().start_penalty, Some(highest));
    let rect = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode))["fall_caution_start_value"];
    let target = egui::pos2(rect.left() + 0.2 * ctx.global_style().spacing.slider_width, rect.center().y);
    click_at(&ctx, target, |ui| schedule_controls(ui, &mut train, mode));
    let start = train.fall_caution.as_ref().unwrap().start_penalty.unwrap();
    assert!((0.15 * highest..=0.25 * highest).contains(&start), "start κ {start} of {highest}");
    demorl_studio::config::check_train_settings(&train).expect("widgets keep values valid");
    click_widget(&ctx, "fall_caution", |ui| schedule_controls(ui, &mut train, mode));
    assert_eq!(train.fall_caution, None);
}

#[test]
fn the_schedule_panel_sets_when_the_planner_starts() {
    use demorl_studio::config::PlannerStart;
    use demorl_studio::studio::schedule_panel::schedule_controls;
    let ctx = egui::Context::default();
    let mut train = small_train();
    let sac_rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, RunMode::Sac));
    assert!(!sac_rects.contains_key("planner_start"), "SAC has no planner");
    let mode = RunMode::Demorl;
    let rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode));
    assert!(rects.contains_key("planner_start") && !rects.contains_key("planner_start_value"));

    // Values from a settings file beyond a slider's range are shown, not rewritten.
    (train.eval_every, train.planner_start) = (10_000, PlannerStart::Step(50_000));
    ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode));
    assert_eq!((train.eval_every, train.planner_start), (10_000, PlannerStart::Step(50_000)));

    for (start, expected) in [(PlannerStart::Step(0), 10_000.0), (PlannerStart::ModelError(0.001), 0.0316)] {
        train.planner_start = start;
        let rect = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode))["planner_start_value"];
        let target = egui::pos2(rect.left() + 0.5 * ctx.global_style().spacing.slider_width, rect.center().y);
        click_at(&ctx, target, |ui| schedule_controls(ui, &mut train, mode));
        let value = match train.planner_start {
            PlannerStart::Step(step) => step as f64,
            PlannerStart::ModelError(limit) => f64::from(limit),
            PlannerStart::WarmUp => panic!("the slider switched the rule off"),
        };
        // Halfway along: 10 000 of 0..20 000 steps, or 10^-1.5 on the logarithmic error scale.
        assert!((value / expected - 1.0).abs() < 0.15, "{start:?} → {value}");
    }
    // The choice of rule: open the combo box and pick the entry under the pointer, scanning from
    // above the box to below it (the popup opens where there is room; its rows are not among the
    // panel's named rects).
    let pick = |train: &mut TrainSettings, dy: f32| {
        let combo = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, train, mode))["planner_start"];
        click_at(&ctx, combo.center(), |ui| schedule_controls(ui, train, mode));
        ui_frame(&ctx, vec![], |ui| schedule_controls(ui, train, mode));
        click_at(&ctx, egui::pos2(combo.left() + 10.0, combo.bottom() + dy), |ui| schedule_controls(ui, train, mode));
    };
    train.planner_start = PlannerStart::WarmUp;
    let row_of = |train: &mut TrainSettings, kind: fn(&PlannerStart) -> bool| {
        (-40..40).map(|k| 3.0 * k as f32).find(|&dy| {
            train.planner_start = PlannerStart::WarmUp;
            pick(train, dy);
            kind(&train.planner_start)
        })
    };
    let step_row = row_of(&mut train, |s| matches!(s, PlannerStart::Step(_))).expect("an \"at step\" entry");
    assert_eq!(train.planner_start, PlannerStart::Step(2000), "the default step: 2000 or the warm-up");
    let error_row = row_of(&mut train, |s| matches!(s, PlannerStart::ModelError(_))).expect("an error entry");
    assert!(error_row > step_row, "the entries in order: {step_row} {error_row}");
    train.planner_start = PlannerStart::Step(5000);
    pick(&mut train, step_row);
    assert_eq!(train.planner_start, PlannerStart::Step(5000), "picking the same rule keeps its value");
    demorl_studio::config::check_train_settings(&train).expect("widgets keep values valid");
}

/// The schedule panel's DeMoRL-only slider `name` (absent for SAC and PETS-like MPC), clicked at
/// `fraction` of its width: the settings it leaves, checked valid.
fn click_demorl_only_schedule_slider(name: &str, fraction: f32) -> TrainSettings {
    use demorl_studio::studio::schedule_panel::schedule_controls;
    let ctx = egui::Context::default();
    let mut train = small_train();
    for mode in [RunMode::Sac, RunMode::MpcLearned] {
        let rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode));
        assert!(!rects.contains_key(name), "{mode:?} has no {name}");
    }
    let mode = RunMode::Demorl;
    let rect = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode))[name];
    let target = egui::pos2(rect.left() + fraction * ctx.global_style().spacing.slider_width, rect.center().y);
    click_at(&ctx, target, |ui| schedule_controls(ui, &mut train, mode));
    demorl_studio::config::check_train_settings(&train).expect("widgets keep values valid");
    train
}

#[test]
fn the_schedule_panel_sets_behaviour_cloning_in_demorl_only() {
    let beta = click_demorl_only_schedule_slider("behaviour_cloning", 0.3).sac.behaviour_cloning;
    assert!((0.25..=0.35).contains(&beta), "β {beta}");
}

#[test]
fn the_schedule_panel_sets_when_plans_start_using_the_critic() {
    let start = click_demorl_only_schedule_slider("terminal_value_start", 0.25).terminal_value_start;
    assert!((4000..=6000).contains(&start), "start {start}");
}

#[test]
fn the_schedule_panel_turns_model_generated_transitions_on_in_demorl() {
    use demorl_studio::studio::schedule_panel::schedule_controls;
    let ctx = egui::Context::default();
    let mut train = small_train();
    let sac_rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, RunMode::Sac));
    assert!(!sac_rects.contains_key("model_data_per_step"));
    let mode = RunMode::Demorl;
    let rects = ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode));
    assert!(!rects.contains_key("model_data_real_fraction"), "no mix to set while generation is off");
    let rect = rects["model_data_per_step"];
    let target = egui::pos2(rect.left() + 0.4 * ctx.global_style().spacing.slider_width, rect.center().y);
    click_at(&ctx, target, |ui| schedule_controls(ui, &mut train, mode));
    let per_step = train.model_data.per_step;
    assert!((350..=450).contains(&per_step), "per step {per_step}");
    assert!(
        ui_frame(&ctx, vec![], |ui| schedule_controls(ui, &mut train, mode)).contains_key("model_data_real_fraction")
    );
    demorl_studio::config::check_train_settings(&train).expect("widgets keep values valid");
}

/// The quadruped under a small simulator planner, in lockstep.
fn small_quadruped(seed: u64) -> Experiment {
    let path = Path::new("scenes/quadruped.ron");
    let scene = demorl_studio::scene::load_scene(path).unwrap();
    let small = PlannerSettings { horizon: 4, samples: 8, iterations: 1, ..scene.planner.clone() };
    let mut e = Experiment::with_settings(path, scene, small, seed, 1).unwrap();
    e.run.blocking = true;
    e
}

#[test]
fn a_push_button_pushes_the_robot_and_the_run_replays_exactly_with_the_same_push() {
    use demorl_studio::studio::push_tool::{PushTool, push_controls};
    let ctx = egui::Context::default();
    let mut tool = PushTool { size: 80.0, duration_steps: 3, grab: None };
    let mut pushed = small_quadruped(4);
    for _ in 0..5 {
        pushed.advance(0.04);
    }
    click_widget(&ctx, "push_forward", |ui| push_controls(ui, &mut tool, &mut pushed));
    for _ in 0..10 {
        pushed.advance(0.04);
    }
    let log = &pushed.history.episode_log;
    let expected = demorl_studio::sim::Push { link: 0, force: [80.0, 0.0, 0.0], at: None, steps: 3 };
    assert_eq!(log[5].pushes, std::slice::from_ref(&expected), "the push is recorded with the step it preceded");
    assert!(log.iter().enumerate().all(|(k, s)| k == 5 || s.pushes.is_empty()));
    // The same actions and the same push, replayed on a fresh env, end in the same state; the
    // same actions without the push do not.
    let replay = |push: bool| {
        let mut env = Env::new(&demorl_studio::scene::load_scene(Path::new("scenes/quadruped.ron")).unwrap());
        env.reset(episode_seed(4, 0));
        for (k, step) in log.iter().enumerate() {
            if push && k == 5 {
                env.push(expected.clone()).unwrap();
            }
            env.step(&step.action);
        }
        env.observation()
    };
    assert_eq!(replay(true), pushed.run.env.observation());
    assert_ne!(replay(false), pushed.run.env.observation());
    // Two studio runs with the same push at the same step are the same run.
    let mut again = small_quadruped(4);
    for k in 0..15 {
        if k == 5 {
            again.push(expected.clone()).unwrap();
        }
        again.advance(0.04);
    }
    assert_eq!(again.run.env.observation(), pushed.run.env.observation());
    let actions = |e: &Experiment| e.history.episode_log.iter().map(|s| s.action.clone()).collect::<Vec<_>>();
    assert_eq!(actions(&again), actions(&pushed));
}

#[test]
fn dragging_a_link_pulls_it_toward_the_cursor() {
    use demorl_studio::studio::push_tool::{drag_push, pick_link};
    let mut dragged = small_quadruped(6);
    let mut free = small_quadruped(6);
    // A ray straight down onto the torso's middle grabs the torso at its top face.
    let grab = pick_link(&dragged.run.env, Vec3::new(0.0, 2.0, 0.0), Vec3::NEG_Y).expect("the torso is under the ray");
    assert_eq!(grab.link, 0);
    assert!((grab.depth - (2.0 - 0.293)).abs() < 1e-3, "top face at 0.253 + 0.04: depth {}", grab.depth);
    assert!(pick_link(&dragged.run.env, Vec3::new(3.0, 2.0, 0.0), Vec3::NEG_Y).is_none(), "nothing there");
    // The cursor held 0.3 m above the grabbed point: the torso rises toward it.
    let target = Vec3::new(0.0, 2.0 - grab.depth + 0.3, 0.0);
    let height = |e: &Experiment| e.run.env.physics().bodies[e.run.env.robot().links[0].body].translation().y;
    for _ in 0..8 {
        let push = drag_push(&dragged.run.env, &grab, target);
        assert!(push.force[1] > 0.0 && push.at.is_some());
        dragged.set_drag(Some(push)).unwrap();
        dragged.advance(0.04);
        free.advance(0.04);
    }
    assert!(dragged.run.drag.is_some(), "the held force is kept for drawing");
    assert!(height(&dragged) > height(&free) + 0.05, "{} vs {}", height(&dragged), height(&free));
    assert!(dragged.history.episode_log.iter().skip(1).all(|s| s.pushes.len() == 1 && s.pushes[0].steps == 1));
    dragged.set_drag(None).unwrap();
    dragged.advance(0.04);
    assert!(dragged.history.episode_log.last().unwrap().pushes.is_empty(), "released");
    assert!(dragged.push(demorl_studio::sim::Push { link: 42, force: [0.0; 3], at: None, steps: 1 }).is_err());
}

/// `n` frames of `w` × `h` RGBA: dark grey with a white 8 × 8 square moving right 2 px a frame.
fn moving_square(n: usize, w: u32, h: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|k| {
            let mut rgba = Vec::with_capacity((w * h * 4) as usize);
            for y in 0..h {
                for x in 0..w {
                    let inside = (x as usize).wrapping_sub(4 + 2 * k) < 8 && (16..24).contains(&y);
                    let v = if inside { 250 } else { 30 };
                    rgba.extend([v, v, v, 255]);
                }
            }
            rgba
        })
        .collect()
}

/// Brightness at (x, y) of an RGB(A) frame with `channels` bytes a pixel.
fn brightness(frame: &[u8], w: usize, channels: usize, x: usize, y: usize) -> u8 {
    frame[(y * w + x) * channels]
}

#[test]
fn a_recorded_gif_decodes_to_every_frame_at_its_size_and_timing() {
    use demorl_studio::studio::video::VideoWriter;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("square.gif");
    let mut writer = VideoWriter::create(&path, 64, 48, 20.0).unwrap();
    for frame in moving_square(12, 64, 48) {
        writer.push_rgba(&frame).unwrap();
    }
    assert!(writer.push_rgba(&[0; 10]).is_err(), "a frame of the wrong size is refused");
    assert_eq!(writer.finish().unwrap().1, 12);
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!((decoder.width(), decoder.height()), (64, 48));
    let mut frames = 0;
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        assert_eq!((frame.width, frame.height), (64, 48));
        assert_eq!(frame.delay, 5, "20 fps: 5 hundredths of a second a frame");
        let x = 4 + 2 * frames + 4; // the square's middle in frame k
        assert!(brightness(&frame.buffer, 64, 4, x, 20) > 200, "frame {frames}: the square at x = {x}");
        assert!(brightness(&frame.buffer, 64, 4, x + 12, 20) < 60, "frame {frames}: background beside it");
        frames += 1;
    }
    assert_eq!(frames, 12);
}

#[test]
fn a_recorded_mp4_decodes_to_every_frame_at_its_even_size() {
    use demorl_studio::studio::video::{VideoWriter, decode_mp4};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("square.mp4");
    // Odd sides: H.264 needs even ones, so the last column and row are dropped.
    let mut writer = VideoWriter::create(&path, 65, 49, 25.0).unwrap();
    assert_eq!(writer.size(), (64, 48));
    for frame in moving_square(20, 65, 49) {
        writer.push_rgba(&frame).unwrap();
    }
    assert_eq!(writer.finish().unwrap().1, 20);
    let mut decoded = 0;
    let info = decode_mp4(&path, |k, w, h, rgb| {
        assert_eq!((w, h), (64, 48));
        let x = 4 + 2 * k + 4; // the square's middle in frame k
        assert!(brightness(rgb, 64, 3, x, 20) > 170, "frame {k}: the square at x = {x}");
        assert!(brightness(rgb, 64, 3, x + 14, 20) < 90, "frame {k}: background beside it");
        decoded += 1;
    })
    .unwrap();
    assert_eq!((info.frames, info.width, info.height, decoded), (20, 64, 48, 20));
    assert!((info.seconds - 20.0 / 25.0).abs() < 0.05, "{info:?}");
    assert!(VideoWriter::create(&dir.path().join("square.avi"), 64, 48, 25.0).is_err(), "unknown container refused");
    assert!(VideoWriter::create(&dir.path().join("x.mp4"), 64, 48, 0.0).is_err(), "0 fps refused");
    std::fs::write(dir.path().join("bad.mp4"), b"not a video").unwrap();
    assert!(decode_mp4(&dir.path().join("bad.mp4"), |_, _, _, _| {}).unwrap_err().to_string().contains("bad.mp4"));
}

#[test]
fn ab_plans_score_the_frozen_state_as_planning_it_directly_and_start_at_the_robot() {
    use demorl_studio::studio::ab_plans::{AbPlans, ab_controls, plan_side};
    let ctx = egui::Context::default();
    let mut e = small_quadruped(2);
    for _ in 0..6 {
        e.advance(0.04);
    }
    let mut ab = AbPlans::new(&e.run.settings);
    assert!(matches!(ab.b.loss, Loss::Cem { .. }), "B starts from the other loss family (A is MPPI)");
    ab.b.horizon = 6;
    click_widget(&ctx, "ab_plan", |ui| ab_controls(ui, &mut ab, &mut e));
    assert!(e.run.paused, "planning A/B pauses the run on the state it plans");
    ab.poll(true);
    let result = ab.result.clone().unwrap_or_else(|| panic!("no result: {:?}", ab.error));
    assert_eq!((result.episode, result.env_step), (0, 6));
    // The figures are what planning this state directly with each setting gives.
    for (side, settings) in [(&result.a, e.run.settings.clone()), (&result.b, ab.b.clone())] {
        let direct = plan_side(&e.run.env, settings, 2, 1).unwrap();
        let (s, d) = (&side.trace.summary, &direct.trace.summary);
        assert_eq!(
            (s.best_score, s.sample_mean_score, s.effective_sample_size),
            (d.best_score, d.sample_mean_score, d.effective_sample_size)
        );
        assert_eq!(side.action, direct.action);
        assert_eq!(side.trace.scores, direct.trace.scores);
    }
    assert_eq!((result.a.trace.horizon, result.b.trace.horizon), (4, 6));
    // Every sampled trajectory of both starts where the robot stands.
    let mut here = Vec::new();
    e.run.env.drawn_points_into(&mut here);
    for side in [&result.a, &result.b] {
        let t = &side.trace;
        for n in 0..t.sequence_count() {
            assert_eq!(&t.points_of(n)[..t.point_count], &here[..], "sample {n} starts at the robot");
        }
    }
    let rects = ui_frame(&ctx, vec![], |ui| ab_controls(ui, &mut ab, &mut e));
    assert!(rects.contains_key("ab_shown") && ab.shown, "the table and the drawing are on");
    // Learning modes plan with a model the loop owns: refused with the reason.
    let mut sac = learning_experiment(RunMode::Sac, 1);
    let refused = AbPlans::new(&sac.run.settings).start(&mut sac).unwrap_err();
    assert!(refused.contains("simulator"), "{refused}");
}

#[test]
fn scrubbing_shows_each_steps_pose_and_plan_as_they_were() {
    let mut e = small_quadruped(3);
    let (mut poses, mut traces) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let body = e.run.env.physics().bodies[e.run.env.robot().links[0].body].clone();
        poses.push(body.translation());
        e.advance(0.04);
        traces.push(e.history.last_trace.clone().unwrap());
    }
    assert_eq!(e.history.timeline.len(), 10);
    for k in [0, 4, 9] {
        e.scrub(Some(k));
        let frame = e.history.timeline.shown().unwrap();
        assert_eq!(frame.poses[0][..3], poses[k].to_array(), "step {k}: the torso where it was");
        assert_eq!(frame.trace.as_ref().unwrap().scores, traces[k].scores, "step {k}: the plan made there");
    }
    assert!(e.run.paused, "scrubbing pauses");
    let ctx = egui::Context::default();
    click_widget(&ctx, "timeline_live", |ui| demorl_studio::studio::timeline_panel::timeline_controls(ui, &mut e));
    assert!(e.history.timeline.cursor.is_none(), "back to live");
}

#[test]
fn replay_from_a_step_repeats_the_episode_exactly_and_new_settings_change_only_what_follows() {
    use demorl_studio::studio::timeline_panel::timeline_controls;
    let mut original = small_quadruped(7);
    for _ in 0..20 {
        original.advance(0.04);
    }
    let actions = |e: &Experiment| e.history.episode_log.iter().map(|s| s.action.clone()).collect::<Vec<_>>();
    let (first, end) = (actions(&original), original.run.env.observation());
    // Replay from step 8 through the timeline bar, settings unchanged: the same 12 steps again.
    let ctx = egui::Context::default();
    original.scrub(Some(8));
    click_widget(&ctx, "timeline_replay", |ui| timeline_controls(ui, &mut original));
    assert_eq!((original.history.episode_log.len(), original.run.env.steps()), (8, 8));
    original.run.paused = false;
    for _ in 0..12 {
        original.advance(0.04);
    }
    assert_eq!(actions(&original), first);
    assert_eq!(original.run.env.observation(), end, "bit for bit");
    assert_eq!(original.history.env_steps, 20);
    // Replay from step 8 with a longer horizon: steps before 8 stay, the ones after change.
    original.run.settings.horizon = 8;
    original.replay_from(8).unwrap();
    for _ in 0..12 {
        original.advance(0.04);
    }
    let changed = actions(&original);
    assert_eq!(changed[..8], first[..8]);
    assert_ne!(changed[8..], first[8..]);
    assert_eq!(original.history.last_trace.as_ref().unwrap().horizon, 8);
    let mut sac = learning_experiment(RunMode::Sac, 1);
    sac.advance(0.05);
    assert!(sac.replay_from(0).unwrap_err().contains("simulator"));
}

#[test]
fn hovering_finds_the_sample_under_the_cursor_and_describes_it() {
    use demorl_studio::studio::hover::{HOVER_PIXELS, nearest_sample, sample_summary};
    // Toy samples are vertical lines at x = 0, 1, 2, 3 (world), drawn 100 px apart on screen.
    let mut trace = toy_trace();
    trace.sequences = vec![0.1, -0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    let project = |p: [f32; 3]| Some(Vec2::new(100.0 * p[0], 100.0 * p[1]));
    assert_eq!(nearest_sample(&trace, project, Vec2::new(203.0, 150.0), HOVER_PIXELS), Some(2));
    assert_eq!(nearest_sample(&trace, project, Vec2::new(98.0, 20.0), HOVER_PIXELS), Some(1));
    assert_eq!(nearest_sample(&trace, project, Vec2::new(150.0, 150.0), HOVER_PIXELS), None, "between lines");
    assert_eq!(nearest_sample(&trace, project, Vec2::new(300.0, 260.0), HOVER_PIXELS), None, "past the end");
    assert_eq!(nearest_sample(&trace, |_| None, Vec2::new(0.0, 0.0), HOVER_PIXELS), None, "behind the camera");
    let text = sample_summary(&trace, 2);
    assert!(text.starts_with("sample 2: score 2.000, weight 0.5000, elite"), "{text}");
    assert!(text.contains("step 0: [+0.50]") && text.contains("step 1: [+0.60]"), "{text}");
    assert!(!sample_summary(&trace, 0).contains("elite"));
}

#[test]
fn ctrl_right_drag_through_the_input_system_lifts_the_link_under_the_cursor() {
    use bevy::input::ButtonInput;
    use demorl_studio::studio::StudioSet;
    use demorl_studio::studio::push_tool::{CursorRay, PushTool, mouse_drag};
    let app_with = |experiment: Experiment| {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins).insert_resource(experiment).add_plugins(ExperimentPlugin);
        app.init_resource::<ButtonInput<KeyCode>>().init_resource::<ButtonInput<MouseButton>>();
        app.init_resource::<PushTool>().init_resource::<CursorRay>();
        app.add_systems(Update, mouse_drag.in_set(StudioSet::Input));
        app.finish();
        app.cleanup();
        app
    };
    let (mut dragged, mut free) = (app_with(small_quadruped(6)), app_with(small_quadruped(6)));
    let down = |y: f32| CursorRay(Some(Ray3d::new(Vec3::new(0.0, y, 0.0), Dir3::NEG_Y)));
    // Ctrl + right press with the cursor over the torso grabs it.
    dragged.world_mut().resource_mut::<ButtonInput<KeyCode>>().press(KeyCode::ControlLeft);
    dragged.world_mut().resource_mut::<ButtonInput<MouseButton>>().press(MouseButton::Right);
    dragged.insert_resource(down(2.0));
    dragged.update();
    free.update();
    let grab = dragged.world().resource::<PushTool>().grab.clone().expect("the torso is grabbed");
    assert_eq!(grab.link, 0);
    // The cursor moves 0.3 m up (same depth) and is held there.
    dragged.world_mut().resource_mut::<ButtonInput<MouseButton>>().clear();
    dragged.insert_resource(down(2.3));
    for _ in 0..8 {
        dragged.update();
        free.update();
    }
    let height = |app: &App| {
        let env = &experiment(app).run.env;
        env.physics().bodies[env.robot().links[0].body].translation().y
    };
    assert!(height(&dragged) > height(&free) + 0.05, "{} vs {}", height(&dragged), height(&free));
    assert!(experiment(&dragged).run.drag.as_ref().is_some_and(|d| d.force[1] > 0.0));
    // Releasing the button lets go.
    dragged.world_mut().resource_mut::<ButtonInput<MouseButton>>().release(MouseButton::Right);
    dragged.update();
    assert!(experiment(&dragged).run.drag.is_none() && dragged.world().resource::<PushTool>().grab.is_none());
    assert!(experiment(&dragged).history.episode_log.last().unwrap().pushes.is_empty());
}

#[test]
fn frames_stamped_with_their_times_play_at_those_times() {
    use demorl_studio::studio::video::{VideoWriter, decode_mp4};
    // Four frames at 0, 0.2, 0.25 and 0.5 s (as the Record button stamps them with simulated
    // time when several steps pass between rendered frames).
    let dir = tempfile::tempdir().unwrap();
    let times = [0.0, 0.2, 0.25, 0.5];
    for name in ["t.gif", "t.mp4"] {
        let path = dir.path().join(name);
        let mut writer = VideoWriter::create(&path, 64, 48, 20.0).unwrap();
        for (frame, &at) in moving_square(4, 64, 48).iter().zip(&times) {
            writer.push_rgba_at(frame, at).unwrap();
        }
        let frame = &moving_square(1, 64, 48)[0];
        assert!(writer.push_rgba_at(frame, 0.5).is_err(), "{name}: a frame must come after the previous one");
        writer.finish().unwrap();
    }
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(std::fs::File::open(dir.path().join("t.gif")).unwrap()).unwrap();
    let mut delays = Vec::new();
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        delays.push(frame.delay);
    }
    assert_eq!(delays, [20, 5, 25, 5], "each frame lasts until the next; the last 1/fps");
    let info = decode_mp4(&dir.path().join("t.mp4"), |_, _, _, _| {}).unwrap();
    assert_eq!(info.frames, 4);
    // The last frame starts at 0.5 s; muxide gives it the previous frame's duration (0.25 s).
    assert!(info.seconds > 0.5 && info.seconds < 0.76, "{info:?}");
}
