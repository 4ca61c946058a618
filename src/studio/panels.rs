//! The egui panels: controls (left), plots (right), status bar, help overlay. The widgets are
//! plain functions of plain state, so tests drive them with an egui context and no window.

use std::collections::HashMap;
use std::path::PathBuf;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};

use super::ab_plans::{AbPlans, ab_controls};
use super::experiment::Experiment;
use super::frame_budget::{FrameBudget, budget_controls};
use super::gait_panel::gait_controls;
use super::input::{HelpOverlay, SHORTCUTS};
use super::presets_panel::{PresetUi, preset_controls};
use super::push_tool::{PushTool, push_controls};
use super::recorder::{Recorder, record_controls};
use super::saves_panel::{SavesUi, saves_panel};
use super::schedule_panel::schedule_controls;
use super::timeline_panel::timeline_controls;
use super::traces::TraceOptions;
use super::view::TraceSettings;
use crate::config::RunMode;
use crate::config::knobs::{self, Knob};
use crate::config::{ActionChoice, LastBlock, Loss, MirrorMap, PlannerSettings, VarianceShift};

/// Screen rectangles of named widgets from the last frame (for tests and tours).
pub type WidgetRects = HashMap<&'static str, egui::Rect>;

pub struct PanelsPlugin;

impl Plugin for PanelsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<SceneList>()
            .init_resource::<FreeViewport>()
            .init_resource::<SavesUi>()
            .init_resource::<PresetUi>()
            .add_systems(EguiPrimaryContextPass, panels_system)
            .add_systems(Last, super::screenshot::take_requested_png);
    }
}

/// The part of the window the panels leave free for the 3D view, in logical pixels. Panels shown
/// inside a `Ui` do not mark the pointer as "over egui", so the camera asks this instead.
#[derive(Resource, Default, Clone, Copy, Debug)]
pub struct FreeViewport(pub Option<egui::Rect>);

/// The scene files the picker offers.
#[derive(Resource)]
pub struct SceneList(pub Vec<PathBuf>);

impl Default for SceneList {
    fn default() -> Self {
        SceneList(crate::scene::scene_files(std::path::Path::new("scenes")).unwrap_or_default())
    }
}

/// The panels' own states, as one system parameter (Bevy systems take few parameters).
#[derive(bevy::ecs::system::SystemParam)]
struct PanelStates<'w> {
    traces: ResMut<'w, TraceSettings>,
    saves: ResMut<'w, SavesUi>,
    presets: ResMut<'w, PresetUi>,
    budget: ResMut<'w, FrameBudget>,
    push_tool: ResMut<'w, PushTool>,
    recorder: ResMut<'w, Recorder>,
    help: ResMut<'w, HelpOverlay>,
    /// Created at start-up, so absent in the very first frame.
    ab: Option<ResMut<'w, AbPlans>>,
}

fn panels_system(
    mut contexts: EguiContexts,
    mut experiment: ResMut<Experiment>,
    states: PanelStates,
    mut free: ResMut<FreeViewport>,
    scenes: Res<SceneList>,
    time: Res<Time>,
) -> Result {
    let PanelStates { mut traces, mut saves, mut presets, mut budget, mut push_tool, mut recorder, mut help, mut ab } =
        states;
    let ctx = contexts.ctx_mut()?.clone();
    let mut root = egui::Ui::new(
        ctx.clone(),
        "studio-root".into(),
        egui::UiBuilder::new().layer_id(egui::LayerId::background()).max_rect(ctx.viewport_rect()),
    );
    let mut switch_to: Option<PathBuf> = None;
    let status = egui::Panel::bottom("status")
        .show(&mut root, |ui| {
            timeline_controls(ui, &mut experiment);
            status_bar(ui, &experiment, time.delta_secs(), &budget);
        })
        .response
        .rect;
    let controls = egui::Panel::left("controls")
        .resizable(true)
        .default_size(300.0)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                switch_to = scene_picker(ui, &experiment, &scenes.0);
                mode_controls(ui, &mut experiment);
                run_controls(ui, &mut experiment);
                ui.separator();
                egui::CollapsingHeader::new("Saves and exports").default_open(true).show(ui, |ui| {
                    saves_panel(ui, &mut experiment, &mut saves);
                    record_controls(ui, &mut experiment, &mut recorder);
                });
                if experiment.run.mode.is_learning() {
                    ui.separator();
                    egui::CollapsingHeader::new("Learning schedule").default_open(false).show(ui, |ui| {
                        let mode = experiment.run.mode;
                        schedule_controls(ui, &mut experiment.run.train, mode);
                    });
                }
                ui.separator();
                egui::CollapsingHeader::new("Push").default_open(false).show(ui, |ui| {
                    push_controls(ui, &mut push_tool, &mut experiment);
                });
                if let Some(ab) = ab.as_deref_mut()
                    && experiment.run.mode == RunMode::MpcSimulator
                {
                    ui.separator();
                    // Opens by itself once there is a result to show.
                    let header = egui::CollapsingHeader::new("A/B plans").id_salt(("ab", ab.result.is_some()));
                    header.default_open(ab.result.is_some()).show(ui, |ui| {
                        ab_controls(ui, ab, &mut experiment);
                    });
                }
                ui.separator();
                ui.heading("Planner");
                if experiment.run.mode.plans() {
                    preset_controls(ui, &mut experiment.run.settings, &mut presets);
                    let run = &mut experiment.run;
                    planner_controls(ui, &mut run.settings, run.mode);
                    gait_controls(ui, &mut run.settings, run.scene.planner.nominal.as_ref());
                } else {
                    ui.label("SAC acts with its actor: no planner in this mode.");
                }
                ui.separator();
                ui.heading("Trajectories");
                trace_controls(ui, &mut traces);
                ui.separator();
                egui::CollapsingHeader::new("Rendering").default_open(false).show(ui, |ui| {
                    // Edited on a copy so that an untouched panel does not mark the budget changed.
                    let mut edited = budget.clone();
                    budget_controls(ui, &mut edited);
                    if edited != *budget {
                        *budget = edited;
                    }
                });
            });
        })
        .response
        .rect;
    let plots_rect = egui::Panel::right("plots")
        .resizable(true)
        .default_size(380.0)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| plots(ui, &experiment));
        })
        .response
        .rect;
    let screen = ctx.viewport_rect();
    free.0 = Some(egui::Rect::from_min_max(
        egui::pos2(controls.right(), screen.top()),
        egui::pos2(plots_rect.left(), status.top()),
    ));
    if help.0 {
        egui::Window::new("Shortcuts (F1)").open(&mut help.0).show(&ctx, |ui| {
            egui::Grid::new("shortcuts").show(ui, |ui| {
                for (key, what) in SHORTCUTS {
                    ui.strong(*key);
                    ui.label(*what);
                    ui.end_row();
                }
            });
        });
    }
    if let Some(path) = switch_to {
        let (mode, seed, threads) = (experiment.run.mode, experiment.run.seed, experiment.run.threads);
        match Experiment::new_in_mode(&path, mode, seed, threads) {
            Ok(mut next) => {
                next.run.speed = experiment.run.speed;
                *experiment = next;
            }
            Err(error) => experiment.ui.message = Some(format!("{error:#}")),
        }
    }
    Ok(())
}

