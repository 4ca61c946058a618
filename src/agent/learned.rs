//! Planning agents over the learned ensemble: PETS-like MPC (`mpc --model learned`) and DeMoRL
//! (the same planner plus SAC's critic as terminal value and its actor as policy prior, with SAC
//! learning off-policy from the planner's executed actions).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::caution::penalty_after;
use super::model_data::ModelData;
use super::sac::{REPLAY_SEED, WARMUP_SEED, check_sizes, read_replay, sac_updates, uniform_action, write_replay};
use super::train::TrainAgent;
use super::train_data::{ModelFit, StepStats, TrainEpisode, Transition};
use crate::config::{PlannerSettings, SettingsError, TerminalChoice, TrainSettings};
use crate::learn::record_file::{load_state, save_state};
use crate::learn::{EnsembleModel, FastEnsemble, ModelNoise, ProbabilisticEnsemble, ReplayBuffer, Sac, StateDelta};
use crate::plan::{
    ActionMode, Model, ObservationPoints, PlanOutput, PlanSummary, Planner, PlannerState, PolicyPrior, TerminalValue,
};
use crate::sim::Env;

const ENSEMBLE_SEED: u64 = 0x0e45_e3b1;
const PLANNER_SEED: u64 = 0x91a7_7e25;
const EVAL_PLANNER_SEED: u64 = 0xe7a1_91a7;
const MODEL_NOISE_SEED: u64 = 0x4015_e5ee;
const MODEL_DATA_SEED: u64 = 0xda7a_9e11;

/// SAC's critic as the planner's terminal value: the first critic or the minimum of both at the
/// planned last action, or the first critic at the actor's mean action.
pub struct CriticValue<'a> {
    pub sac: &'a Sac,
    pub choice: TerminalChoice,
}

impl TerminalValue for CriticValue<'_> {
    fn values(&mut self, obs: &[f32], _obs_dim: usize, actions: &[f32], _action_dim: usize, out: &mut [f32]) {
        if self.choice == TerminalChoice::ActorCritic {
            let (q1, _) = self.sac.q_values(obs, &self.sac.actor_mean(obs));
            out.copy_from_slice(&q1);
            return;
        }
        let (q1, q2) = self.sac.q_values(obs, actions);
        match self.choice {
            TerminalChoice::MinCritic => out.iter_mut().zip(q1.iter().zip(&q2)).for_each(|(o, (a, b))| *o = a.min(*b)),
            // FirstCritic (None never reaches here: the agent passes no hook then).
            _ => out.copy_from_slice(&q1),
        }
    }
}

/// The actor's mean action rolled through the ensemble from the start observation: sequence i
/// follows elite i mod K's mean prediction, so the M prior sequences differ by member.
pub struct ActorPrior<'a> {
    pub sac: &'a Sac,
    pub members: Arc<FastEnsemble>,
    pub start: &'a [f32],
    /// How the members' Δstate moves an observation (the model's own rule).
    pub state_delta: &'a StateDelta,
}

impl PolicyPrior for ActorPrior<'_> {
    fn propose(&mut self, count: usize, horizon: usize, action_dim: usize, out: &mut Vec<f32>) {
        let od = self.start.len();
        let mut states: Vec<f32> = self.start.repeat(count);
        let k = self.members.members().max(1);
        for h in 0..horizon {
            let actions = self.sac.actor_mean(&states);
            for n in 0..count {
                let a = &actions[n * action_dim..(n + 1) * action_dim];
                out[(n * horizon + h) * action_dim..(n * horizon + h + 1) * action_dim].copy_from_slice(a);
                if h + 1 < horizon {
                    let s = &mut states[n * od..(n + 1) * od];
                    let input: Vec<f32> = s.iter().chain(a).copied().collect();
                    let (mean, _) = self.members.predict(n % k, &input);
                    self.state_delta.advance(s, &mean[1..]);
                }
            }
        }
    }
}

