//! The learning loop shared by the `sac`, learned-model `mpc` and `demorl` modes: act, store,
//! learn on a schedule, and evaluate every K env steps on a separate env instance.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::health::divergence;
use super::model_data::ModelDataSettings;
use super::mpc::episode_seed;
use super::record::mean_std;
use crate::learn::{EnsembleSettings, SacLosses, SacSettings, StepEnd};
use crate::plan::{ObservationPoints, PlanOutput, PlanSummary, PlannerSettings, SettingsError};
use crate::scene::Scene;
use crate::sim::{EndReason, Env};

/// Offset added to the run seed for evaluation episodes, so they never replay training starts.
const EVAL_SEED_OFFSET: u64 = 0x5eed_e7a1;

/// Learning schedule and learner settings of a run (everything but the planner).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainSettings {
    /// Env steps with uniform random actions before the agent acts itself (1000).
    pub warmup_steps: u64,
    /// SAC gradient updates per env step once warm-up is over (1).
    pub updates_per_step: usize,
    /// Replay capacity in transitions (1,000,000).
    pub replay_capacity: usize,
    /// Evaluate every this many env steps (1000); also once at step 0.
    pub eval_every: u64,
    /// Deterministic episodes per evaluation (5).
    pub eval_episodes: usize,
    /// One `train.csv` row per this many env steps, averaging the losses in between (100).
    pub log_every: u64,
    /// Refit the dynamics ensemble every this many env steps (250).
    pub model_train_every: u64,
    /// SAC hyper-parameters.
    pub sac: SacSettings,
    /// Dynamics-ensemble hyper-parameters.
    pub ensemble: EnsembleSettings,
    /// Model-generated transitions for SAC (DeMoRL only; off by default).
    pub model_data: ModelDataSettings,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            warmup_steps: 1000,
            updates_per_step: 1,
            replay_capacity: 1_000_000,
            eval_every: 1000,
            eval_episodes: 5,
            log_every: 100,
            model_train_every: 250,
            sac: SacSettings::default(),
            ensemble: EnsembleSettings::default(),
            model_data: ModelDataSettings::default(),
        }
    }
}

/// Everything needed to rerun a `train` command (`settings.ron`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub scene: PathBuf,
    /// `sac`, `mpc` or `demorl`.
    pub mode: String,
    /// `learned`, `simulator` or `none`.
    pub model: String,
    /// Preset name or `scene-default`.
    pub preset: String,
    pub seed: u64,
    /// Env steps of the run.
    pub steps: u64,
    /// Rollout threads (simulator model).
    pub threads: usize,
    pub train: TrainSettings,
    pub planner: PlannerSettings,
}

/// One env transition as the agent sees it after the step.
pub struct Transition<'a> {
    pub obs: &'a [f32],
    pub action: &'a [f32],
    pub reward: f32,
    pub next_obs: &'a [f32],
    pub end: StepEnd,
}

/// What one dynamics-model refit reported.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelFit {
    /// Mean elite hold-out MSE of the model in use after the refit (standardised units).
    pub holdout_mse: f32,
    /// Training epochs run.
    pub epochs: usize,
    /// The refit guard rejected the refit and kept the previous model.
    pub kept_previous: bool,
    /// Hold-out MSE per output, reward first (see `FitReport::holdout_mse_per_output`).
    pub holdout_mse_per_output: Vec<f32>,
    /// The elites' mean predicted log-variance on the hold-out rows (`FitReport::holdout_mean_logvar`).
    pub holdout_mean_logvar: f32,
    /// The refit stalled and the model refitted from fresh weights was kept (`restart_stalled`).
    pub restarted: bool,
}

/// What learning did during one env step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepStats {
    /// Losses of every SAC update done in this step.
    pub sac: Vec<SacLosses>,
    /// Set when the dynamics model was refitted.
    pub model_fit: Option<ModelFit>,
    /// Summary of the plan that chose this step's action (planning agents after warm-up).
    pub plan: Option<PlanSummary>,
}

