//! The live experiment: env, planner worker, pacing, metrics and trace history, as plain state
//! that Bevy systems drive (and tests drive without a window).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use bevy::prelude::Resource;

use super::timeline::Frame;
use super::worker::{Command, ControlLoop, Driver, LearnRecord, Report, StepRecord, learning_run};
use crate::agent::{EpisodeSummary, EvalRow, MpcAgent, TrainEpisode, TrainRow, episode_seed};
use crate::config::{PlannerSettings, RunConfig, RunMode, TrainSettings};
use crate::plan::{ObservationKinematics, PlanTrace};
use crate::scene::{Scene, load_scene};
use crate::sim::measure::link_pose;
use crate::sim::{Env, Push, PushError};

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

/// Learning curves (plain data), all against env steps.
#[derive(Default, Clone, Debug)]
pub struct LearningMetrics {
    /// Every finished training episode, as the trainer recorded it (falls are marked on the plot).
    pub train_episodes: Vec<TrainEpisode>,
    /// Every evaluation, in order.
    pub evals: Vec<EvalRow>,
    /// The trainer's `train.csv` rows: SAC losses and α averaged per `log_every` steps.
    pub rows: Vec<TrainRow>,
    /// (env steps, mean elite hold-out MSE, geometric mean of the elites' predicted variance on
    /// the same rows) of every model refit, both in standardised units.
    pub model_fits: Vec<[f64; 3]>,
    /// (env steps, ms choosing the action, ms learning) of recent steps without a refit.
    pub step_ms: VecDeque<[f64; 3]>,
    /// Wall ms of the last ensemble refit (the step it happened in).
    pub last_fit_ms: f64,
    /// SAC gradient updates so far.
    pub updates: u64,
}

fn push_window<T>(queue: &mut VecDeque<T>, value: T) {
    if queue.len() == PLOT_WINDOW {
        queue.pop_front();
    }
    queue.push_back(value);
}

/// What a run is: scene, mode, settings, seed (the parts `Experiment::from_driver` keeps).
pub(super) struct Run<'a> {
    pub scene_path: &'a Path,
    pub scene: Scene,
    pub mode: RunMode,
    pub settings: PlannerSettings,
    pub train: TrainSettings,
    pub seed: u64,
    pub threads: usize,
}

/// One step of the current episode as the export writes it.
#[derive(Clone, Debug)]
pub struct LoggedStep {
    /// The observation the action was chosen from.
    pub observation: Vec<f32>,
    pub action: Vec<f32>,
    pub reward: f32,
    /// First action of the plan's mean (none when no plan chose the action).
    pub planned: Option<Vec<f32>>,
    /// Pushes the user started right before this step (inputs like the action).
    pub pushes: Vec<Push>,
}

/// Everything the studio shows and controls: the run it drives, what has happened, and what the
/// panels keep between frames.
#[derive(Resource)]
pub struct Experiment {
    pub run: RunHandle,
    pub history: History,
    pub ui: UiStatus,
}

/// What runs and how it is driven: scene, mode, settings, the control loop and its step credits.
pub struct RunHandle {
    pub scene_path: PathBuf,
    pub scene: Scene,
    /// The studio's copy of the env: it replays the loop's actions and stays bit-identical to it.
    pub env: Env,
    /// What the control loop runs.
    pub mode: RunMode,
    /// Learning schedule and learner settings of learning modes (applied at the next restart).
    pub train: TrainSettings,
    pub(super) control: ControlLoop,
    /// Settings as edited in the UI; sent with the next plan request when changed.
    pub settings: PlannerSettings,
    pub(super) sent_settings: PlannerSettings,
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
    pub(super) budget: f64,
    /// Steps granted to the control loop and not yet received.
    pub(super) outstanding: u32,
    /// Episode counter shared with the control loop, to drop records of a reset-away episode.
    pub(super) generation: u64,
    /// The floating root link whose horizontal position at plan time places learned-model plan
    /// points (a learned model predicts observations, which lack that position).
    pub(super) learned_plan_origin: Option<usize>,
    /// The force the mouse holds on a link now (drawn as an arrow), if any.
    pub drag: Option<Push>,
}