/// A DMD-MPC planner over the learned ensemble, optionally with SAC (DeMoRL).
pub struct LearnedPlannerAgent {
    pub planner: Planner,
    /// A separate planner for evaluation episodes, so evaluation leaves the training plan alone.
    pub eval_planner: Planner,
    pub model: EnsembleModel,
    pub ensemble: ProbabilisticEnsemble,
    pub replay: ReplayBuffer,
    /// SAC in DeMoRL mode; `None` for PETS-like MPC.
    pub sac: Option<Sac>,
    /// Model-generated transitions for SAC (DeMoRL with `model_data.per_step > 0`).
    pub model_data: Option<ModelData>,
    settings: TrainSettings,
    rng: ChaCha8Rng,
    plan_seconds: f64,
    plans: u64,
    /// The trace of the last training plan (for checks and display).
    pub last_plan: Option<PlanOutput>,
    unreported_plan: Option<PlanSummary>,
    /// The env step from which the planner chooses the executed actions (`train.planner_start`).
    planning_since: Option<u64>,
    /// The training step of the evaluation under way (it decides `train.terminal_value_start`).
    eval_env_steps: u64,
    /// Where the last evaluation's planner noise stood when it began (kept in saves, so
    /// `evaluate` replays that evaluation).
    last_evaluation: Option<EvaluationStart>,
}

/// The evaluation planner's noise as an evaluation found it, and the training step it ran at
/// (the rest of that planner is reset at each episode or unchanged since).
#[derive(Clone, Serialize, Deserialize)]
struct EvaluationStart {
    env_steps: u64,
    noise: ChaCha8Rng,
}

impl LearnedPlannerAgent {
    /// PETS-like (`with_sac` false) or DeMoRL (`with_sac` true); `seed` fixes everything.
    pub fn new(
        obs_dim: usize,
        act_dim: usize,
        settings: TrainSettings,
        planner: PlannerSettings,
        with_sac: bool,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let ensemble =
            ProbabilisticEnsemble::new(obs_dim + act_dim, 1 + obs_dim, settings.ensemble.clone(), seed ^ ENSEMBLE_SEED);
        // The κ of the first plans, when the falls adapt κ from a cautious start.
        let start_penalty = settings.fall_caution.as_ref().and_then(|caution| caution.start_penalty);
        let mut agent = Self {
            planner: Planner::new(planner.clone(), act_dim, seed ^ PLANNER_SEED)?,
            eval_planner: Planner::new(planner, act_dim, seed ^ EVAL_PLANNER_SEED)?,
            model: EnsembleModel::new(obs_dim, act_dim, ModelNoise::Sampled, seed ^ MODEL_NOISE_SEED),
            ensemble,
            replay: ReplayBuffer::new(obs_dim, act_dim, settings.replay_capacity, seed ^ REPLAY_SEED),
            sac: with_sac.then(|| Sac::new(obs_dim, act_dim, settings.sac.clone(), seed)),
            model_data: ModelData::new(obs_dim, act_dim, settings.model_data.clone(), seed ^ MODEL_DATA_SEED)
                .filter(|_| with_sac),
            rng: ChaCha8Rng::seed_from_u64(seed ^ WARMUP_SEED),
            settings,
            plan_seconds: 0.0,
            plans: 0,
            last_plan: None,
            unreported_plan: None,
            planning_since: None,
            eval_env_steps: 0,
            last_evaluation: None,
        };
        agent.plan_with_penalty(start_penalty);
        Ok(agent)
    }

    /// Sets the κ both planners score with (`None`: the settings' κ); evaluation plans follow
    /// the training plans' κ unless the settings give evaluation its own.
    fn plan_with_penalty(&mut self, penalty: Option<f32>) {
        self.planner.set_adapted_penalty(penalty);
        self.eval_planner.set_adapted_penalty(penalty);
    }

    /// [`new`](Self::new) sized for `env`, with its wrapped-angle observations declared
    /// ([`set_wrapped_angles`](Self::set_wrapped_angles)) and, with `ensemble.known_termination`,
    /// its termination conditions on the model's predictions: how `train` and the studio build it.
    pub fn for_env(
        env: &Env,
        settings: TrainSettings,
        planner: PlannerSettings,
        with_sac: bool,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let known_termination = settings.ensemble.known_termination;
        let mut agent = Self::new(env.obs_dim(), env.action_dim(), settings, planner, with_sac, seed)?;
        agent.set_wrapped_angles(env.wrapped_angle_dims());
        if known_termination {
            let termination =
                env.observed_termination().map_err(|e| anyhow::anyhow!("train.ensemble.known_termination: {e}"))?;
            agent.model.set_termination(Some(termination));
        }
        Ok(agent)
    }