/// An agent that learns while acting. Evaluation must not disturb the training state (the
/// planner's distribution, exploration RNGs): agents keep separate evaluation state.
pub trait TrainAgent {
    /// The training action for `obs` (exploration included; warm-up handled by the agent).
    fn act(&mut self, obs: &[f32], env_steps: u64) -> Vec<f32>;
    /// Stores a transition and learns on the agent's schedule. `env_steps` counts it.
    fn observe(&mut self, transition: Transition<'_>, env_steps: u64) -> StepStats;
    /// A training episode starts.
    fn episode_start(&mut self);
    /// The deterministic evaluation action.
    fn eval_act(&mut self, obs: &[f32]) -> Vec<f32>;
    /// An evaluation episode starts.
    fn eval_episode_start(&mut self);
    /// The learned actor's own deterministic action, for agents that plan on top of one
    /// (DeMoRL): evaluations then also run the actor alone, to tell planner from learner.
    fn actor_eval_act(&mut self, _obs: &[f32]) -> Option<Vec<f32>> {
        None
    }
    /// Mean wall milliseconds per plan so far (0 for agents that do not plan).
    fn plan_ms(&self) -> f64 {
        0.0
    }
    /// Writes everything needed to continue bit-identically into the existing folder `dir`.
    fn save_state(&self, _dir: &Path) -> anyhow::Result<()> {
        anyhow::bail!("checkpoints are not supported in this mode yet")
    }
    /// Replaces the agent's state with one written by [`TrainAgent::save_state`].
    fn load_state(&mut self, _dir: &Path) -> anyhow::Result<()> {
        anyhow::bail!("checkpoints are not supported in this mode yet")
    }
    /// New planner settings from the next plan on (agents without a planner ignore them).
    fn set_planner_settings(&mut self, _settings: PlannerSettings) -> Result<(), SettingsError> {
        Ok(())
    }
    /// The last training plan, for drawing (agents without a planner have none).
    fn last_plan(&self) -> Option<&PlanOutput> {
        None
    }
    /// How to draw predicted observations (planning agents pass it to their learned model).
    fn set_drawing(&mut self, _drawing: Arc<dyn ObservationPoints>) {}
}

/// Any agent behind a box is an agent, so one `Trainer` type serves every mode.
impl TrainAgent for Box<dyn TrainAgent + Send> {
    fn act(&mut self, obs: &[f32], env_steps: u64) -> Vec<f32> {
        (**self).act(obs, env_steps)
    }
    fn observe(&mut self, transition: Transition<'_>, env_steps: u64) -> StepStats {
        (**self).observe(transition, env_steps)
    }
    fn episode_start(&mut self) {
        (**self).episode_start()
    }
    fn eval_act(&mut self, obs: &[f32]) -> Vec<f32> {
        (**self).eval_act(obs)
    }
    fn eval_episode_start(&mut self) {
        (**self).eval_episode_start()
    }
    fn actor_eval_act(&mut self, obs: &[f32]) -> Option<Vec<f32>> {
        (**self).actor_eval_act(obs)
    }
    fn plan_ms(&self) -> f64 {
        (**self).plan_ms()
    }
    fn set_planner_settings(&mut self, settings: PlannerSettings) -> Result<(), SettingsError> {
        (**self).set_planner_settings(settings)
    }
    fn last_plan(&self) -> Option<&PlanOutput> {
        (**self).last_plan()
    }
    fn set_drawing(&mut self, drawing: Arc<dyn ObservationPoints>) {
        (**self).set_drawing(drawing)
    }
    fn save_state(&self, dir: &Path) -> anyhow::Result<()> {
        (**self).save_state(dir)
    }
    fn load_state(&mut self, dir: &Path) -> anyhow::Result<()> {
        (**self).load_state(dir)
    }
}

/// What one training env step did (returned by [`Trainer::step`] for live views).
#[derive(Clone, Debug, Default)]
pub struct TrainStep {
    /// The executed action.
    pub action: Vec<f32>,
    pub reward: f32,
    /// Return of the training episode this step ended (the env is already reset then).
    pub episode_end: Option<f64>,
    /// What learning did; `stats.plan` is set when a plan chose the action.
    pub stats: StepStats,
    /// Wall milliseconds choosing the action (planning) and learning (updates, refits).
    pub act_ms: f64,
    pub learn_ms: f64,
    /// A `train.csv` row completed by this step.
    pub row: Option<TrainRow>,
    /// Set when learning has stopped on a non-finite value (this step or earlier).
    pub divergence: Option<String>,
}

/// One evaluation: deterministic episodes on the evaluation env.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalRow {
    pub env_steps: u64,
    pub eval_return_mean: f64,
    pub eval_return_std: f64,
    pub eval_return_min: f64,
    pub eval_return_max: f64,
    pub eval_length_mean: f64,
    /// Training episodes finished so far.
    pub train_episodes: usize,
    /// Return of the last finished training episode (NaN before the first).
    pub last_train_return: f64,
    /// DeMoRL: mean and std of the same episodes played by SAC's actor alone, without the
    /// planner (NaN for agents without an actor under a planner).
    #[serde(default = "not_measured")]
    pub actor_return_mean: f64,
    #[serde(default = "not_measured")]
    pub actor_return_std: f64,
}