fn scene_picker(ui: &mut egui::Ui, experiment: &Experiment, scenes: &[PathBuf]) -> Option<PathBuf> {
    let mut chosen = None;
    let current = experiment.run.scene_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    egui::ComboBox::from_label("scene")
        .selected_text(current)
        .show_ui(ui, |ui| {
            for path in scenes {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if ui.selectable_label(*path == experiment.run.scene_path, name).clicked() {
                    chosen = Some(path.clone());
                }
            }
        })
        .response
        .on_hover_text("Every .ron file in scenes/; a broken file shows its error here instead of crashing.");
    ui.label(egui::RichText::new(&experiment.run.scene.description).small());
    chosen
}

/// Mode and model pickers and the reset-training button. Choosing a mode restarts the experiment
/// in it from step 0 (fresh networks and replay). Returns the rects of the named buttons.
pub fn mode_controls(ui: &mut egui::Ui, e: &mut Experiment) -> WidgetRects {
    let mut rects = WidgetRects::new();
    let mut wanted = None;
    let current = e.run.mode;
    let mut button = |ui: &mut egui::Ui, name: &'static str, selected: bool, enabled: bool, tip: &str| {
        let response = ui.add_enabled(enabled, egui::Button::selectable(selected, name));
        let response = if enabled { response.on_hover_text(tip) } else { response.on_disabled_hover_text(tip) };
        rects.insert(name, response.rect);
        response.clicked()
    };
    ui.horizontal(|ui| {
        ui.label("mode");
        let is_mpc = matches!(current, RunMode::MpcSimulator | RunMode::MpcLearned);
        if button(ui, "mpc", is_mpc, true, "The DMD-MPC planner alone, planning with the model below.") && !is_mpc {
            wanted = Some(RunMode::MpcSimulator);
        }
        if button(
            ui,
            "sac",
            current == RunMode::Sac,
            true,
            "Soft actor-critic alone: model-free, learns from its own actions.",
        ) {
            wanted = Some(RunMode::Sac);
        }
        if button(
            ui,
            "demorl",
            current == RunMode::Demorl,
            true,
            "The planner over the learned model, with SAC's critic as terminal value and its actor as a prior.",
        ) {
            wanted = Some(RunMode::Demorl);
        }
    });
    ui.horizontal(|ui| {
        ui.label("model");
        let is_mpc = matches!(current, RunMode::MpcSimulator | RunMode::MpcLearned);
        if button(
            ui,
            "simulator",
            current == RunMode::MpcSimulator,
            is_mpc,
            "Rollouts run on exact forks of the physics: an oracle model (mpc only).",
        ) {
            wanted = Some(RunMode::MpcSimulator);
        }
        let learned_tip = if current == RunMode::Sac {
            "SAC uses no model."
        } else {
            "A probabilistic ensemble fitted to the data collected so far (PETS-like in mpc mode)."
        };
        if button(
            ui,
            "learned",
            matches!(current, RunMode::MpcLearned | RunMode::Demorl),
            current != RunMode::Sac,
            learned_tip,
        ) && current == RunMode::MpcSimulator
        {
            wanted = Some(RunMode::MpcLearned);
        }
    });
    if e.run.mode.is_learning() {
        let response = ui
            .button("⟲ reset training")
            .on_hover_text("Start learning again from step 0: fresh networks, empty replay buffer, episode 0.");
        rects.insert("reset_training", response.rect);
        if response.clicked() {
            report(e, |e| e.reset_training());
        }
    }
    ui.horizontal(|ui| {
        let seed = ui.add(egui::DragValue::new(&mut e.ui.next_seed).prefix("seed ")).on_hover_text(
            "Seed of the run: episode k starts from seed × 1000003 + k, so the same seed replays the same run.",
        );
        rects.insert("seed", seed.rect);
        if e.ui.next_seed != e.run.seed {
            let restart =
                ui.button("restart with this seed").on_hover_text("Start the run again from step 0 with this seed.");
            rects.insert("restart_seed", restart.rect);
            if restart.clicked() {
                let seed = e.ui.next_seed;
                report(e, |e| e.restart_with_seed(seed));
            }
        }
    });
    if let Some(mode) = wanted.filter(|m| *m != current) {
        report(e, |e| e.switch_mode(mode));
    }
    rects
}

