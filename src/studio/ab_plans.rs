//! A/B plans: freeze the current state and plan it with two planner settings side by side —
//! both sets of sampled trajectories in the 3D view (cool and warm colour maps) and a table of
//! best and mean score, effective sample size and milliseconds per plan. Each side is a fresh
//! planner with the run's seed on a fork of the state, so the figures are what planning that
//! state directly gives. Plans run on a thread of their own; the frame never waits.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::Instant;

use bevy::prelude::*;
use bevy_egui::egui;

use super::StudioSet;
use super::experiment::Experiment;
use super::panels::{WidgetRects, planner_controls};
use super::traces::{COOL, Layer, TraceOptions, WARM, plan_strips_in};
use super::view::{ThickLines, TraceSettings};
use crate::agent::MpcAgent;
use crate::config::{PlannerSettings, RunMode};
use crate::plan::{ActionMode, PlanTrace};
use crate::sim::Env;

/// One side of the comparison.
#[derive(Clone, Debug)]
pub struct AbSide {
    pub settings: PlannerSettings,
    pub trace: PlanTrace,
    /// The action the plan would take.
    pub action: Vec<f32>,
    /// Wall milliseconds of the plan.
    pub ms: f64,
}

/// Both sides, planned from the state at `env_step` of episode `episode`.
#[derive(Clone, Debug)]
pub struct AbResult {
    pub episode: u64,
    pub env_step: u64,
    pub a: AbSide,
    pub b: AbSide,
}

/// The comparison's settings (B is edited in the panel; A is the run's current settings) and
/// its latest result.
#[derive(Resource)]
pub struct AbPlans {
    pub b: PlannerSettings,
    /// Draw the two plans instead of the run's own.
    pub shown: bool,
    pub result: Option<AbResult>,
    /// A mutex only so the resource is `Sync`, as Bevy requires.
    pending: Option<Mutex<Receiver<Result<AbResult, String>>>>,
    pub error: Option<String>,
}

impl AbPlans {
    /// B starts as a copy of A with the other loss family's default (CEM ↔ MPPI).
    pub fn new(a: &PlannerSettings) -> AbPlans {
        let mut b = a.clone();
        b.loss = match a.loss {
            crate::config::Loss::Cem { .. } => crate::config::Loss::Mppi { temperature: 1.0 },
            _ => crate::config::Loss::Cem { elite_fraction: 0.1 },
        };
        AbPlans { b, shown: false, result: None, pending: None, error: None }
    }

    /// Starts planning `experiment`'s current state with its settings (A) and `self.b` on a
    /// background thread (the run is paused so the state stays the one shown).
    pub fn start(&mut self, experiment: &mut Experiment) -> Result<(), String> {
        if experiment.run.mode != RunMode::MpcSimulator {
            return Err("A/B plans use the simulator model: switch to mpc + simulator".into());
        }
        for (name, settings) in [("A", &experiment.run.settings), ("B", &self.b)] {
            settings.validate().map_err(|e| format!("settings {name}: {e}"))?;
        }
        experiment.run.paused = true;
        let env = experiment.run.env.fork();
        let (a, b) = (experiment.run.settings.clone(), self.b.clone());
        let (seed, threads) = (experiment.run.seed, experiment.run.threads);
        let (episode, env_step) = (experiment.history.episode, u64::from(env.steps()));
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("ab-plans".into())
            .spawn(move || {
                let sides = plan_side(&env, a, seed, threads).and_then(|a| Ok((a, plan_side(&env, b, seed, threads)?)));
                let _ = tx.send(sides.map(|(a, b)| AbResult { episode, env_step, a, b }).map_err(|e| format!("{e:#}")));
            })
            .map_err(|e| format!("cannot start the A/B thread: {e}"))?;
        self.pending = Some(Mutex::new(rx));
        self.error = None;
        Ok(())
    }

    /// Whether plans are being computed.
    pub fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Takes a finished result, if any (never blocks; `wait` blocks, for tests).
    pub fn poll(&mut self, wait: bool) {
        let Some(rx) = self.pending.as_mut() else { return };
        let rx = rx.get_mut().unwrap_or_else(|p| p.into_inner());
        let received = if wait { rx.recv().map_err(|_| TryRecvError::Disconnected) } else { rx.try_recv() };
        match received {
            Ok(Ok(result)) => {
                self.result = Some(result);
                self.shown = true;
            }
            Ok(Err(error)) => self.error = Some(error),
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => self.error = Some("the A/B thread ended without a result".into()),
        }
        self.pending = None;
    }
}