impl EvalRow {
    /// `return M ± S`, and the actor-alone figures when they were measured (logs, messages).
    pub fn return_text(&self) -> String {
        let mut text = format!("return {:.2} ± {:.2}", self.eval_return_mean, self.eval_return_std);
        if self.actor_return_mean.is_finite() {
            text += &format!("; actor alone {:.2} ± {:.2}", self.actor_return_mean, self.actor_return_std);
        }
        text
    }
}

/// Rows written before a column existed read it as NaN.
fn not_measured() -> f64 {
    f64::NAN
}

/// One `train.csv` row: means over the last `log_every` env steps (NaN if nothing happened).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainRow {
    pub env_steps: u64,
    pub updates: usize,
    pub critic_loss: f32,
    pub actor_loss: f32,
    pub alpha: f32,
    pub entropy: f32,
    /// Mean over updates of `Σ_j (tanh μ_j(s) − a_j)²` between the actor's mean action and the
    /// executed (planner's) actions of the batch (NaN in rows written before it existed).
    #[serde(default = "crate::learn::sac::f32_not_measured")]
    pub actor_action_gap: f32,
    /// Mean elite hold-out MSE of the last model fit (standardised units; NaN before any).
    pub model_holdout_mse: f32,
    pub model_fits: usize,
    /// Refits the refit guard rejected so far (the previous model was kept).
    #[serde(default)]
    pub model_fits_rejected: usize,
    /// The last fit's hold-out MSE per output, reward first, `;`-separated (empty before any).
    #[serde(default)]
    pub model_holdout_mse_per_output: String,
    /// The last fit's elite mean predicted log-variance on its hold-out rows, standardised
    /// (NaN before any fit and in rows written before it existed).
    #[serde(default = "crate::learn::sac::f32_not_measured")]
    pub model_holdout_logvar: f32,
    /// Training epochs of the last fit (0 before any).
    #[serde(default)]
    pub model_fit_epochs: usize,
    /// Stalled refits replaced by a fit from fresh weights so far (`restart_stalled`).
    #[serde(default)]
    pub model_fits_restarted: usize,
    /// Plans made in the window and means of their statistics (NaN without plans).
    pub plans: usize,
    pub plan_best_score: f32,
    pub plan_mean_score: f32,
    pub plan_effective_sample_size: f32,
}

/// The trainer's own part of a checkpoint: counters, metrics so far and the unlogged window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    pub env_steps: u64,
    pub episode: u64,
    pub episode_returns: Vec<f64>,
    pub evals: Vec<EvalRow>,
    pub rows: Vec<TrainRow>,
    pub window: Vec<SacLosses>,
    pub plans: Vec<PlanSummary>,
    pub model_mse: f32,
    pub model_fits: usize,
    #[serde(default)]
    pub model_fits_rejected: usize,
    #[serde(default)]
    pub model_mse_per_output: String,
    #[serde(default = "crate::learn::sac::f32_not_measured")]
    pub model_logvar: f32,
    #[serde(default)]
    pub model_fit_epochs: usize,
    #[serde(default)]
    pub model_fits_restarted: usize,
}

/// Progress figures for a progress bar.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub env_steps: u64,
    pub episodes: usize,
    pub last_return: f64,
    pub steps_per_second: f64,
}

fn plan_mean(plans: &[PlanSummary], f: fn(&PlanSummary) -> f32) -> f32 {
    if plans.is_empty() {
        return f32::NAN;
    }
    (plans.iter().map(|p| f64::from(f(p))).sum::<f64>() / plans.len() as f64) as f32
}