/// What has happened in the run: counters, finished episodes, the plots' series, the last plan
/// and the drawn paths.
#[derive(Default)]
pub struct History {
    pub episode: u64,
    pub episode_return: f64,
    /// Wall milliseconds spent planning in the current episode.
    pub(super) episode_plan_ms: f64,
    /// Every finished episode, in order (what `train` prints and writes).
    pub finished: Vec<EpisodeSummary>,
    pub metrics: Metrics,
    pub learning: LearningMetrics,
    /// An evaluation announced by the loop whose row has not arrived yet.
    pub evaluating: bool,
    pub last_trace: Option<PlanTrace>,
    /// Drawn points after each executed step (oldest first).
    pub executed: VecDeque<Vec<[f32; 3]>>,
    /// This episode's steps as they were (poses, plans, planner states), for scrubbing and replay.
    pub timeline: super::timeline::Timeline,
    /// Mean-plan points of recent plans (oldest first), for the ghost comparison.
    pub predictions: VecDeque<Vec<Vec<[f32; 3]>>>,
    /// Every step of the current episode, for the CSV export.
    pub episode_log: Vec<LoggedStep>,
    pub sim_time: f64,
    pub env_steps: u64,
    /// Simulated seconds per wall second, smoothed.
    pub real_time_factor: f64,
}

/// What the panels show and keep between frames.
pub struct UiStatus {
    /// Seed typed in the panel for the next run (applied by `restart_with_seed`).
    pub next_seed: u64,
    /// Steps back the ghost looks.
    pub ghost_steps: usize,
    /// Latest message for the user (errors, episode ends).
    pub message: Option<String>,
    /// Why the run stopped (learning met NaN or infinity, or the loop thread died); the loop
    /// takes no more steps until reset training, a mode switch or a load builds a new run.
    pub stopped: Option<String>,
    /// The checkpoint folder a requested save will write at the next episode start.
    pub saving: Option<PathBuf>,
    /// The outcome of the last save (kept for the saves panel; messages move on).
    pub save_outcome: Option<String>,
    /// Where saves are written and listed (`saves/`).
    pub saves_dir: PathBuf,
    /// Where exports are written (`exports/`).
    pub exports_dir: PathBuf,
}

impl Experiment {
    /// Loads `scene_path` and starts episode 0 with `seed` in `mpc + simulator` mode; `threads`
    /// rollout threads.
    pub fn new(scene_path: &Path, seed: u64, threads: usize) -> anyhow::Result<Experiment> {
        Experiment::new_in_mode(scene_path, RunMode::MpcSimulator, seed, threads)
    }

    /// Loads `scene_path` and starts `mode` with its default settings.
    pub fn new_in_mode(scene_path: &Path, mode: RunMode, seed: u64, threads: usize) -> anyhow::Result<Experiment> {
        let scene = load_scene(scene_path)?;
        let defaults = scene.defaults(mode);
        Experiment::start(scene_path, scene, mode, defaults.planner, defaults.train, seed, threads)
    }

    /// Starts the run a settings file records (`train`'s `settings.ron`, or one of
    /// `docs/settings`): its scene, mode, model, seed, planner and learning settings, on
    /// `threads` rollout threads.
    pub fn from_recorded(config: &RunConfig, threads: usize) -> anyhow::Result<Experiment> {
        let scene = load_scene(&config.scene)?;
        let (planner, train) = (config.planner.clone(), config.train.clone());
        Experiment::start(&config.scene, scene, config.mode, planner, train, config.seed, threads)
    }