    /// Shares the learned model's rollouts out on `threads` threads (the plans do not change).
    pub fn set_rollout_threads(&mut self, threads: usize) -> anyhow::Result<()> {
        self.model.set_threads(threads).map_err(|e| anyhow::anyhow!("cannot start {threads} rollout threads: {e}"))
    }

    /// Observation dimensions `wrapped` are angles in (−π, π] (`Env::wrapped_angle_dims`): the
    /// model learns and predicts their change the short way round the circle.
    pub fn set_wrapped_angles(&mut self, wrapped: Vec<usize>) {
        self.model.set_state_delta(StateDelta::with_wrapped_angles(wrapped));
    }

    /// Refits the ensemble on the whole replay buffer and loads its elites into the model.
    pub fn refit_model(&mut self) -> ModelFit {
        let penalty = self.model.termination().map_or(0.0, |t| t.penalty());
        let (x, y) = self.replay.model_dataset(self.model.state_delta(), penalty);
        let report = self.ensemble.fit(&x, &y);
        self.model.set_members(self.ensemble.fast_elites());
        ModelFit {
            holdout_mse: report.elite_holdout_mse(),
            epochs: report.epochs,
            kept_previous: report.kept_previous,
            holdout_mse_per_output: report.holdout_mse_per_output,
            holdout_mean_logvar: report.holdout_mean_logvar,
            stalled: report.stalled,
            restarted: report.restarted,
        }
    }

    /// Whether the planner chooses the action at `env_steps` (model fitted, warm-up over):
    /// latched at the first step `train.planner_start` is reached.
    fn planner_acts(&mut self, env_steps: u64) -> bool {
        if self.planning_since.is_none()
            && self.settings.planner_start.reached(env_steps, self.ensemble.elite_holdout_mse())
        {
            self.planning_since = Some(env_steps);
        }
        self.planning_since.is_some()
    }

    /// The env step from which the planner has chosen the executed actions (`None`: not yet).
    pub fn planning_since(&self) -> Option<u64> {
        self.planning_since
    }

    /// Whether plans at training step `env_steps` end in SAC's critic (`train.terminal_value_start`).
    fn critic_in_plans(&self, env_steps: u64) -> bool {
        env_steps >= self.settings.terminal_value_start
    }

    /// Plans from `obs` with the hooks DeMoRL uses (none for PETS; no terminal value unless
    /// `with_value`).
    fn plan_with(
        planner: &mut Planner,
        model: &mut EnsembleModel,
        sac: Option<&Sac>,
        obs: &[f32],
        mode: ActionMode,
        with_value: bool,
    ) -> PlanOutput {
        model.set_start(obs);
        let choice = planner.pending_settings().unwrap_or(planner.settings()).terminal_value;
        let mut value =
            sac.filter(|_| with_value && choice != TerminalChoice::None).map(|sac| CriticValue { sac, choice });
        let members = model.members().cloned();
        let state_delta = model.state_delta().clone();
        let mut prior =
            sac.zip(members).map(|(sac, members)| ActorPrior { sac, members, start: obs, state_delta: &state_delta });
        planner.plan(
            model as &mut dyn Model,
            prior.as_mut().map(|p| p as &mut dyn PolicyPrior),
            value.as_mut().map(|v| v as &mut dyn TerminalValue),
            mode,
        )
    }
}

impl TrainAgent for LearnedPlannerAgent {
    fn act(&mut self, obs: &[f32], env_steps: u64) -> Vec<f32> {
        if env_steps < self.settings.warmup_steps || !self.model.is_ready() {
            return uniform_action(&mut self.rng, self.model.action_dim());
        }
        if !self.planner_acts(env_steps) {
            return match self.sac.as_mut() {
                Some(sac) => sac.act(obs, false),
                None => uniform_action(&mut self.rng, self.model.action_dim()),
            };
        }
        let started = Instant::now();
        let with_value = self.critic_in_plans(env_steps);
        let out = Self::plan_with(
            &mut self.planner,
            &mut self.model,
            self.sac.as_ref(),
            obs,
            ActionMode::Training,
            with_value,
        );
        self.plan_seconds += started.elapsed().as_secs_f64();
        self.plans += 1;
        let action = out.action.clone();
        self.unreported_plan = Some(out.trace.summary);
        self.last_plan = Some(out);
        action
    }