/// Runs an agent on a training env and evaluates it on a separate env built from the same scene.
pub struct Trainer<A: TrainAgent> {
    pub agent: A,
    /// The env the agent learns from. Evaluation never touches it.
    pub train_env: Env,
    /// A separate env instance for evaluation episodes.
    pub eval_env: Env,
    pub settings: TrainSettings,
    pub seed: u64,
    pub env_steps: u64,
    pub episode_returns: Vec<f64>,
    pub evals: Vec<EvalRow>,
    pub rows: Vec<TrainRow>,
    episode: u64,
    episode_return: f64,
    obs: Vec<f32>,
    window: Vec<SacLosses>,
    plans: Vec<PlanSummary>,
    model_mse: f32,
    model_fits: usize,
    model_fits_rejected: usize,
    model_mse_per_output: String,
    model_logvar: f32,
    model_fit_epochs: usize,
    model_fits_restarted: usize,
    /// Why learning stopped (a non-finite observation, loss or model error), if it did.
    diverged: Option<String>,
    started: Instant,
}

impl<A: TrainAgent> Trainer<A> {
    pub fn new(scene: &Scene, agent: A, settings: TrainSettings, seed: u64) -> Self {
        let mut train_env = Env::new(scene);
        train_env.reset(episode_seed(seed, 0));
        let obs = train_env.observation();
        let mut trainer = Self {
            agent,
            train_env,
            eval_env: Env::new(scene),
            settings,
            seed,
            env_steps: 0,
            episode_returns: Vec::new(),
            evals: Vec::new(),
            rows: Vec::new(),
            episode: 0,
            episode_return: 0.0,
            obs,
            window: Vec::new(),
            plans: Vec::new(),
            model_mse: f32::NAN,
            model_fits: 0,
            model_fits_rejected: 0,
            model_mse_per_output: String::new(),
            model_logvar: f32::NAN,
            model_fit_epochs: 0,
            model_fits_restarted: 0,
            diverged: None,
            started: Instant::now(),
        };
        trainer.agent.episode_start();
        trainer
    }

    /// One env step: act, step, store and learn; resets the env at episode end.
    pub fn step(&mut self) -> TrainStep {
        if let Some(message) = &self.diverged {
            // Learning stopped: nothing more is acted, stored or learned until a reset.
            return TrainStep { divergence: Some(message.clone()), ..TrainStep::default() };
        }
        let started = Instant::now();
        let action = self.agent.act(&self.obs, self.env_steps);
        let act_ms = started.elapsed().as_secs_f64() * 1e3;
        let outcome = self.train_env.step(&action);
        let next_obs = self.train_env.observation();
        self.env_steps += 1;
        self.episode_return += f64::from(outcome.reward);
        let end = if outcome.terminated {
            StepEnd::Terminated
        } else if outcome.truncated {
            StepEnd::Truncated
        } else {
            StepEnd::Continues
        };
        let transition =
            Transition { obs: &self.obs, action: &action, reward: outcome.reward, next_obs: &next_obs, end };
        // A physics blow-up ends the episode (with its reason) but is the simulator's failure, not
        // the learner's: its transition is not stored and learning goes on with the next episode.
        let blew_up = matches!(outcome.reason, Some(EndReason::PhysicsBlowUp(_)));
        // Otherwise a non-finite observation must not reach the replay buffer: learning stops.
        if !blew_up && let Some(message) = divergence(self.env_steps, &next_obs, &StepStats::default()) {
            self.diverged = Some(message.clone());
            return TrainStep { action, reward: outcome.reward, divergence: Some(message), ..TrainStep::default() };
        }
        let learn_started = Instant::now();
        let stats = if blew_up { StepStats::default() } else { self.agent.observe(transition, self.env_steps) };
        let learn_ms = learn_started.elapsed().as_secs_f64() * 1e3;
        // The observation was checked above; what learning produced is checked here.
        self.diverged = divergence(self.env_steps, &[], &stats);
        self.window.extend(stats.sac.iter().copied());
        self.plans.extend(stats.plan);
        if let Some(fit) = &stats.model_fit {
            self.model_mse = fit.holdout_mse;
            self.model_fits += 1;
            self.model_fits_rejected += usize::from(fit.kept_previous);
            let per_output: Vec<String> = fit.holdout_mse_per_output.iter().map(|e| format!("{e:.4}")).collect();
            self.model_mse_per_output = per_output.join(";");
            self.model_logvar = fit.holdout_mean_logvar;
            self.model_fit_epochs = fit.epochs;
            self.model_fits_restarted += usize::from(fit.restarted);
        }
        let mut row = None;
        if self.settings.log_every > 0 && self.env_steps.is_multiple_of(self.settings.log_every) {
            self.push_row();
            row = self.rows.last().cloned();
        }
        let mut episode_end = None;
        if outcome.done() {
            episode_end = Some(self.episode_return);
            self.episode_returns.push(self.episode_return);
            self.episode_return = 0.0;
            self.episode += 1;
            self.train_env.reset(episode_seed(self.seed, self.episode));
            self.agent.episode_start();
            self.obs = self.train_env.observation();
        } else {
            self.obs = next_obs;
        }
        let divergence = self.diverged.clone();
        TrainStep { action, reward: outcome.reward, episode_end, stats, act_ms, learn_ms, row, divergence }
    }