    /// Like `new`, with a loaded scene and planner settings other than the scene's own.
    pub fn with_settings(
        scene_path: &Path,
        scene: Scene,
        settings: PlannerSettings,
        seed: u64,
        threads: usize,
    ) -> anyhow::Result<Experiment> {
        let train = scene.defaults(RunMode::MpcSimulator).train;
        Experiment::start(scene_path, scene, RunMode::MpcSimulator, settings, train, seed, threads)
    }

    /// Starts `mode` from step 0 with these settings (every mode goes through here).
    pub fn start(
        scene_path: &Path,
        scene: Scene,
        mode: RunMode,
        settings: PlannerSettings,
        train: TrainSettings,
        seed: u64,
        threads: usize,
    ) -> anyhow::Result<Experiment> {
        let mut env = Env::new(&scene);
        env.reset(episode_seed(seed, 0));
        let driver = if mode.is_learning() {
            let config = studio_run_config(scene_path, mode, &settings, &train, seed, threads);
            config.planner.validate()?;
            let run = learning_run(&scene, &config)?;
            // A copy of the trainer's env (its world and gait included): the trainer resets it
            // from the same episode seeds, so both stay identical.
            env = run.train_env.fork();
            Driver::Learning(Box::new(run))
        } else {
            Driver::Mpc {
                agent: Box::new(MpcAgent::new(&env, settings.clone(), seed, threads)?),
                env: Box::new(env.fork()),
            }
        };
        let run = Run { scene_path, scene, mode, settings, train, seed, threads };
        Ok(Experiment::from_driver(run, env, driver))
    }

    /// The studio's side of a run whose loop drives `driver`; `env` is the studio's copy, at the
    /// same state as the driver's.
    pub(super) fn from_driver(run: Run<'_>, env: Env, driver: Driver) -> Experiment {
        let Run { scene_path, scene, mode, settings, train, seed, threads } = run;
        let learned_plan_origin = if mode.learns_model() {
            ObservationKinematics::new(env.robot().clone()).and_then(|k| k.floating_root())
        } else {
            None
        };
        Experiment {
            run: RunHandle {
                scene_path: scene_path.to_path_buf(),
                scene,
                env,
                mode,
                train,
                control: ControlLoop::spawn(driver),
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
                learned_plan_origin,
                drag: None,
            },
            history: History::default(),
            ui: UiStatus {
                next_seed: seed,
                ghost_steps: 10,
                message: None,
                stopped: None,
                saving: None,
                save_outcome: None,
                saves_dir: PathBuf::from("saves"),
                exports_dir: PathBuf::from("exports"),
            },
        }
    }

    /// Restarts from step 0 in `mode` with that mode's defaults on this scene (the mode
    /// picker). Run controls (speed, pause, lockstep) carry over, and so do learning settings
    /// the user has edited away from the old mode's defaults.
    pub fn switch_mode(&mut self, mode: RunMode) -> anyhow::Result<()> {
        let (old, new) = (self.run.scene.defaults(self.run.mode), self.run.scene.defaults(mode));
        let mut train = if self.run.train == old.train { new.train.clone() } else { self.run.train.clone() };
        // A warm-up left at the old mode's default takes the new mode's (SAC warms up longer).
        if train.warmup_steps == old.train.warmup_steps {
            train.warmup_steps = new.train.warmup_steps;
        }
        self.restart(mode, new.planner, train)
    }

    /// The run this experiment performs, as `train --settings` would rerun it headless.
    pub fn run_config(&self) -> RunConfig {
        studio_run_config(
            &self.run.scene_path,
            self.run.mode,
            &self.run.settings,
            &self.run.train,
            self.run.seed,
            self.run.threads,
        )
    }

    /// Restarts the current mode from step 0 with the current settings: fresh networks, empty
    /// replay buffer, episode 0 (the "reset training" button).
    pub fn reset_training(&mut self) -> anyhow::Result<()> {
        self.restart(self.run.mode, self.run.settings.clone(), self.run.train.clone())
    }