/// Runs a restart; a failure becomes the status message instead of a crash.
fn report(e: &mut Experiment, restart: impl FnOnce(&mut Experiment) -> anyhow::Result<()>) {
    if let Err(error) = restart(e) {
        e.ui.message = Some(format!("{error:#}"));
    }
}

fn run_controls(ui: &mut egui::Ui, experiment: &mut Experiment) {
    ui.horizontal(|ui| {
        let label = if experiment.run.paused { "▶ play" } else { "⏸ pause" };
        if ui.button(label).on_hover_text("Pause or resume simulated time (Space).").clicked() {
            experiment.run.paused = !experiment.run.paused;
        }
        if ui.button("⏭ step").on_hover_text("Pause and advance exactly one control step (→).").clicked() {
            experiment.run.paused = true;
            experiment.run.pending_steps += 1;
        }
        if ui.button("⟲ reset").on_hover_text("Start a new episode from a fresh random start (R).").clicked() {
            experiment.reset_episode();
        }
    });
    ui.add(egui::Slider::new(&mut experiment.run.speed, 1.0 / 16.0..=16.0).logarithmic(true).text("speed"))
        .on_hover_text(
            "Simulated seconds per wall-clock second; planning time can hold it lower (see the real-time factor).",
        );
}

/// Adds `widget` with its one-sentence tooltip and records its rect under `name`. Edits stay in
/// the slider's range, but a value from a settings file outside it (say `eval_every: 10000`) is
/// shown as it is: egui's default clamping would rewrite it just by drawing the panel.
pub fn named_slider(ui: &mut egui::Ui, rects: &mut WidgetRects, name: &'static str, widget: egui::Slider, tip: &str) {
    let widget = widget.clamping(egui::SliderClamping::Edits);
    rects.insert(name, ui.add(widget).on_hover_text(tip).rect);
}

/// The loss picker's choices: the loss a click switches to (with its starting parameter), the
/// widget's name in the returned rects, its label and its tooltip.
const LOSS_CHOICES: [(Loss, &str, &str, &str); 4] = [
    (
        Loss::Cem { elite_fraction: 0.1 },
        "loss_cem",
        "CEM",
        "Equal weight on the best fraction of samples (the elites).",
    ),
    (Loss::Mppi { temperature: 1.0 }, "loss_mppi", "MPPI", "Weights proportional to exp(score / temperature)."),
    (
        Loss::MppiRelative { temperature: 0.5 },
        "loss_mppi_relative",
        "MPPI (relative λ)",
        "MPPI with the temperature in standard deviations of the scores: the weights do not depend on the reward's scale.",
    ),
    (
        Loss::ExpectedCost,
        "loss_expected_cost",
        "expected cost",
        "Plain mirror descent on the expected cost (a score-function gradient).",
    ),
];