    /// Why learning stopped, if a step produced NaN or infinity (see [`divergence`]).
    pub fn diverged(&self) -> Option<&str> {
        self.diverged.as_deref()
    }

    /// Whether an evaluation is due now: at step 0 and every `eval_every` steps, once each.
    pub fn eval_due(&self) -> bool {
        self.env_steps.is_multiple_of(self.settings.eval_every.max(1)) && !self.evaluated_now()
    }

    fn evaluated_now(&self) -> bool {
        self.evals.last().is_some_and(|r| r.env_steps == self.env_steps)
    }

    fn push_row(&mut self) {
        let n = self.window.len();
        let mean = |f: fn(&SacLosses) -> f32| {
            if n == 0 { f32::NAN } else { (self.window.iter().map(|l| f64::from(f(l))).sum::<f64>() / n as f64) as f32 }
        };
        self.rows.push(TrainRow {
            env_steps: self.env_steps,
            updates: n,
            critic_loss: mean(|l| l.critic),
            actor_loss: mean(|l| l.actor),
            alpha: mean(|l| l.alpha),
            entropy: mean(|l| l.entropy),
            actor_action_gap: mean(|l| l.actor_action_gap),
            model_holdout_mse: self.model_mse,
            model_fits: self.model_fits,
            model_fits_rejected: self.model_fits_rejected,
            model_holdout_mse_per_output: self.model_mse_per_output.clone(),
            model_holdout_logvar: self.model_logvar,
            model_fit_epochs: self.model_fit_epochs,
            model_fits_restarted: self.model_fits_restarted,
            plans: self.plans.len(),
            plan_best_score: plan_mean(&self.plans, |p| p.best_score),
            plan_mean_score: plan_mean(&self.plans, |p| p.mean_plan_score),
            plan_effective_sample_size: plan_mean(&self.plans, |p| p.effective_sample_size),
        });
        self.window.clear();
        self.plans.clear();
    }

    /// Seed of evaluation episode `k` (the same set at every evaluation).
    pub fn eval_seed(&self, k: usize) -> u64 {
        episode_seed(self.seed.wrapping_add(EVAL_SEED_OFFSET), k as u64)
    }

    /// Runs the deterministic evaluation episodes on `eval_env` and records a row; agents with
    /// an actor under their planner play the same episodes again with the actor alone.
    pub fn evaluate(&mut self) -> EvalRow {
        let (returns, lengths) = self.eval_episodes(false).expect("every agent has an evaluation action");
        let (actor_mean, actor_std) = self.eval_episodes(true).map_or((f64::NAN, f64::NAN), |(r, _)| mean_std(&r));
        let (mean, std) = mean_std(&returns);
        let row = EvalRow {
            env_steps: self.env_steps,
            eval_return_mean: mean,
            eval_return_std: std,
            eval_return_min: returns.iter().copied().fold(f64::INFINITY, f64::min),
            eval_return_max: returns.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            eval_length_mean: lengths as f64 / returns.len().max(1) as f64,
            train_episodes: self.episode_returns.len(),
            last_train_return: self.episode_returns.last().copied().unwrap_or(f64::NAN),
            actor_return_mean: actor_mean,
            actor_return_std: actor_std,
        };
        self.evals.push(row.clone());
        row
    }

    /// The evaluation episodes' returns and total length, played by the agent's evaluation
    /// action or (`actor_only`) its actor alone; `None` if it has no such actor.
    fn eval_episodes(&mut self, actor_only: bool) -> Option<(Vec<f64>, u64)> {
        // Asked before any reset, so an agent without an actor leaves the evaluation env as is.
        if actor_only && self.agent.actor_eval_act(&self.eval_env.observation()).is_none() {
            return None;
        }
        let mut returns = Vec::with_capacity(self.settings.eval_episodes);
        let mut lengths = 0u64;
        for k in 0..self.settings.eval_episodes {
            let seed = self.eval_seed(k);
            self.eval_env.reset(seed);
            self.agent.eval_episode_start();
            let mut total = 0.0f64;
            loop {
                let obs = self.eval_env.observation();
                let action = if actor_only { self.agent.actor_eval_act(&obs)? } else { self.agent.eval_act(&obs) };
                let outcome = self.eval_env.step(&action);
                total += f64::from(outcome.reward);
                if outcome.done() {
                    break;
                }
            }
            lengths += u64::from(self.eval_env.steps());
            returns.push(total);
        }
        Some((returns, lengths))
    }