    /// Restarts the current mode from step 0 with `seed` (the same seed replays the same run).
    pub fn restart_with_seed(&mut self, seed: u64) -> anyhow::Result<()> {
        let previous = std::mem::replace(&mut self.run.seed, seed);
        let restarted = self.restart(self.run.mode, self.run.settings.clone(), self.run.train.clone());
        if restarted.is_err() {
            self.run.seed = previous;
        }
        restarted
    }

    fn restart(&mut self, mode: RunMode, settings: PlannerSettings, train: TrainSettings) -> anyhow::Result<()> {
        let mut next = Experiment::start(
            &self.run.scene_path,
            self.run.scene.clone(),
            mode,
            settings,
            train,
            self.run.seed,
            self.run.threads,
        )?;
        next.carry_over_from(self);
        next.ui.message = Some(format!("started {mode} from step 0"));
        *self = next;
        Ok(())
    }

    /// Run controls and output folders that survive a restart or a load.
    pub(super) fn carry_over_from(&mut self, old: &Experiment) {
        (self.run.speed, self.run.paused, self.run.blocking, self.ui.ghost_steps) =
            (old.run.speed, old.run.paused, old.run.blocking, old.ui.ghost_steps);
        (self.ui.saves_dir, self.ui.exports_dir) = (old.ui.saves_dir.clone(), old.ui.exports_dir.clone());
    }

    pub fn control_dt(&self) -> f64 {
        1.0 / f64::from(self.run.scene.physics.control_rate)
    }

    /// Advances by `wall_seconds` of real time; returns the control steps taken. The control loop
    /// plans and steps on its own thread as far as the granted steps allow; here its records are
    /// collected and replayed (lockstep: a step happens only when its plan is ready, so results
    /// never depend on the frame rate). In `blocking` mode each call takes exactly one step.
    pub fn advance(&mut self, wall_seconds: f64) -> u32 {
        let dt = self.control_dt();
        self.send_settings_if_changed();
        let mut steps = 0;
        if self.ui.stopped.is_some() {
            // The loop takes no more steps: waiting for one would hang a blocking run.
            while let Some(report) = self.run.control.try_receive() {
                self.receive(report);
            }
            return 0;
        }
        let take_one = !self.run.paused || self.run.pending_steps > 0;
        if self.run.blocking && take_one {
            if self.run.paused {
                self.run.pending_steps -= 1;
            }
            if self.run.outstanding == 0 {
                self.grant(1);
            }
            while let Some(report) = self.run.control.receive() {
                if self.receive(report) {
                    steps += 1;
                    break;
                }
            }
            // An evaluation scheduled after this step belongs to it.
            while self.history.evaluating
                && let Some(report) = self.run.control.receive()
            {
                self.receive(report);
            }
        } else if !self.run.blocking {
            while let Some(report) = self.run.control.try_receive() {
                if self.receive(report) {
                    steps += 1;
                }
            }
            if self.run.paused {
                if self.run.pending_steps > 0 && self.run.outstanding == 0 {
                    self.run.pending_steps -= 1;
                    self.grant(1);
                }
            } else {
                let cap = (MAX_BUDGET_WALL_SECONDS * f64::from(self.run.speed)).max(2.0 * dt);
                self.run.budget = (self.run.budget + wall_seconds * f64::from(self.run.speed)).min(cap);
                // Keep the loop busy up to the sim time the wall clock allows (plus one step ahead).
                let wanted = (self.run.budget / dt).floor().max(0.0) as u32 + 1;
                if wanted > self.run.outstanding {
                    let extra = wanted - self.run.outstanding;
                    self.grant(extra);
                    self.run.budget -= f64::from(extra) * dt;
                }
            }
        }
        if wall_seconds > 0.0 {
            let instant = f64::from(steps) * dt / wall_seconds;
            self.history.real_time_factor = 0.9 * self.history.real_time_factor + 0.1 * instant;
        }
        steps
    }