/// Live widgets for every planner setting, each with a one-sentence tooltip. Returns the rects of
/// the named widgets. Values stay inside their valid ranges by construction. Settings that `mode`
/// does not use (the learned model's, the actor's) are shown greyed out with the reason, so a
/// knob that moves always changes the run.
pub fn planner_controls(ui: &mut egui::Ui, s: &mut PlannerSettings, mode: RunMode) -> WidgetRects {
    let mut rects = WidgetRects::new();
    knob_slider(ui, &mut rects, &knobs::HORIZON, &mut s.horizon);
    knob_slider(ui, &mut rects, &knobs::SAMPLES, &mut s.samples);
    knob_slider(ui, &mut rects, &knobs::ITERATIONS, &mut s.iterations);
    // Which choice is active is decided by the loss's variant, not its parameter.
    let same_kind = |l: &Loss| std::mem::discriminant(l) == std::mem::discriminant(&s.loss);
    let kind = LOSS_CHOICES.iter().position(|(l, ..)| same_kind(l)).expect("every loss has a choice");
    let mut chosen = kind;
    ui.horizontal_wrapped(|ui| {
        ui.label("loss").on_hover_text("How scores become update weights.");
        for (i, &(_, name, label, tip)) in LOSS_CHOICES.iter().enumerate() {
            rects.insert(name, ui.selectable_value(&mut chosen, i, label).on_hover_text(tip).rect);
        }
    });
    if chosen != kind {
        s.loss = LOSS_CHOICES[chosen].0;
    }
    match &mut s.loss {
        Loss::Cem { elite_fraction } => knob_slider(ui, &mut rects, &knobs::ELITE_FRACTION, elite_fraction),
        Loss::Mppi { temperature } => knob_slider(ui, &mut rects, &knobs::TEMPERATURE, temperature),
        Loss::MppiRelative { temperature } => knob_slider(ui, &mut rects, &knobs::RELATIVE_TEMPERATURE, temperature),
        Loss::ExpectedCost => {}
    }
    ui.horizontal(|ui| {
        ui.label("mirror map").on_hover_text("The geometry of the update step.");
        ui.selectable_value(&mut s.mirror_map, MirrorMap::Kl, "KL")
            .on_hover_text("Blend mean and variance toward the weighted sample moments.");
        ui.selectable_value(&mut s.mirror_map, MirrorMap::Euclidean, "Euclidean")
            .on_hover_text("An ordinary gradient step on the mean.");
    });
    // The knob follows the mirror map: switching to KL brings a step above 1 back to 1.
    knob_slider(ui, &mut rects, &s.mean_step_knob(), &mut s.mean_step);
    knob_slider(ui, &mut rects, &knobs::VARIANCE_STEP, &mut s.variance_step);
    knob_slider(ui, &mut rects, &knobs::INITIAL_STD, &mut s.initial_std);
    knob_slider(ui, &mut rects, &s.min_std_knob(), &mut s.min_std);
    knob_slider(ui, &mut rects, &knobs::NOISE_CORRELATION, &mut s.noise_correlation);
    knob_slider(ui, &mut rects, &knobs::DISCOUNT, &mut s.discount);
    gated(ui, mode.learns_model(), "particles and κ: for a learned model only", |ui| {
        knob_slider(ui, &mut rects, &knobs::PARTICLES, &mut s.particles);
        knob_slider(ui, &mut rects, &knobs::DISAGREEMENT_PENALTY, &mut s.disagreement_penalty);
        evaluation_penalty(ui, &mut rects, &mut s.evaluation_disagreement_penalty, s.disagreement_penalty);
    });
    gated(ui, mode.plans_with_actor(), "the actor's prior: DeMoRL only", |ui| {
        knob_slider(ui, &mut rects, &knobs::POLICY_FRACTION, &mut s.policy_fraction);
        rects.insert(
            "start_at_prior",
            ui.checkbox(&mut s.start_at_prior, "start at actor")
                .on_hover_text(
                    "Start each plan around the actor's rolled-out actions instead of the shifted previous plan.",
                )
                .rect,
        );
    });
    ui.horizontal(|ui| {
        ui.label("shift").on_hover_text("How the plan moves forward one step between control steps.");
        ui.selectable_value(&mut s.shift.last_block, LastBlock::Copy, "copy last")
            .on_hover_text("The new last step repeats the previous last action.");
        ui.selectable_value(&mut s.shift.last_block, LastBlock::Reset, "reset last")
            .on_hover_text("The new last step starts from zero.");
    });
    ui.checkbox(&mut s.keep_mean, "keep mean")
        .on_hover_text("Score the current plan itself as one sample, so a good plan survives a bad batch of draws.");
    let mut inflate = matches!(s.shift.variance, VarianceShift::ShiftInflate { .. });
    if ui
        .checkbox(&mut inflate, "shift variance")
        .on_hover_text("Keep the learned variance (inflating the new last step) instead of resetting it.")
        .changed()
    {
        s.shift.variance = if inflate { VarianceShift::ShiftInflate { factor: 1.5 } } else { VarianceShift::Reset };
    }
    if let VarianceShift::ShiftInflate { factor } = &mut s.shift.variance {
        knob_slider(ui, &mut rects, &knobs::INFLATE_FACTOR, factor);
    }
    action_row(
        ui,
        "training action",
        "Which action is executed while collecting data for learning.",
        &mut s.training_action,
        true,
    );
    action_row(
        ui,
        "evaluation action",
        "Which action is executed in evaluation episodes.",
        &mut s.evaluation_action,
        false,
    );
    rects
}

/// Evaluation's own κ: off (the training κ applies), or on with its slider, starting at the
/// training κ.
fn evaluation_penalty(ui: &mut egui::Ui, rects: &mut WidgetRects, kappa: &mut Option<f32>, training: f32) {
    let mut own = kappa.is_some();
    let toggle = ui
        .checkbox(&mut own, "own κ in evaluation")
        .on_hover_text("Evaluation episodes score plans with their own κ (e.g. cautious), training keeps its own.");
    rects.insert("evaluation_disagreement_on", toggle.rect);
    if toggle.changed() {
        *kappa = own.then_some(training);
    }
    if let Some(kappa) = kappa {
        knob_slider(ui, rects, &knobs::EVALUATION_DISAGREEMENT_PENALTY, kappa);
    }
}

