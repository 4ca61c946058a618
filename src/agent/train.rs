//! The learning loop shared by the `sac`, learned-model `mpc` and `demorl` modes: act, store,
//! learn on a schedule, and evaluate every K env steps on a separate env instance.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::health::divergence;
use super::mpc::episode_seed;
use super::record::mean_std;
use super::train_data::{EvalRow, Progress, StepStats, TrainEpisode, TrainStep, TrainerState, Transition};
use crate::config::{PlannerSettings, SettingsError, TrainSettings};
use crate::learn::StepEnd;
use crate::plan::{ObservationPoints, PlanOutput};
use crate::scene::{Observation, Scene};
use crate::sim::{EndReason, Env, ResidualGait, WorldChoice};

/// Offset added to the run seed for evaluation episodes, so they never replay training starts.
const EVAL_SEED_OFFSET: u64 = 0x5eed_e7a1;

/// An agent that learns while acting. Evaluation must not disturb the training state (the
/// planner's distribution, exploration RNGs): agents keep separate evaluation state.
pub trait TrainAgent {
    /// The training action for `obs` (exploration included; warm-up handled by the agent).
    fn act(&mut self, obs: &[f32], env_steps: u64) -> Vec<f32>;
    /// Stores a transition and learns on the agent's schedule. `env_steps` counts it.
    fn observe(&mut self, transition: Transition<'_>, env_steps: u64) -> StepStats;
    /// A training episode starts.
    fn episode_start(&mut self);
    /// A training episode ended (before the next one starts): agents whose κ follows the falls
    /// (`train.fall_caution`) take their step.
    fn episode_end(&mut self, _episode: &TrainEpisode) {}
    /// The κ the training plans score with when the falls adapt it (`train.fall_caution`).
    fn adapted_penalty(&self) -> Option<f32> {
        None
    }
    /// The deterministic evaluation action.
    fn eval_act(&mut self, obs: &[f32]) -> Vec<f32>;
    /// An evaluation episode starts, the training having taken `env_steps` steps.
    fn eval_episode_start(&mut self, env_steps: u64);
    /// An evaluation begins after `env_steps` training steps: agents whose evaluation draws
    /// noise (a planner's samples) note where that noise stands, so a save taken at this step can
    /// replay the evaluation ([`TrainAgent::replay_evaluation_at`]).
    fn evaluation_starts(&mut self, _env_steps: u64) {}
    /// Puts the evaluation noise back where the evaluation after `env_steps` training steps
    /// began, if that was this agent's last evaluation: a restored save then earns exactly the
    /// run's figures at that step. Otherwise (or with no such noise) it changes nothing.
    fn replay_evaluation_at(&mut self, _env_steps: u64) -> anyhow::Result<()> {
        Ok(())
    }
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
    fn episode_end(&mut self, episode: &TrainEpisode) {
        (**self).episode_end(episode)
    }
    fn adapted_penalty(&self) -> Option<f32> {
        (**self).adapted_penalty()
    }
    fn eval_act(&mut self, obs: &[f32]) -> Vec<f32> {
        (**self).eval_act(obs)
    }
    fn eval_episode_start(&mut self, env_steps: u64) {
        (**self).eval_episode_start(env_steps)
    }
    fn evaluation_starts(&mut self, env_steps: u64) {
        (**self).evaluation_starts(env_steps)
    }
    fn replay_evaluation_at(&mut self, env_steps: u64) -> anyhow::Result<()> {
        (**self).replay_evaluation_at(env_steps)
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

/// What one evaluation's episodes came to.
#[derive(Default)]
struct EvalEpisodes {
    returns: Vec<f64>,
    /// Env steps over all episodes.
    total_length: u64,
    /// Episodes a fall ended.
    falls: usize,
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
    /// Counters and metrics: what a checkpoint saves of the trainer.
    pub state: TrainerState,
    /// The running episode's return and observation (an episode start rebuilds them from its seed).
    episode_return: f64,
    obs: Vec<f32>,
    /// Why learning stopped (a non-finite observation, loss or model error), if it did.
    diverged: Option<String>,
    started: Instant,
}

impl<A: TrainAgent> Trainer<A> {
    /// A trainer on fresh envs of `scene`, in the worlds and with the gait `settings` name;
    /// refused (with the setting named) when the scene lacks them.
    pub fn new(scene: &Scene, agent: A, settings: TrainSettings, seed: u64) -> anyhow::Result<Self> {
        let (train_world, eval_world) = world_choices(scene, &settings)?;
        let gait = residual_gait(scene, &settings)?;
        let mut train_env = Env::new(scene);
        train_env.set_world(train_world);
        train_env.set_gait(gait.clone());
        let mut eval_env = Env::new(scene);
        eval_env.set_world(eval_world);
        eval_env.set_gait(gait);
        train_env.reset(episode_seed(seed, 0));
        let obs = train_env.observation();
        let mut trainer = Self {
            agent,
            train_env,
            eval_env,
            settings,
            seed,
            state: TrainerState::default(),
            episode_return: 0.0,
            obs,
            diverged: None,
            started: Instant::now(),
        };
        trainer.agent.episode_start();
        Ok(trainer)
    }

    /// One env step: act, step, store and learn; resets the env at episode end.
    pub fn step(&mut self) -> TrainStep {
        if let Some(message) = &self.diverged {
            // Learning stopped: nothing more is acted, stored or learned until a reset.
            return TrainStep { divergence: Some(message.clone()), ..TrainStep::default() };
        }
        let started = Instant::now();
        let action = self.agent.act(&self.obs, self.state.env_steps);
        let act_ms = started.elapsed().as_secs_f64() * 1e3;
        let outcome = self.train_env.step(&action);
        let next_obs = self.train_env.observation();
        self.state.env_steps += 1;
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
        if !blew_up && let Some(message) = divergence(self.state.env_steps, &next_obs, &StepStats::default()) {
            self.diverged = Some(message.clone());
            return TrainStep { action, reward: outcome.reward, divergence: Some(message), ..TrainStep::default() };
        }
        let learn_started = Instant::now();
        let stats = if blew_up { StepStats::default() } else { self.agent.observe(transition, self.state.env_steps) };
        let learn_ms = learn_started.elapsed().as_secs_f64() * 1e3;
        // The observation was checked above; what learning produced is checked here.
        self.diverged = divergence(self.state.env_steps, &[], &stats);
        self.state.window.extend(stats.sac.iter().copied());
        self.state.plans.extend(stats.plan);
        if let Some(fit) = &stats.model_fit {
            self.state.model.record(fit);
        }
        let mut row = None;
        if self.settings.log_every > 0 && self.state.env_steps.is_multiple_of(self.settings.log_every) {
            self.state.push_row();
            row = self.state.rows.last().cloned();
        }
        let mut episode_end = None;
        if outcome.done() {
            let mut episode = TrainEpisode::ended(
                self.state.env_steps,
                self.episode_return,
                self.train_env.steps(),
                outcome.reason.as_ref(),
            );
            episode.disagreement_penalty = self.agent.adapted_penalty();
            self.agent.episode_end(&episode);
            self.state.episodes.push(episode.clone());
            episode_end = Some(episode);
            self.episode_return = 0.0;
            self.state.episode += 1;
            self.train_env.reset(episode_seed(self.seed, self.state.episode));
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
        self.state.env_steps.is_multiple_of(self.settings.eval_every.max(1)) && !self.evaluated_now()
    }

    fn evaluated_now(&self) -> bool {
        self.state.evals.last().is_some_and(|r| r.env_steps == self.state.env_steps)
    }

    /// Seed of evaluation episode `k` (the same set at every evaluation).
    pub fn eval_seed(&self, k: usize) -> u64 {
        episode_seed(self.seed.wrapping_add(EVAL_SEED_OFFSET), k as u64)
    }

    /// Runs the deterministic evaluation episodes on `eval_env` and records a row; agents with
    /// an actor under their planner play the same episodes again with the actor alone.
    pub fn evaluate(&mut self) -> EvalRow {
        self.agent.evaluation_starts(self.state.env_steps);
        let played = self.eval_episodes(false).expect("every agent has an evaluation action");
        let (actor_mean, actor_std) = self.eval_episodes(true).map_or((f64::NAN, f64::NAN), |a| mean_std(&a.returns));
        let returns = &played.returns;
        let (mean, std) = mean_std(returns);
        let row = EvalRow {
            env_steps: self.state.env_steps,
            eval_return_mean: mean,
            eval_return_std: std,
            eval_return_min: returns.iter().copied().fold(f64::INFINITY, f64::min),
            eval_return_max: returns.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            eval_length_mean: played.total_length as f64 / returns.len().max(1) as f64,
            train_episodes: self.state.episodes.len(),
            last_train_return: self.state.last_episode_return(),
            actor_return_mean: actor_mean,
            actor_return_std: actor_std,
            eval_falls: Some(played.falls),
        };
        self.state.evals.push(row.clone());
        row
    }

    /// The evaluation episodes played by the agent's evaluation action or (`actor_only`) its
    /// actor alone; `None` if it has no such actor.
    fn eval_episodes(&mut self, actor_only: bool) -> Option<EvalEpisodes> {
        // Asked before any reset, so an agent without an actor leaves the evaluation env as is.
        if actor_only && self.agent.actor_eval_act(&self.eval_env.observation()).is_none() {
            return None;
        }
        let mut played =
            EvalEpisodes { returns: Vec::with_capacity(self.settings.eval_episodes), ..Default::default() };
        for k in 0..self.settings.eval_episodes {
            let seed = self.eval_seed(k);
            self.eval_env.reset(seed);
            self.agent.eval_episode_start(self.state.env_steps);
            let mut total = 0.0f64;
            loop {
                let obs = self.eval_env.observation();
                let action = if actor_only { self.agent.actor_eval_act(&obs)? } else { self.agent.eval_act(&obs) };
                let outcome = self.eval_env.step(&action);
                total += f64::from(outcome.reward);
                if outcome.done() {
                    played.falls += usize::from(outcome.reason.as_ref().is_some_and(EndReason::is_fall));
                    break;
                }
            }
            played.total_length += u64::from(self.eval_env.steps());
            played.returns.push(total);
        }
        Some(played)
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
        let started_at = self.state.env_steps;
        if self.state.env_steps == 0 && self.eval_due() {
            let row = self.evaluate();
            on_eval(&row);
        }
        let target = self.state.env_steps + steps;
        while self.state.env_steps < target {
            if let Some(message) = self.step().divergence {
                anyhow::bail!("learning stopped: {message}; checkpoints written before it are intact");
            }
            let state = &self.state;
            on_progress(&Progress {
                env_steps: state.env_steps,
                episodes: state.episodes.len(),
                last_return: state.last_episode_return(),
                steps_per_second: (state.env_steps - started_at) as f64
                    / self.started.elapsed().as_secs_f64().max(1e-9),
            });
            if self.eval_due() || (self.state.env_steps == target && !self.evaluated_now()) {
                let row = self.evaluate();
                on_eval(&row);
            }
            after_step(self)?;
        }
        if self.settings.log_every > 0 && !(self.state.window.is_empty() && self.state.plans.is_empty()) {
            self.state.push_row();
        }
        Ok(())
    }

    /// Whether the training env is at the start of an episode: the only points where a
    /// checkpoint is taken, because a fresh episode is rebuilt exactly from its seed (no physics
    /// solver state needs saving).
    pub fn at_episode_start(&self) -> bool {
        self.train_env.steps() == 0
    }

    /// Continues from `state` (taken at an episode start): the training env restarts that episode
    /// from its seed. Load the agent's state afterwards: it was saved after its own episode start.
    pub fn restore(&mut self, state: TrainerState) {
        self.state = state;
        self.episode_return = 0.0;
        self.train_env.reset(episode_seed(self.seed, self.state.episode));
        self.obs = self.train_env.observation();
    }

    /// Wall seconds since `run` started.
    pub fn elapsed_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// The worlds a run trains and evaluates in: randomised training needs the scene's
/// `task.randomize`, and an evaluation world must be one of its `task.worlds`.
pub fn world_choices(scene: &Scene, settings: &TrainSettings) -> anyhow::Result<(WorldChoice, WorldChoice)> {
    let train = match (settings.randomize, &scene.task.randomize) {
        (false, _) => WorldChoice::Nominal,
        (true, Some(ranges)) => WorldChoice::Randomized(ranges.clone()),
        (true, None) => anyhow::bail!(
            "train.randomize is on but scene {} has no task.randomize ranges to draw worlds from",
            scene.name
        ),
    };
    let eval = match &settings.eval_world {
        None => WorldChoice::Nominal,
        Some(name) => named_world(scene, name)?,
    };
    Ok((train, eval))
}

/// The gait a run's actions are residuals around (`train.gait_residual`): the scene planner's
/// nominal schedule, which must exist and whose phase the task must observe.
pub fn residual_gait(scene: &Scene, settings: &TrainSettings) -> anyhow::Result<Option<ResidualGait>> {
    let Some(scale) = settings.gait_residual else { return Ok(None) };
    let Some(gait) = &scene.planner.nominal else {
        anyhow::bail!("train.gait_residual is set but scene {} has no planner.nominal gait", scene.name)
    };
    // The executed action is gait(t) + residual: without the phase among its inputs the policy
    // (and a learned model) sees the same state call for different corrections.
    let task = &scene.task;
    let clock = task.phase.as_ref().map(|clock| clock.period_steps);
    if !task.observation.contains(&Observation::Phase) || clock.map(|steps| steps as f32) != Some(gait.period_steps) {
        anyhow::bail!(
            "train.gait_residual needs scene {} to observe where in its gait it is: add Phase to \
             task.observation and set task.phase to the gait's period, Some((period_steps: {})) \
             (found task.phase {clock:?})",
            scene.name,
            gait.period_steps,
        )
    }
    Ok(Some(ResidualGait { gait: Arc::new(gait.clone()), scale }))
}

/// The scene's world `name` (`task.worlds`), or an error listing the names it has.
pub fn named_world(scene: &Scene, name: &str) -> anyhow::Result<WorldChoice> {
    match scene.task.worlds.get(name) {
        Some(world) => Ok(WorldChoice::Fixed(world.clone())),
        None => {
            let names: Vec<&str> = scene.task.worlds.keys().map(String::as_str).collect();
            anyhow::bail!(
                "train.eval_world `{name}` is not a world of scene {} (its task.worlds: {})",
                scene.name,
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            )
        }
    }
}