/// A fresh planner with `settings` plans `env`'s state once, at its step of the gait.
pub fn plan_side(env: &Env, settings: PlannerSettings, seed: u64, threads: usize) -> anyhow::Result<AbSide> {
    let mut agent = MpcAgent::new(env, settings.clone(), seed, threads)?;
    agent.reset_at(env);
    let started = Instant::now();
    let output = agent.plan(env, ActionMode::Evaluation);
    let ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(AbSide { settings, trace: output.trace, action: output.action, ms })
}

pub struct AbPlansPlugin;

impl Plugin for AbPlansPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, create)
            .add_systems(Update, (poll.in_set(StudioSet::Simulate), draw.in_set(StudioSet::View)));
    }
}

fn create(mut commands: Commands, experiment: Res<Experiment>) {
    commands.insert_resource(AbPlans::new(&experiment.run.settings));
}

/// Takes finished plans; stops drawing them once the run has moved on from their state.
fn poll(ab: Option<ResMut<AbPlans>>, experiment: Res<Experiment>) {
    let Some(mut ab) = ab else { return };
    ab.poll(false);
    let here = (experiment.history.episode, u64::from(experiment.run.env.steps()));
    if ab.result.as_ref().is_some_and(|r| (r.episode, r.env_step) != here) {
        ab.shown = false;
    }
}

/// Both plans' strips while shown: A in the cool map, B in the warm one.
fn draw(ab: Option<Res<AbPlans>>, settings: Res<TraceSettings>, mut thin: Gizmos, mut thick: Gizmos<ThickLines>) {
    let Some(result) = ab.as_ref().filter(|ab| ab.shown).and_then(|ab| ab.result.as_ref()) else { return };
    let options = TraceOptions { executed: false, ghost: false, ..settings.options.clone() };
    for (side, palette) in [(&result.a, COOL), (&result.b, WARM)] {
        for strip in plan_strips_in(&side.trace, &options, palette) {
            let points = strip.points.iter().map(|p| Vec3::from_array(*p));
            let colour = Color::srgba(strip.colour[0], strip.colour[1], strip.colour[2], strip.colour[3]);
            match strip.layer {
                Layer::Sample | Layer::Ghost => thin.linestrip(points, colour),
                _ => thick.linestrip(points, colour),
            }
        }
    }
}

/// The panel section: B's settings, the plan button, the table.
pub fn ab_controls(ui: &mut egui::Ui, ab: &mut AbPlans, experiment: &mut Experiment) -> WidgetRects {
    let mut rects = WidgetRects::new();
    ui.label("A: the run's settings above. B:");
    ui.horizontal(|ui| {
        let copy = ui.button("B = A").on_hover_text("Start B from the run's current settings.");
        rects.insert("ab_copy", copy.rect);
        if copy.clicked() {
            ab.b = experiment.run.settings.clone();
        }
        let label = if ab.busy() { "planning…" } else { "⚖ plan A and B here" };
        let plan = ui
            .add_enabled(!ab.busy(), egui::Button::new(label))
            .on_hover_text("Pause, and plan the current state with A and with B (fresh planners, the run's seed).");
        rects.insert("ab_plan", plan.rect);
        if plan.clicked()
            && let Err(error) = ab.start(experiment)
        {
            ab.error = Some(error);
        }
    });
    egui::CollapsingHeader::new("B's settings").default_open(false).show(ui, |ui| {
        // A/B plans run on the simulator model (the panel shows only there).
        planner_controls(ui, &mut ab.b, RunMode::MpcSimulator);
    });
    if let Some(error) = &ab.error {
        ui.colored_label(egui::Color32::LIGHT_RED, error);
    }
    if let Some(result) = &ab.result {
        let shown = ui.checkbox(&mut ab.shown, "draw A (cool) and B (warm) instead of the run's plan");
        rects.insert("ab_shown", shown.rect);
        ui.label(format!("episode {}, step {}", result.episode + 1, result.env_step));
        egui::Grid::new("ab_table").striped(true).show(ui, |ui| {
            for title in ["", "best", "mean", "ESS", "ms"] {
                ui.strong(title);
            }
            ui.end_row();
            for (name, side) in [("A", &result.a), ("B", &result.b)] {
                let s = &side.trace.summary;
                ui.label(name);
                ui.label(format!("{:.2}", s.best_score));
                ui.label(format!("{:.2}", s.sample_mean_score));
                ui.label(format!("{:.1}", s.effective_sample_size));
                ui.label(format!("{:.1}", side.ms));
                ui.end_row();
            }
        });
    }
    rects
}