/// Widgets that apply only when `enabled`; otherwise greyed out under a line saying why.
fn gated(ui: &mut egui::Ui, enabled: bool, why: &str, add: impl FnOnce(&mut egui::Ui)) {
    // The reason stays outside the greyed scope, or it fades along with the widgets.
    if !enabled {
        ui.label(why);
    }
    ui.add_enabled_ui(enabled, add);
}

/// A row choosing which of the plan's actions is executed; `drawn` also offers one drawn by
/// weight (training only: evaluation is greedy).
fn action_row(ui: &mut egui::Ui, label: &str, hover: &str, choice: &mut ActionChoice, drawn: bool) {
    ui.horizontal(|ui| {
        ui.label(label).on_hover_text(hover);
        if drawn {
            ui.selectable_value(choice, ActionChoice::SampleByWeight, "sample")
                .on_hover_text("First action of a sequence drawn by weight.");
        }
        ui.selectable_value(choice, ActionChoice::Mean, "mean").on_hover_text("First action of the mean plan.");
        ui.selectable_value(choice, ActionChoice::Best, "best")
            .on_hover_text("First action of the best-scoring sequence (the mean's if none scores higher).");
    });
}

/// A slider for a planner knob, with the label, tooltip and span of the knob table. A valid value
/// beyond the span (typed in, or from a file) is kept, never clamped to the slider; an invalid
/// typed one is brought back to the nearest end of the span.
pub fn knob_slider<N: egui::emath::Numeric>(ui: &mut egui::Ui, rects: &mut WidgetRects, knob: &Knob, value: &mut N) {
    let (lo, hi) = knob.slider;
    let slider = egui::Slider::new(value, N::from_f64(lo)..=N::from_f64(hi))
        .logarithmic(knob.logarithmic)
        .clamping(egui::SliderClamping::Never)
        .text(knob.label);
    rects.insert(knob.widget, ui.add(slider).on_hover_text(knob.tooltip).rect);
    *value = N::from_f64(knob.clamp_valid(value.to_f64()));
}

fn trace_controls(ui: &mut egui::Ui, traces: &mut TraceSettings) {
    let o: &mut TraceOptions = &mut traces.options;
    let mut shown = !traces.hidden;
    ui.checkbox(&mut shown, "show trajectories (T)").on_hover_text("All planned-trajectory drawings on or off.");
    traces.hidden = !shown;
    ui.checkbox(&mut o.mean, "mean plan").on_hover_text("The plan the robot follows (white, thick).");
    ui.checkbox(&mut o.elites, "elites")
        .on_hover_text("Samples that shaped the update most (thick, coloured by score).");
    ui.checkbox(&mut o.samples, "samples")
        .on_hover_text("Other sampled sequences (thin; yellow = high score, purple = low).");
    ui.checkbox(&mut o.executed, "executed path").on_hover_text("Where the robot actually went (orange).");
    ui.checkbox(&mut o.ghost, "ghost")
        .on_hover_text("What an older plan predicted (light blue) versus what happened: model error made visible.");
    ui.add(egui::Slider::new(&mut o.max_samples, 0..=512).text("max samples drawn"))
        .on_hover_text("Cap on thin sample lines, to keep the view readable.");
}

fn series<T: Copy + Into<f64>>(values: impl IntoIterator<Item = T>) -> PlotPoints<'static> {
    PlotPoints::from(values.into_iter().enumerate().map(|(i, v)| [i as f64, v.into()]).collect::<Vec<_>>())
}

fn plot(ui: &mut egui::Ui, id: &str, title: &str, tip: &str, lines: Vec<Line<'static>>) {
    plot_with_cursor(ui, id, title, tip, lines, None);
}

/// A plot with a vertical line at `cursor` (the timeline's step).
fn plot_with_cursor(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    tip: &str,
    lines: Vec<Line<'static>>,
    cursor: Option<usize>,
) {
    ui.label(egui::RichText::new(title).strong()).on_hover_text(tip);
    Plot::new(id).height(110.0).legend(Legend::default()).allow_scroll(false).show(ui, |plot_ui| {
        for line in lines {
            plot_ui.line(line);
        }
        if let Some(step) = cursor {
            plot_ui.vline(egui_plot::VLine::new("shown step", step as f64).color(egui::Color32::WHITE));
        }
    });
}

/// (x, y) pairs without non-finite values (losses are NaN before any update).
fn xy(points: impl IntoIterator<Item = [f64; 2]>) -> Vec<[f64; 2]> {
    points.into_iter().filter(|p| p[0].is_finite() && p[1].is_finite()).collect()
}

/// Colours of the curves of one plot, in order.
const CURVE_COLOURS: [egui::Color32; 3] = [
    egui::Color32::from_rgb(230, 120, 80),
    egui::Color32::from_rgb(90, 170, 230),
    egui::Color32::from_rgb(140, 200, 100),
];