    fn grant(&mut self, steps: u32) {
        self.run.outstanding += steps;
        self.run.control.send(Command::Grant(steps));
    }

    fn send_settings_if_changed(&mut self) {
        if self.run.settings != self.run.sent_settings {
            self.run.sent_settings = self.run.settings.clone();
            self.run.control.send(Command::Settings(self.run.settings.clone()));
        }
    }

    /// Takes one report of the control loop; true if it was a step that counts.
    fn receive(&mut self, report: Report) -> bool {
        match report {
            Report::Step(record) => self.apply(*record),
            Report::Eval(row) => {
                self.history.evaluating = false;
                self.ui.message = Some(format!("evaluation at {} steps: {}", row.env_steps, row.return_text()));
                self.history.learning.evals.push(row);
                false
            }
            Report::Stopped(why) => {
                // Nothing more will come: stop granting and waiting, as after a divergence.
                self.history.evaluating = false;
                self.run.outstanding = 0;
                self.ui.saving = None;
                self.ui.stopped = Some(format!("{why}; reset training or switch mode to start a new run"));
                self.ui.message = self.ui.stopped.clone();
                false
            }
            Report::Saved(outcome) => {
                self.ui.saving = None;
                let text = match outcome {
                    Ok((dir, steps)) => format!("saved {} at env step {steps}", dir.display()),
                    Err(error) => format!("save failed: {error}"),
                };
                self.ui.message = Some(text.clone());
                self.ui.save_outcome = Some(text);
                false
            }
        }
    }

    /// Replays a step of the control loop and records everything the plots and drawings need;
    /// false for a record of an episode that was reset away.
    fn apply(&mut self, record: StepRecord) -> bool {
        if record.generation != self.run.generation {
            return false;
        }
        self.run.outstanding = self.run.outstanding.saturating_sub(1);
        if let Some(error) = record.settings_error {
            self.ui.message = Some(format!("settings refused: {error}"));
            self.run.sent_settings = self.run.settings.clone();
        }
        let observation = self.run.env.observation();
        let mut trace = record.trace;
        if let (Some(root), Some(trace)) = (self.run.learned_plan_origin, trace.as_mut()) {
            let at = link_pose(self.run.env.physics(), self.run.env.robot(), root).translation;
            shift_points(trace, [at.x, 0.0, at.z]);
        }
        for push in &record.pushes {
            // The loop accepted it on an identical env, so this one accepts it too.
            let _ = self.run.env.push(push.clone());
        }
        self.history.timeline.push(Frame {
            poses: link_poses(&self.run.env),
            points: drawn_points(&self.run.env),
            trace: trace.clone(),
            planner: record.planner_before,
        });
        let outcome = self.run.env.step(&record.action);
        self.history.sim_time += self.control_dt();
        self.history.env_steps += 1;
        self.history.episode_return += f64::from(outcome.reward);
        self.history.episode_plan_ms += record.plan_ms;
        let m = &mut self.history.metrics;
        m.step_rewards.push(outcome.reward);
        m.reward_terms.push(self.run.env.weighted_reward_terms().collect());
        push_window(&mut m.executed_action, record.action.clone());
        let mut points = Vec::new();
        self.run.env.drawn_points_into(&mut points);
        push_capped(&mut self.history.executed, points, PATH_WINDOW);
        let planned = trace.as_ref().map(|t| t.mean_actions.get(..t.action_dim).unwrap_or_default().to_vec());
        self.history.episode_log.push(LoggedStep {
            observation,
            action: record.action,
            reward: outcome.reward,
            planned,
            pushes: record.pushes,
        });
        if let Some(trace) = trace {
            self.record_plan(trace, record.plan_ms);
        } else {
            // Random warm-up and SAC actions have no plan to draw.
            self.history.last_trace = None;
            self.history.predictions.clear();
        }
        if let Some(learning) = record.learning {
            self.record_learning(learning, record.plan_ms);
        }
        if outcome.done() {
            let reason = outcome.reason.map(|r| r.to_string()).unwrap_or_default();
            self.ui.message = Some(format!(
                "episode {} ended after {} steps, return {:.1} ({reason})",
                self.history.episode + 1,
                self.run.env.steps(),
                self.history.episode_return
            ));
            self.history.metrics.episode_returns.push(self.history.episode_return);
            let length = self.run.env.steps();
            self.history.finished.push(EpisodeSummary {
                episode_return: self.history.episode_return,
                length,
                end: reason,
                plan_ms: self.history.episode_plan_ms / f64::from(length.max(1)),
                reward_terms: reward_term_sums(&self.history.metrics.reward_terms),
            });
            if self.run.mode.is_learning() {
                // The trainer has already started its next episode from the same seed.
                self.begin_episode();
            } else {
                self.next_episode();
            }
        }
        true
    }