    fn observe(&mut self, t: Transition<'_>, env_steps: u64) -> StepStats {
        self.replay.push(t.obs, t.action, t.reward, t.next_obs, t.end);
        if let (Some(sac), Some(data), Some(members)) =
            (self.sac.as_mut(), self.model_data.as_mut(), self.model.members())
            && env_steps > self.settings.warmup_steps
        {
            data.generate(&mut self.replay, sac, members, self.model.state_delta(), self.model.termination());
        }
        let mut stats = match self.sac.as_mut() {
            Some(sac) => sac_updates(sac, &mut self.replay, &self.settings, env_steps, self.model_data.as_mut()),
            None => StepStats::default(),
        };
        stats.plan = self.unreported_plan.take();
        // Fit at the end of warm-up, then every `model_train_every` steps.
        let every = self.settings.model_train_every.max(1);
        let due = env_steps == self.settings.warmup_steps
            || (env_steps >= self.settings.warmup_steps && env_steps.is_multiple_of(every));
        if due && self.replay.len() >= 2 {
            stats.model_fit = Some(self.refit_model());
        }
        stats
    }

    fn episode_start(&mut self) {
        self.planner.reset();
    }

    fn episode_end(&mut self, episode: &TrainEpisode) {
        let (Some(caution), Some(current)) = (&self.settings.fall_caution, self.adapted_penalty()) else { return };
        let floor = self.planner.settings().disagreement_penalty;
        let next = penalty_after(caution, current, floor, episode);
        self.plan_with_penalty(Some(next));
    }

    fn adapted_penalty(&self) -> Option<f32> {
        let settings_kappa = self.planner.settings().disagreement_penalty;
        self.settings.fall_caution.as_ref().map(|_| self.planner.adapted_penalty().unwrap_or(settings_kappa))
    }

    fn eval_act(&mut self, obs: &[f32]) -> Vec<f32> {
        if !self.model.is_ready() {
            return vec![0.0; self.model.action_dim()];
        }
        let with_value = self.critic_in_plans(self.eval_env_steps);
        let sac = self.sac.as_ref();
        Self::plan_with(&mut self.eval_planner, &mut self.model, sac, obs, ActionMode::Evaluation, with_value).action
    }

    fn eval_episode_start(&mut self, env_steps: u64) {
        self.eval_planner.reset();
        self.eval_env_steps = env_steps;
    }

    fn evaluation_starts(&mut self, env_steps: u64) {
        self.last_evaluation = Some(EvaluationStart { env_steps, noise: self.eval_planner.state().rng });
    }

    fn replay_evaluation_at(&mut self, env_steps: u64) -> anyhow::Result<()> {
        let Some(start) = self.last_evaluation.as_ref().filter(|start| start.env_steps == env_steps) else {
            return Ok(());
        };
        let state = PlannerState { rng: start.noise.clone(), ..self.eval_planner.state() };
        self.eval_planner.restore(state).map_err(|e| anyhow::anyhow!("the evaluation planner: {e}"))
    }

    fn actor_eval_act(&mut self, obs: &[f32]) -> Option<Vec<f32>> {
        self.sac.as_ref().map(|sac| sac.actor_mean(obs))
    }

    fn plan_ms(&self) -> f64 {
        1e3 * self.plan_seconds / self.plans.max(1) as f64
    }

    fn set_planner_settings(&mut self, settings: PlannerSettings) -> Result<(), SettingsError> {
        // Validated once, so both planners change together or not at all.
        settings.validate()?;
        self.planner.set_settings(settings.clone())?;
        self.eval_planner.set_settings(settings)
    }

    fn last_plan(&self) -> Option<&PlanOutput> {
        self.last_plan.as_ref()
    }

    fn set_drawing(&mut self, drawing: Arc<dyn ObservationPoints>) {
        self.model.set_drawing(drawing);
    }

