//! The live experiment: env, planner worker, pacing, metrics and trace history, as plain state
//! that Bevy systems drive (and tests drive without a window).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use bevy::prelude::Resource;

use super::worker::{PlanReply, PlanRequest, PlannerWorker};
use crate::agent::{EpisodeSummary, MpcAgent, episode_seed};
use crate::plan::{ActionMode, PlanTrace, PlannerSettings};
use crate::scene::Scene;
use crate::sim::Env;

/// How many recent values the time-series plots keep.
const PLOT_WINDOW: usize = 600;
/// Executed points kept for the path drawing (control steps).
const PATH_WINDOW: usize = 120;
/// Cap on the sim-time credit, so a long frame does not trigger a burst of steps.
const MAX_BUDGET_STEPS: f64 = 2.0;

/// Time series for the plots (plain data).
#[derive(Default, Clone, Debug)]
pub struct Metrics {
    /// Return of every finished episode.
    pub episode_returns: Vec<f64>,
    /// Reward and weighted terms of each step of the current episode.
    pub step_rewards: Vec<f32>,
    pub reward_terms: Vec<Vec<f32>>,
    /// Per plan (recent window): wall ms, best / sample-mean / elite-mean score, effective sample size.
    pub plan_ms: VecDeque<f64>,
    pub best_score: VecDeque<f32>,
    pub mean_score: VecDeque<f32>,
    pub elite_score: VecDeque<f32>,
    pub effective_sample_size: VecDeque<f32>,
    /// First action of the plan's mean and the action executed, per step (recent window).
    pub planned_action: VecDeque<Vec<f32>>,
    pub executed_action: VecDeque<Vec<f32>>,
}

fn push_window<T>(queue: &mut VecDeque<T>, value: T) {
    if queue.len() == PLOT_WINDOW {
        queue.pop_front();
    }
    queue.push_back(value);
}

/// Everything the studio shows and controls.
#[derive(Resource)]
pub struct Experiment {
    pub scene_path: PathBuf,
    pub scene: Scene,
    pub env: Env,
    worker: PlannerWorker,
    /// Settings as edited in the UI; sent with the next plan request when changed.
    pub settings: PlannerSettings,
    sent_settings: PlannerSettings,
    pub seed: u64,
    /// Rollout threads of the planner.
    pub threads: usize,
    pub paused: bool,
    /// Single steps requested while paused.
    pub pending_steps: u32,
    /// Simulated seconds per wall-clock second.
    pub speed: f32,
    /// Headless lockstep: every `advance` waits for its plan and takes exactly one control step.
    pub blocking: bool,
    budget: f64,
    reset_planner: bool,
    /// A plan in flight was made for a state that no longer exists (after a reset).
    stale_plan: bool,
    pub episode: u64,
    pub episode_return: f64,
    /// Wall milliseconds spent planning in the current episode.
    episode_plan_ms: f64,
    /// Every finished episode, in order (what `train` prints and writes).
    pub finished: Vec<EpisodeSummary>,
    pub metrics: Metrics,
    pub last_trace: Option<PlanTrace>,
    /// Drawn points after each executed step (oldest first).
    pub executed: VecDeque<Vec<[f32; 3]>>,
    /// Mean-plan points of recent plans (oldest first), for the ghost comparison.
    pub predictions: VecDeque<Vec<Vec<[f32; 3]>>>,
    /// Steps back the ghost looks.
    pub ghost_steps: usize,
    /// Latest message for the user (errors, episode ends).
    pub message: Option<String>,
    pub sim_time: f64,
    pub env_steps: u64,
    /// Simulated seconds per wall second, smoothed.
    pub real_time_factor: f64,
}

impl Experiment {
    /// Loads `scene_path` and starts episode 0 with `seed`; `threads` rollout threads.
    pub fn new(scene_path: &Path, seed: u64, threads: usize) -> anyhow::Result<Experiment> {
        let scene = crate::cli::load(scene_path)?;
        let settings = scene.planner.clone();
        Experiment::with_settings(scene_path, scene, settings, seed, threads)
    }