    /// Plots and drawings of the plan that chose this step's action.
    fn record_plan(&mut self, trace: PlanTrace, plan_ms: f64) {
        let m = &mut self.history.metrics;
        push_window(&mut m.plan_ms, plan_ms);
        let summary = &trace.summary;
        push_window(&mut m.best_score, summary.best_score);
        push_window(&mut m.mean_score, summary.sample_mean_score);
        push_window(&mut m.elite_score, summary.elite_mean_score);
        push_window(&mut m.effective_sample_size, summary.effective_sample_size);
        let dim = trace.action_dim;
        push_window(&mut m.planned_action, trace.mean_actions.get(..dim).unwrap_or_default().to_vec());
        let pc = trace.point_count.max(1);
        let predicted: Vec<Vec<[f32; 3]>> = trace.mean_points.chunks(pc).map(<[_]>::to_vec).collect();
        push_capped(&mut self.history.predictions, predicted, self.ui.ghost_steps + 1);
        self.history.last_trace = Some(trace);
    }

    fn record_learning(&mut self, record: LearnRecord, act_ms: f64) {
        debug_assert_eq!(record.env_steps, self.history.env_steps, "the studio replays every trainer step");
        let l = &mut self.history.learning;
        l.updates += record.stats.sac.len() as u64;
        let steps = record.env_steps as f64;
        if let Some(fit) = &record.stats.model_fit {
            let predicted_variance = f64::from(fit.holdout_mean_logvar).exp();
            l.model_fits.push([steps, f64::from(fit.holdout_mse), predicted_variance]);
            // A refit takes seconds: kept apart so it does not flatten the per-step timing plot.
            l.last_fit_ms = record.learn_ms;
        } else {
            push_window(&mut l.step_ms, [steps, act_ms, record.learn_ms]);
        }
        l.rows.extend(record.row);
        l.train_episodes.extend(record.episode_end);
        self.history.evaluating = record.eval_follows;
        if let Some(why) = record.divergence {
            let text =
                format!("learning stopped at env step {}: {why}; reset training or load a save", record.env_steps);
            self.ui.message = Some(text.clone());
            self.ui.stopped = Some(text);
            self.ui.saving = None;
        }
    }

    /// Resets the studio's env for the next episode and clears the per-episode views.
    fn begin_episode(&mut self) {
        self.history.episode += 1;
        self.run.env.reset(episode_seed(self.run.seed, self.history.episode));
        self.history.episode_return = 0.0;
        self.history.episode_plan_ms = 0.0;
        self.history.metrics.step_rewards.clear();
        self.history.metrics.reward_terms.clear();
        self.history.episode_log.clear();
        self.history.timeline.clear();
        self.history.executed.clear();
        self.history.predictions.clear();
    }