    fn save_state(&self, dir: &Path) -> anyhow::Result<()> {
        let state = LearnedAgentState {
            planner: self.planner.state(),
            eval_planner: self.eval_planner.state(),
            rng: self.rng.clone(),
            model_ready: self.model.is_ready(),
            with_sac: self.sac.is_some(),
            model_data_rng: self.model_data.as_ref().map(|d| d.rng.clone()),
            planning_since: self.planning_since,
            last_evaluation: self.last_evaluation.clone(),
        };
        save_state(dir, "agent.ron", &state)?;
        let ensemble_dir = dir.join("ensemble");
        std::fs::create_dir_all(&ensemble_dir)?;
        self.ensemble.save_to(&ensemble_dir)?;
        write_replay(&dir.join("replay.bin"), &self.replay)?;
        if let Some(data) = &self.model_data {
            write_replay(&dir.join("model_replay.bin"), &data.buffer)?;
        }
        if let Some(sac) = &self.sac {
            let sac_dir = dir.join("sac");
            std::fs::create_dir_all(&sac_dir)?;
            sac.save_to(&sac_dir)?;
        }
        Ok(())
    }

    fn load_state(&mut self, dir: &Path) -> anyhow::Result<()> {
        let state: LearnedAgentState = load_state(dir, "agent.ron")?;
        if state.with_sac != self.sac.is_some() {
            anyhow::bail!(
                "{}: saved {} a SAC learner; this mode needs the opposite",
                dir.display(),
                if state.with_sac { "with" } else { "without" }
            );
        }
        let ensemble = ProbabilisticEnsemble::load_from(&dir.join("ensemble"))?;
        let scene_sizes = (self.replay.obs_dim(), self.replay.act_dim());
        check_sizes(dir, (ensemble.out_dim() - 1, ensemble.in_dim() + 1 - ensemble.out_dim()), scene_sizes)?;
        let replay = read_replay(&dir.join("replay.bin"))?;
        check_sizes(dir, (replay.obs_dim(), replay.act_dim()), scene_sizes)?;
        let sac = if state.with_sac { Some(Sac::load_from(&dir.join("sac"))?) } else { None };
        let generated = match (&self.model_data, state.model_data_rng) {
            (Some(_), Some(rng)) => {
                let buffer = read_replay(&dir.join("model_replay.bin"))?;
                check_sizes(dir, (buffer.obs_dim(), buffer.act_dim()), scene_sizes)?;
                Some((buffer, rng))
            }
            (None, None) => None,
            _ => anyhow::bail!("{}: saved with other model_data settings than this run's", dir.display()),
        };
        self.planner.restore(state.planner).map_err(|e| anyhow::anyhow!("{}: planner: {e}", dir.display()))?;
        self.eval_planner
            .restore(state.eval_planner)
            .map_err(|e| anyhow::anyhow!("{}: eval planner: {e}", dir.display()))?;
        if state.model_ready {
            self.model.set_members(ensemble.fast_elites());
        }
        (self.ensemble, self.replay, self.sac, self.rng) = (ensemble, replay, sac, state.rng);
        (self.planning_since, self.last_evaluation) = (state.planning_since, state.last_evaluation);
        if let (Some(data), Some((buffer, rng))) = (self.model_data.as_mut(), generated) {
            (data.buffer, data.rng) = (buffer, rng);
        }
        Ok(())
    }
}

/// The planning agent's own state in a checkpoint (networks and replay live in their own files).
#[derive(Serialize, Deserialize)]
struct LearnedAgentState {
    planner: PlannerState,
    eval_planner: PlannerState,
    rng: ChaCha8Rng,
    /// Whether the ensemble had been fitted (its elites drive the planner's model).
    model_ready: bool,
    with_sac: bool,
    /// The model-data noise RNG when the run generates transitions (their buffer is
    /// `model_replay.bin`); absent in checkpoints from before the option.
    #[serde(default)]
    model_data_rng: Option<ChaCha8Rng>,
    /// When the planner took over (absent before `train.planner_start`: such runs start it at
    /// the first fit, which `PlannerStart::WarmUp` latches again at the next step).
    #[serde(default)]
    planning_since: Option<u64>,
    /// Where the last evaluation's planner began (absent in saves from before it was kept:
    /// `evaluate` then plays on from where that evaluation ended).
    #[serde(default)]
    last_evaluation: Option<EvaluationStart>,
}