/// A plot of sparse curves against env steps: lines with a marker on every value, so the
/// first evaluation or refit is visible before there is a second one to join it to.
fn curve_plot(ui: &mut egui::Ui, id: &str, title: &str, tip: &str, curves: Vec<(&str, Vec<[f64; 2]>)>) {
    marked_curve_plot(ui, id, title, tip, curves, None);
}

/// [`curve_plot`] with `marks` drawn as red crosses over the curves, not joined (events, such as
/// the training episodes that ended in a fall).
fn marked_curve_plot(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    tip: &str,
    curves: Vec<(&str, Vec<[f64; 2]>)>,
    marks: Option<(&str, Vec<[f64; 2]>)>,
) {
    ui.label(egui::RichText::new(title).strong()).on_hover_text(tip);
    Plot::new(id).height(110.0).legend(Legend::default()).allow_scroll(false).show(ui, |plot_ui| {
        for ((name, values), colour) in curves.into_iter().zip(CURVE_COLOURS.iter().cycle()) {
            plot_ui.line(Line::new(name, PlotPoints::from(values.clone())).color(*colour));
            plot_ui.points(Points::new(name, PlotPoints::from(values)).color(*colour).radius(2.5));
        }
        if let Some((name, values)) = marks.filter(|(_, values)| !values.is_empty()) {
            let crosses = Points::new(name, PlotPoints::from(values)).shape(egui_plot::MarkerShape::Cross);
            plot_ui.points(crosses.color(egui::Color32::from_rgb(230, 60, 60)).radius(5.0));
        }
    });
}

/// (env steps at its end, return) of a training episode: its point on the returns plot.
fn episode_point(episode: &crate::agent::TrainEpisode) -> [f64; 2] {
    [episode.env_steps as f64, episode.episode_return]
}

/// Learning curves against env steps: returns, SAC losses and α, model error, timing.
fn learning_plots(ui: &mut egui::Ui, e: &Experiment) {
    let l = &e.history.learning;
    let actor = xy(l.evals.iter().map(|r| [r.env_steps as f64, r.actor_return_mean]));
    marked_curve_plot(
        ui,
        "learning-returns",
        &returns_title(&l.train_episodes),
        "Return of every training episode (exploring; a red cross where it ended in a fall, i.e. a \
         termination condition of the task), the mean of each deterministic evaluation and, for DeMoRL, of \
         the same episodes played by SAC's actor without the planner.",
        vec![
            ("train episode", xy(l.train_episodes.iter().map(episode_point))),
            ("eval mean", xy(l.evals.iter().map(|r| [r.env_steps as f64, r.eval_return_mean]))),
        ]
        .into_iter()
        .chain((!actor.is_empty()).then_some(("actor alone", actor)))
        .collect(),
        Some(("fell", xy(l.train_episodes.iter().filter(|e| e.fell).map(episode_point)))),
    );
    let row = |f: fn(&crate::agent::TrainRow) -> f32| xy(l.rows.iter().map(|r| [r.env_steps as f64, f64::from(f(r))]));
    if e.run.mode != RunMode::MpcLearned {
        curve_plot(
            ui,
            "sac-losses",
            "SAC losses",
            "Critic (TD) and actor losses, averaged over each log window of env steps.",
            vec![("critic", row(|r| r.critic_loss)), ("actor", row(|r| r.actor_loss))],
        );
        curve_plot(
            ui,
            "sac-alpha",
            "SAC temperature α",
            "The entropy weight SAC learns: it falls as the policy's entropy reaches its target.",
            vec![("α", row(|r| r.alpha))],
        );
    }
    if e.run.mode == RunMode::Demorl {
        curve_plot(
            ui,
            "actor-planner-gap",
            "Actor ↔ planner action gap",
            "Σ over action dimensions of (actor's mean action − planner's executed action)², averaged over SAC's \
             batches: how closely the actor follows what the planner does.",
            vec![("gap", row(|r| r.actor_action_gap))],
        );
    }
    if e.run.mode.plans() {
        let (stalled, rejected) = l.rows.last().map_or((0, 0), |r| (r.model_fits_stalled, r.model_fits_rejected));
        let title = model_error_title(l.model_fits.len(), stalled, rejected, l.last_fit_ms);
        curve_plot(
            ui,
            "model-error",
            &title,
            "Mean elite hold-out MSE (standardised units) after each ensemble refit, and the variance the elites \
             predict on the same rows (geometric mean): level with the error is calibrated; far below it the \
             model is overconfident, and a warm-started refit can then stall (no member improves on the \
             model it started from, which stays unchanged; the title counts them).",
            vec![
                ("hold-out MSE", xy(l.model_fits.iter().map(|f| [f[0], f[1]]))),
                ("predicted variance", xy(l.model_fits.iter().map(|f| [f[0], f[2]]))),
            ],
        );
    }
    plot(
        ui,
        "learning-timing",
        "Time per env step (ms)",
        "Wall milliseconds the control loop spent per env step choosing the action (planning) and learning (SAC \
         updates); refits are in the model plot's title.",
        vec![
            Line::new("ms/plan", PlotPoints::from(l.step_ms.iter().map(|t| [t[0], t[1]]).collect::<Vec<_>>())),
            Line::new("ms/update", PlotPoints::from(l.step_ms.iter().map(|t| [t[0], t[2]]).collect::<Vec<_>>())),
        ],
    );
}