    /// Like `new`, with a loaded scene and planner settings other than the scene's own.
    pub fn with_settings(
        scene_path: &Path,
        scene: Scene,
        settings: PlannerSettings,
        seed: u64,
        threads: usize,
    ) -> anyhow::Result<Experiment> {
        let mut env = Env::new(&scene);
        env.reset(episode_seed(seed, 0));
        let agent = MpcAgent::new(&env, settings.clone(), seed, threads)?;
        Ok(Experiment {
            scene_path: scene_path.to_path_buf(),
            scene,
            env,
            worker: PlannerWorker::spawn(agent),
            sent_settings: settings.clone(),
            settings,
            seed,
            threads,
            paused: false,
            pending_steps: 0,
            speed: 1.0,
            blocking: false,
            budget: 0.0,
            reset_planner: true,
            stale_plan: false,
            episode: 0,
            episode_return: 0.0,
            episode_plan_ms: 0.0,
            finished: Vec::new(),
            metrics: Metrics::default(),
            last_trace: None,
            executed: VecDeque::new(),
            predictions: VecDeque::new(),
            ghost_steps: 10,
            message: None,
            sim_time: 0.0,
            env_steps: 0,
            real_time_factor: 0.0,
        })
    }

    pub fn control_dt(&self) -> f64 {
        1.0 / f64::from(self.scene.physics.control_rate)
    }

    /// Advances by `wall_seconds` of real time; returns the control steps taken. A step happens
    /// only when its plan is ready (lockstep), so results never depend on the frame rate.
    pub fn advance(&mut self, wall_seconds: f64) -> u32 {
        let dt = self.control_dt();
        if !self.paused {
            self.budget = (self.budget + wall_seconds * f64::from(self.speed)).min(MAX_BUDGET_STEPS * dt);
        }
        let mut steps = 0;
        let reply = if self.blocking { self.worker.receive() } else { self.worker.try_receive() };
        if let Some(reply) = reply {
            if std::mem::take(&mut self.stale_plan) {
                // Planned for a state that was reset away: drop it.
            } else {
                self.apply(reply);
                steps += 1;
                self.budget -= dt;
            }
        }
        let wants_step = if self.paused { self.pending_steps > 0 } else { self.budget >= 0.0 || self.blocking };
        if !self.worker.in_flight() && wants_step {
            if self.paused {
                self.pending_steps -= 1;
            }
            self.send_request();
            if self.blocking
                && let Some(reply) = self.worker.receive()
            {
                self.apply(reply);
                steps += 1;
            }
        }
        let simulated = f64::from(steps) * dt;
        if wall_seconds > 0.0 {
            let instant = simulated / wall_seconds;
            self.real_time_factor = 0.9 * self.real_time_factor + 0.1 * instant;
        }
        steps
    }

    fn send_request(&mut self) {
        let settings = (self.settings != self.sent_settings).then(|| self.settings.clone());
        if let Some(s) = &settings {
            self.sent_settings = s.clone();
        }
        let reset = std::mem::take(&mut self.reset_planner);
        self.worker.request(PlanRequest { env: self.env.fork(), settings, reset, mode: ActionMode::Evaluation });
    }