    /// Next episode in MPC mode: the loop is told to reset too, and records of the old episode
    /// still in flight are dropped by their generation.
    fn next_episode(&mut self) {
        self.begin_episode();
        self.run.generation += 1;
        self.run.outstanding = 0;
        self.run.control.send(Command::Reset {
            seed: episode_seed(self.run.seed, self.history.episode),
            generation: self.run.generation,
        });
    }

    /// Restarts the current episode's count from a fresh reset (R key, reset button). Learning
    /// runs own their episodes (every step taken is learned from), so there it only says so.
    pub fn reset_episode(&mut self) {
        if self.run.mode.is_learning() {
            self.ui.message = Some("learning modes run every episode to its end; use reset training".into());
            return;
        }
        self.history.episode_return = 0.0;
        self.next_episode();
    }

    /// Shows step `k` of the current episode as it was (None: the live step); scrubbing pauses.
    pub fn scrub(&mut self, k: Option<usize>) {
        let timeline = &mut self.history.timeline;
        timeline.cursor = k.filter(|&k| k < timeline.len());
        if timeline.cursor.is_some() {
            self.run.paused = true;
        }
    }

    /// Restarts the current episode from step `k` with the current settings: both envs replay
    /// the episode's actions and pushes up to `k`, the planner continues from its state before
    /// step k's plan. Unchanged settings give the original episode again, bit for bit.
    pub fn replay_from(&mut self, k: usize) -> Result<(), String> {
        if self.run.mode != RunMode::MpcSimulator {
            return Err("replay needs mpc with the simulator: a learning run learns from every step it took".into());
        }
        let frame = self.history.timeline.frame(k).ok_or_else(|| format!("the episode has no step {k} yet"))?;
        let planner = frame.planner.clone().ok_or_else(|| format!("step {k} kept no planner state"))?;
        let steps: Vec<(Vec<f32>, Vec<Push>)> =
            self.history.episode_log[..k].iter().map(|s| (s.action.clone(), s.pushes.clone())).collect();
        let (seed, dt) = (episode_seed(self.run.seed, self.history.episode), self.control_dt());
        self.run.env.replay(seed, &steps);
        let h = &mut self.history;
        let dropped = (h.episode_log.len() - k) as u64;
        h.episode_log.truncate(k);
        h.timeline.truncate(k);
        h.metrics.step_rewards.truncate(k);
        h.metrics.reward_terms.truncate(k);
        h.episode_return = h.episode_log.iter().map(|s| f64::from(s.reward)).sum();
        h.env_steps -= dropped;
        h.sim_time -= dropped as f64 * dt;
        h.executed.clear();
        h.predictions.clear();
        h.last_trace = None;
        self.run.generation += 1;
        self.run.outstanding = 0;
        self.run.sent_settings = self.run.settings.clone();
        self.run.control.send(Command::Replay {
            seed,
            generation: self.run.generation,
            steps,
            planner,
            settings: self.run.settings.clone(),
        });
        Ok(())
    }

    /// Pushes the robot before the next step (the panel's button); refused for an unknown link
    /// or a non-finite force.
    pub fn push(&mut self, push: Push) -> Result<(), PushError> {
        push.check(self.run.env.robot())?;
        self.run.control.send(Command::Push(push));
        Ok(())
    }

    /// Holds `drag`'s force on its link at every step from the next on (the mouse drag), or
    /// releases it (`None`).
    pub fn set_drag(&mut self, drag: Option<Push>) -> Result<(), PushError> {
        if let Some(push) = &drag {
            push.check(self.run.env.robot())?;
        }
        if drag != self.run.drag {
            self.run.control.send(Command::Drag(drag.clone()));
            self.run.drag = drag;
        }
        Ok(())
    }

    /// Env steps of random actions still to come before the agent acts itself (learning modes).
    pub fn warmup_left(&self) -> u64 {
        if self.run.mode.is_learning() { self.run.train.warmup_steps.saturating_sub(self.history.env_steps) } else { 0 }
    }