fn plots(ui: &mut egui::Ui, e: &Experiment) {
    let m = &e.history.metrics;
    if e.run.mode.is_learning() {
        learning_plots(ui, e);
    } else {
        plot(
            ui,
            "returns",
            "Episode returns",
            "Return of every finished episode.",
            vec![Line::new("return", series(m.episode_returns.iter().copied()))],
        );
    }
    let mut terms: Vec<Line<'static>> = vec![Line::new("reward", series(m.step_rewards.iter().copied()))];
    for (k, term) in e.run.scene.task.reward.iter().enumerate() {
        let label = crate::sim::task::reward_label(&term.term);
        terms.push(Line::new(label, series(m.reward_terms.iter().map(|t| t.get(k).copied().unwrap_or(0.0)))));
    }
    let (title, tip) = ("Reward terms (this episode)", "Each weighted reward term per control step.");
    plot_with_cursor(ui, "terms", title, tip, terms, e.history.timeline.cursor);
    plot(
        ui,
        "scores",
        "Planner scores",
        "Best, sample-mean and elite-mean predicted return of each plan's last iteration.",
        vec![
            Line::new("best", series(m.best_score.iter().copied())),
            Line::new("mean", series(m.mean_score.iter().copied())),
            Line::new("elite mean", series(m.elite_score.iter().copied())),
        ],
    );
    plot(
        ui,
        "ess",
        "Effective sample size",
        "1 / Σw²: how many samples the update really used.",
        vec![Line::new("ESS", series(m.effective_sample_size.iter().copied()))],
    );
    if !e.run.mode.is_learning() {
        plot(
            ui,
            "timing",
            "Time per plan (ms)",
            "Wall-clock milliseconds the planner thread spent per control step.",
            vec![Line::new("ms/plan", series(m.plan_ms.iter().copied()))],
        );
    }
    let dims = m.executed_action.front().map_or(0, Vec::len).min(3);
    let mut actions = Vec::new();
    for d in 0..dims {
        actions.push(Line::new(
            format!("planned a{d}"),
            series(m.planned_action.iter().map(|a| a.get(d).copied().unwrap_or(0.0))),
        ));
        actions.push(Line::new(
            format!("executed a{d}"),
            series(m.executed_action.iter().map(|a| a.get(d).copied().unwrap_or(0.0))),
        ));
    }
    plot(
        ui,
        "actions",
        "Planned vs executed actions",
        "First action of the mean plan and the action executed (first 3 dims).",
        actions,
    );
    if let Some(trace) = &e.history.last_trace {
        ui.label(egui::RichText::new("Last plan, per iteration").strong())
            .on_hover_text("How the plan's scores improved over the iterations of the last control step.");
        egui::Grid::new("iterations").striped(true).show(ui, |ui| {
            for head in ["it", "best", "mean", "elite thr.", "ESS", "Δμ"] {
                ui.strong(head);
            }
            ui.end_row();
            for (i, it) in trace.iterations.iter().enumerate() {
                ui.label(format!("{}", i + 1));
                ui.label(format!("{:.2}", it.best));
                ui.label(format!("{:.2}", it.mean));
                ui.label(format!("{:.2}", it.elite_threshold));
                ui.label(format!("{:.1}", it.effective_sample_size));
                ui.label(format!("{:.3}", it.mean_shift));
                ui.end_row();
            }
        });
    }
}

/// What a learning run is doing now, for the status line.
pub fn learning_state(e: &Experiment) -> String {
    if !e.run.mode.is_learning() {
        return String::new();
    }
    let phase = if e.history.evaluating {
        "evaluating…".to_string()
    } else if e.warmup_left() > 0 {
        format!("warm-up: random actions, {} steps left", e.warmup_left())
    } else if e.run.mode.plans() && e.history.learning.model_fits.is_empty() {
        "fitting the model…".to_string()
    } else {
        learning_phase(e)
    };
    let eval =
        e.history.learning.evals.last().map(|r| format!("   last eval {:.1}", r.eval_return_mean)).unwrap_or_default();
    format!("   {}: {phase}   updates {}{eval}", e.run.mode, e.history.learning.updates)
}

/// "learning", with what the run's schedule still holds back: the planner (`train.planner_start`)
/// or, in DeMoRL, the critic in the plans (`train.terminal_value_start`).
fn learning_phase(e: &Experiment) -> String {
    let start = e.run.train.terminal_value_start;
    // This step's plan, or a logged one (a rewound timeline has no plan drawn until its next step).
    let planned = e.history.last_trace.is_some() || e.history.learning.rows.iter().any(|r| r.plans > 0);
    if e.run.mode.plans() && !planned {
        let acting = if e.run.mode.trains_sac() { "the actor acts" } else { "random actions" };
        format!("learning, {acting} until the planner starts")
    } else if e.run.mode == RunMode::Demorl && e.history.env_steps < start {
        format!("learning, plans without the critic until step {start}")
    } else {
        "learning".to_string()
    }
}