    /// Runs `steps` env steps with an evaluation at step 0, every `eval_every` steps and at the
    /// end; `on_progress` is called after every step, `on_eval` after every evaluation.
    /// Stops early if learning diverges ([`Trainer::diverged`] says why).
    pub fn run(&mut self, steps: u64, on_progress: impl FnMut(&Progress), on_eval: impl FnMut(&EvalRow)) {
        // With a hook that never fails, the only error is divergence, which `diverged` keeps.
        let _ = self.run_with(steps, on_progress, on_eval, |_| Ok(()));
    }

    /// [`Trainer::run`] with `after_step` called after every step and its evaluation (used to
    /// take checkpoints); an error from it stops the run and is returned.
    pub fn run_with(
        &mut self,
        steps: u64,
        mut on_progress: impl FnMut(&Progress),
        mut on_eval: impl FnMut(&EvalRow),
        mut after_step: impl FnMut(&Self) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.started = Instant::now();
        let started_at = self.env_steps;
        if self.env_steps == 0 && self.eval_due() {
            let row = self.evaluate();
            on_eval(&row);
        }
        let target = self.env_steps + steps;
        while self.env_steps < target {
            if let Some(message) = self.step().divergence {
                anyhow::bail!("learning stopped: {message}; checkpoints written before it are intact");
            }
            on_progress(&Progress {
                env_steps: self.env_steps,
                episodes: self.episode_returns.len(),
                last_return: self.episode_returns.last().copied().unwrap_or(f64::NAN),
                steps_per_second: (self.env_steps - started_at) as f64 / self.started.elapsed().as_secs_f64().max(1e-9),
            });
            if self.eval_due() || (self.env_steps == target && !self.evaluated_now()) {
                let row = self.evaluate();
                on_eval(&row);
            }
            after_step(self)?;
        }
        if self.settings.log_every > 0 && !(self.window.is_empty() && self.plans.is_empty()) {
            self.push_row();
        }
        Ok(())
    }

    /// Whether the training env is at the start of an episode: the only points where a
    /// checkpoint is taken, because a fresh episode is rebuilt exactly from its seed (no physics
    /// solver state needs saving).
    pub fn at_episode_start(&self) -> bool {
        self.train_env.steps() == 0
    }

    /// The trainer's counters and metrics (the agent saves its own state).
    pub fn state(&self) -> TrainerState {
        TrainerState {
            env_steps: self.env_steps,
            episode: self.episode,
            episode_returns: self.episode_returns.clone(),
            evals: self.evals.clone(),
            rows: self.rows.clone(),
            window: self.window.clone(),
            plans: self.plans.clone(),
            model_mse: self.model_mse,
            model_fits: self.model_fits,
            model_fits_rejected: self.model_fits_rejected,
            model_mse_per_output: self.model_mse_per_output.clone(),
            model_logvar: self.model_logvar,
            model_fit_epochs: self.model_fit_epochs,
            model_fits_restarted: self.model_fits_restarted,
        }
    }

    /// Continues from `state` (taken at an episode start): the training env restarts that episode
    /// from its seed. Load the agent's state afterwards: it was saved after its own episode start.
    pub fn restore(&mut self, state: TrainerState) {
        self.env_steps = state.env_steps;
        self.episode = state.episode;
        self.episode_returns = state.episode_returns;
        self.evals = state.evals;
        self.rows = state.rows;
        self.window = state.window;
        self.plans = state.plans;
        self.model_mse = state.model_mse;
        self.model_fits = state.model_fits;
        self.model_fits_rejected = state.model_fits_rejected;
        self.model_mse_per_output = state.model_mse_per_output;
        self.model_logvar = state.model_logvar;
        self.model_fit_epochs = state.model_fit_epochs;
        self.model_fits_restarted = state.model_fits_restarted;
        self.episode_return = 0.0;
        self.train_env.reset(episode_seed(self.seed, self.episode));
        self.obs = self.train_env.observation();
    }

    /// Wall seconds since `run` started.
    pub fn elapsed_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