    /// The ghost: what the plan made `ghost_steps` ago predicted, from then on.
    pub fn ghost(&self) -> Option<&[Vec<[f32; 3]>]> {
        (self.history.predictions.len() > self.ui.ghost_steps).then(|| self.history.predictions[0].as_slice())
    }

    /// Executed points since the ghost's plan was made (so both start at the same place).
    pub fn executed_since_ghost(&self) -> Vec<Vec<[f32; 3]>> {
        let n = self.history.executed.len().min(self.ui.ghost_steps + 1);
        self.history.executed.iter().skip(self.history.executed.len() - n).cloned().collect()
    }
}

fn push_capped<T>(queue: &mut VecDeque<T>, value: T, cap: usize) {
    while queue.len() >= cap.max(1) {
        queue.pop_front();
    }
    queue.push_back(value);
}

/// The studio's order within a frame's `Update`: input (shortcuts, camera drags) changes what
/// the experiment does this frame, the experiment advances, then the view shows the result.
/// The panels run after all of them, in egui's own pass.
#[derive(bevy::ecs::schedule::SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StudioSet {
    Input,
    Simulate,
    View,
}

/// Runs the experiment loop as a system: apply settings, plan (off-thread), act, step, record;
/// and orders the studio's system sets.
pub struct ExperimentPlugin;

impl bevy::app::Plugin for ExperimentPlugin {
    fn build(&self, app: &mut bevy::app::App) {
        use bevy::ecs::schedule::IntoScheduleConfigs;
        app.configure_sets(bevy::app::Update, (StudioSet::Input, StudioSet::Simulate, StudioSet::View).chain())
            .add_systems(bevy::app::Update, advance_experiment.in_set(StudioSet::Simulate));
    }
}

/// Feeds wall time to the experiment; in lockstep mode each update takes exactly one step.
pub fn advance_experiment(
    time: bevy::prelude::Res<bevy::time::Time>,
    mut experiment: bevy::prelude::ResMut<Experiment>,
) {
    experiment.advance(f64::from(time.delta_secs()));
}

/// Each weighted reward term summed over the steps recorded so far.
fn reward_term_sums(steps: &[Vec<f32>]) -> Vec<f64> {
    let mut sums = vec![0.0f64; steps.first().map_or(0, Vec::len)];
    for step in steps {
        for (sum, &value) in sums.iter_mut().zip(step) {
            *sum += f64::from(value);
        }
    }
    sums
}

/// Moves every predicted point of `trace` by `offset` (root-relative learned-model plans to world).
fn shift_points(trace: &mut PlanTrace, offset: [f32; 3]) {
    for point in trace.points.iter_mut().chain(trace.mean_points.iter_mut()) {
        for (coordinate, delta) in point.iter_mut().zip(offset) {
            *coordinate += delta;
        }
    }
}

/// A studio run as a [`RunConfig`] (preset `studio`; the studio has no step limit).
fn studio_run_config(
    scene_path: &Path,
    mode: RunMode,
    planner: &PlannerSettings,
    train: &TrainSettings,
    seed: u64,
    threads: usize,
) -> RunConfig {
    RunConfig {
        scene: scene_path.to_path_buf(),
        mode,
        preset: "studio".to_string(),
        seed,
        steps: 0,
        threads,
        train: train.clone(),
        planner: planner.clone(),
    }
}

/// Every link's pose as (x, y, z, qx, qy, qz, qw).
fn link_poses(env: &Env) -> Vec<[f32; 7]> {
    (0..env.robot().links.len())
        .map(|l| {
            let pose = link_pose(env.physics(), env.robot(), l);
            let (t, r) = (pose.translation, pose.rotation);
            [t.x, t.y, t.z, r.x, r.y, r.z, r.w]
        })
        .collect()
}

fn drawn_points(env: &Env) -> Vec<[f32; 3]> {
    let mut points = Vec::new();
    env.drawn_points_into(&mut points);
    points
}