fn status_bar(ui: &mut egui::Ui, e: &Experiment, frame_seconds: f32, budget: &FrameBudget) {
    ui.horizontal(|ui| {
        let fps = if frame_seconds > 0.0 { 1.0 / frame_seconds } else { 0.0 };
        let cap = budget.max_fps.map_or(String::new(), |cap| format!(" (cap {cap:.0})"));
        ui.label(format!(
            "t = {:.2} s   env steps {}   episode {} ({} done)   return {:.1}   real-time ×{:.2}   {:.0} fps{cap}   seed {}{}{}",
            e.history.sim_time,
            e.history.env_steps,
            e.history.episode + 1,
            e.history.finished.len(),
            e.history.episode_return,
            e.history.real_time_factor,
            fps,
            e.run.seed,
            learning_state(e),
            if e.run.paused { "   ⏸ paused" } else { "" }
        ));
        if let Some(end) = e.history.finished.last() {
            ui.separator();
            ui.label(format!("last episode end: {}", end.end))
                .on_hover_text("Why the last episode ended (time limit, termination, physics blow-up…).");
        }
        if let Some(stopped) = &e.ui.stopped {
            // Stays until a new run is built, whatever other messages come.
            ui.separator();
            ui.label(egui::RichText::new(stopped).strong().color(egui::Color32::from_rgb(255, 110, 100)));
        } else if let Some(message) = &e.ui.message {
            ui.separator();
            ui.label(egui::RichText::new(message).color(egui::Color32::from_rgb(240, 200, 120)));
        }
    });
}

/// The returns plot's title, with how many training episodes a fall ended so far and, when the
/// falls steer κ (`train.fall_caution`), the κ of the last one.
fn returns_title(episodes: &[crate::agent::TrainEpisode]) -> String {
    let falls = episodes.iter().filter(|e| e.fell).count();
    let mut parts = match (episodes.len(), falls) {
        (0, _) => return "Returns vs env steps".to_string(),
        (n, 0) => vec![format!("{n} training episodes, none fell")],
        (n, falls) => vec![format!("{falls} of {n} training episodes fell")],
    };
    if let Some(kappa) = episodes.last().and_then(|e| e.disagreement_penalty) {
        parts.push(format!("κ {kappa:.2} in the last"));
    }
    format!("Returns vs env steps ({})", parts.join("; "))
}

/// The model plot's title: how many refits, how many of them stalled or the refit guard rejected,
/// the last one's time.
fn model_error_title(fits: usize, stalled: usize, rejected: usize, last_fit_ms: f64) -> String {
    if fits == 0 {
        return "Model hold-out error (first fit at the end of warm-up)".to_string();
    }
    let mut parts = vec![format!("{fits} fits")];
    if stalled > 0 {
        parts.push(format!("{stalled} stalled"));
    }
    if rejected > 0 {
        parts.push(format!("{rejected} rejected by the refit guard"));
    }
    parts.push(format!("last {:.1} s", last_fit_ms / 1e3));
    format!("Model hold-out error ({})", parts.join(", "))
}

#[cfg(test)]
mod plot_title_tests {
    use super::{model_error_title, returns_title};
    use crate::agent::TrainEpisode;
    use crate::sim::EndReason;

    #[test]
    fn the_returns_title_counts_the_training_episodes_that_fell() {
        assert_eq!(returns_title(&[]), "Returns vs env steps");
        let fall = EndReason::Condition("trunk tilt".into());
        let ended = |reason: Option<&EndReason>| TrainEpisode::ended(100, 1.0, 100, reason);
        let time_limit = [ended(None), ended(Some(&EndReason::PhysicsBlowUp("speed".into())))];
        assert_eq!(returns_title(&time_limit), "Returns vs env steps (2 training episodes, none fell)");
        let some_fell = [ended(Some(&fall)), ended(None), ended(Some(&fall))];
        assert_eq!(returns_title(&some_fell), "Returns vs env steps (2 of 3 training episodes fell)");
        let mut cautious = some_fell.to_vec();
        cautious[2].disagreement_penalty = Some(2.345);
        let title = returns_title(&cautious);
        assert_eq!(title, "Returns vs env steps (2 of 3 training episodes fell; κ 2.35 in the last)");
    }

    #[test]
    fn the_title_counts_fits_stalled_and_rejected_refits() {
        assert_eq!(model_error_title(0, 0, 0, 0.0), "Model hold-out error (first fit at the end of warm-up)");
        assert_eq!(model_error_title(4, 0, 0, 2500.0), "Model hold-out error (4 fits, last 2.5 s)");
        assert_eq!(
            model_error_title(9, 0, 2, 1200.0),
            "Model hold-out error (9 fits, 2 rejected by the refit guard, last 1.2 s)"
        );
        assert_eq!(
            model_error_title(9, 3, 2, 1200.0),
            "Model hold-out error (9 fits, 3 stalled, 2 rejected by the refit guard, last 1.2 s)"
        );
    }
}