    /// Executes the planned action and records everything the plots and drawings need.
    fn apply(&mut self, reply: PlanReply) {
        if let Some(error) = reply.settings_error {
            self.message = Some(format!("settings refused: {error}"));
            self.sent_settings = self.settings.clone();
        }
        let output = reply.output;
        let outcome = self.env.step(&output.action);
        self.sim_time += self.control_dt();
        self.env_steps += 1;
        self.episode_return += f64::from(outcome.reward);
        self.episode_plan_ms += reply.plan_ms;
        let m = &mut self.metrics;
        m.step_rewards.push(outcome.reward);
        let weights = self.scene.task.reward.iter().map(|t| t.weight);
        m.reward_terms.push(self.env.reward_terms().iter().zip(weights).map(|(v, w)| v * w).collect());
        push_window(&mut m.plan_ms, reply.plan_ms);
        let summary = &output.trace.summary;
        push_window(&mut m.best_score, summary.best_score);
        push_window(&mut m.mean_score, summary.sample_mean_score);
        push_window(&mut m.elite_score, summary.elite_mean_score);
        push_window(&mut m.effective_sample_size, summary.effective_sample_size);
        let dim = output.trace.action_dim;
        push_window(&mut m.planned_action, output.trace.mean_actions.get(..dim).unwrap_or_default().to_vec());
        push_window(&mut m.executed_action, output.action.clone());
        let mut points = Vec::new();
        self.env.drawn_points_into(&mut points);
        push_capped(&mut self.executed, points, PATH_WINDOW);
        let pc = output.trace.point_count.max(1);
        let predicted: Vec<Vec<[f32; 3]>> = output.trace.mean_points.chunks(pc).map(<[_]>::to_vec).collect();
        push_capped(&mut self.predictions, predicted, self.ghost_steps + 1);
        self.last_trace = Some(output.trace);
        if outcome.done() {
            let reason = outcome.reason.map(|r| r.to_string()).unwrap_or_default();
            self.message = Some(format!(
                "episode {} ended after {} steps, return {:.1} ({reason})",
                self.episode + 1,
                self.env.steps(),
                self.episode_return
            ));
            self.metrics.episode_returns.push(self.episode_return);
            let length = self.env.steps();
            self.finished.push(EpisodeSummary {
                episode_return: self.episode_return,
                length,
                end: reason,
                plan_ms: self.episode_plan_ms / f64::from(length.max(1)),
            });
            self.next_episode();
        }
    }

    fn next_episode(&mut self) {
        self.episode += 1;
        self.env.reset(episode_seed(self.seed, self.episode));
        self.episode_return = 0.0;
        self.episode_plan_ms = 0.0;
        self.metrics.step_rewards.clear();
        self.metrics.reward_terms.clear();
        self.executed.clear();
        self.predictions.clear();
        self.reset_planner = true;
        self.stale_plan = self.worker.in_flight();
    }

    /// Restarts the current episode's count from a fresh reset (R key, reset button).
    pub fn reset_episode(&mut self) {
        self.episode_return = 0.0;
        self.next_episode();
    }

    /// The ghost: what the plan made `ghost_steps` ago predicted, from then on.
    pub fn ghost(&self) -> Option<&[Vec<[f32; 3]>]> {
        (self.predictions.len() > self.ghost_steps).then(|| self.predictions[0].as_slice())
    }

    /// Executed points since the ghost's plan was made (so both start at the same place).
    pub fn executed_since_ghost(&self) -> Vec<Vec<[f32; 3]>> {
        let n = self.executed.len().min(self.ghost_steps + 1);
        self.executed.iter().skip(self.executed.len() - n).cloned().collect()
    }
}

fn push_capped<T>(queue: &mut VecDeque<T>, value: T, cap: usize) {
    while queue.len() >= cap.max(1) {
        queue.pop_front();
    }
    queue.push_back(value);
}

/// Runs the experiment loop as a system: apply settings, plan (off-thread), act, step, record.
pub struct ExperimentPlugin;

impl bevy::app::Plugin for ExperimentPlugin {
    fn build(&self, app: &mut bevy::app::App) {
        app.add_systems(bevy::app::Update, advance_experiment);
    }
}

/// Feeds wall time to the experiment; in lockstep mode each update takes exactly one step.
pub fn advance_experiment(
    time: bevy::prelude::Res<bevy::time::Time>,
    mut experiment: bevy::prelude::ResMut<Experiment>,
) {
    experiment.advance(f64::from(time.delta_secs()));
}
