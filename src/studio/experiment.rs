//! The live experiment: env, planner worker, pacing, metrics and trace history, as plain state
//! that Bevy systems drive (and tests drive without a window).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use bevy::prelude::Resource;

use super::worker::{Command, ControlLoop, StepRecord};
use crate::agent::{EpisodeSummary, MpcAgent, episode_seed};
use crate::plan::{PlanTrace, PlannerSettings};
use crate::scene::Scene;
use crate::sim::Env;

/// How many recent values the time-series plots keep.
const PLOT_WINDOW: usize = 600;
/// Executed points kept for the path drawing (control steps).
const PATH_WINDOW: usize = 120;
/// Cap on the sim-time credit, in wall seconds' worth at the current speed: enough that the
/// control loop never idles between slow frames, small enough that a stall is not followed by a
/// long burst.
const MAX_BUDGET_WALL_SECONDS: f64 = 0.5;

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
    control: ControlLoop,
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
    /// Steps granted to the control loop and not yet received.
    outstanding: u32,
    /// Episode counter shared with the control loop, to drop records of a reset-away episode.
    generation: u64,
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
        let loop_env = env.fork();
        Ok(Experiment {
            scene_path: scene_path.to_path_buf(),
            scene,
            env,
            control: ControlLoop::spawn(agent, loop_env),
            sent_settings: settings.clone(),
            settings,
            seed,
            threads,
            paused: false,
            pending_steps: 0,
            speed: 1.0,
            blocking: false,
            budget: 0.0,
            outstanding: 0,
            generation: 0,
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

    /// Advances by `wall_seconds` of real time; returns the control steps taken. The control loop
    /// plans and steps on its own thread as far as the granted steps allow; here its records are
    /// collected and replayed (lockstep: a step happens only when its plan is ready, so results
    /// never depend on the frame rate). In `blocking` mode each call takes exactly one step.
    pub fn advance(&mut self, wall_seconds: f64) -> u32 {
        let dt = self.control_dt();
        self.send_settings_if_changed();
        let mut steps = 0;
        let take_one = !self.paused || self.pending_steps > 0;
        if self.blocking && take_one {
            if self.paused {
                self.pending_steps -= 1;
            }
            if self.outstanding == 0 {
                self.grant(1);
            }
            while let Some(record) = self.control.receive() {
                if self.apply(record) {
                    steps += 1;
                    break;
                }
            }
        } else if !self.blocking {
            while let Some(record) = self.control.try_receive() {
                if self.apply(record) {
                    steps += 1;
                }
            }
            if self.paused {
                if self.pending_steps > 0 && self.outstanding == 0 {
                    self.pending_steps -= 1;
                    self.grant(1);
                }
            } else {
                let cap = (MAX_BUDGET_WALL_SECONDS * f64::from(self.speed)).max(2.0 * dt);
                self.budget = (self.budget + wall_seconds * f64::from(self.speed)).min(cap);
                // Keep the loop busy up to the sim time the wall clock allows (plus one step ahead).
                let wanted = (self.budget / dt).floor().max(0.0) as u32 + 1;
                if wanted > self.outstanding {
                    let extra = wanted - self.outstanding;
                    self.grant(extra);
                    self.budget -= f64::from(extra) * dt;
                }
            }
        }
        if wall_seconds > 0.0 {
            let instant = f64::from(steps) * dt / wall_seconds;
            self.real_time_factor = 0.9 * self.real_time_factor + 0.1 * instant;
        }
        steps
    }

    fn grant(&mut self, steps: u32) {
        self.outstanding += steps;
        self.control.send(Command::Grant(steps));
    }

    fn send_settings_if_changed(&mut self) {
        if self.settings != self.sent_settings {
            self.sent_settings = self.settings.clone();
            self.control.send(Command::Settings(self.settings.clone()));
        }
    }

    /// Replays a step of the control loop and records everything the plots and drawings need;
    /// false for a record of an episode that was reset away.
    fn apply(&mut self, reply: StepRecord) -> bool {
        if reply.generation != self.generation {
            return false;
        }
        self.outstanding = self.outstanding.saturating_sub(1);
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
        true
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
        self.generation += 1;
        self.outstanding = 0;
        self.control.send(Command::Reset { seed: episode_seed(self.seed, self.episode), generation: self.generation });
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
