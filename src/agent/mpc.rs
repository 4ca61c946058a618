//! MPC agent: the DMD-MPC planner driving an env, with the forked simulator as its model.

use std::time::Instant;

use crate::config::{PlannerSettings, SettingsError};
use crate::plan::{ActionMode, PlanOutput, Planner, SimulatorModel};
use crate::sim::{EndReason, Env};

/// A planner plus the model it plans with.
pub struct MpcAgent {
    pub planner: Planner,
    pub model: SimulatorModel,
}

impl MpcAgent {
    /// An agent for `env`'s scene; `threads` rollout threads (1 = on the calling thread).
    pub fn new(env: &Env, settings: PlannerSettings, seed: u64, threads: usize) -> anyhow::Result<MpcAgent> {
        settings.validate()?;
        let planner = Planner::new(settings, env.action_dim(), seed)?;
        let model = SimulatorModel::new(env, threads)?;
        Ok(MpcAgent { planner, model })
    }

    /// Applies new settings from the next plan on; invalid settings are refused and change nothing.
    pub fn set_settings(&mut self, settings: PlannerSettings) -> Result<(), SettingsError> {
        self.planner.set_settings(settings)
    }

    /// Forgets the previous plan (call at every episode start).
    pub fn reset(&mut self) {
        self.planner.reset();
    }

    /// Forgets the previous plan, for a first plan at `env`'s current step (its gait phase).
    pub fn reset_at(&mut self, env: &Env) {
        self.planner.reset_at(u64::from(env.steps()));
    }

    /// Plans from `env`'s current state.
    pub fn plan(&mut self, env: &Env, mode: ActionMode) -> PlanOutput {
        self.model.set_start(env);
        self.planner.plan(&mut self.model, None, None, mode)
    }
}

/// How one episode went.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeSummary {
    pub episode_return: f64,
    pub length: u32,
    /// Why it ended, for the user.
    pub end: String,
    /// Mean wall time per plan in milliseconds.
    pub plan_ms: f64,
    /// Each weighted reward term summed over the episode, in the scene's order: shows which part
    /// of the task a policy wins or loses on. With the task's termination penalty, if the
    /// episode terminated, they add up to the return.
    pub reward_terms: Vec<f64>,
}

/// Adds the last step's weighted reward terms of `env` to `sums`.
pub fn accumulate_reward_terms(env: &Env, sums: &mut Vec<f64>) {
    sums.resize(env.reward_terms().len(), 0.0);
    for (sum, value) in sums.iter_mut().zip(env.weighted_reward_terms()) {
        *sum += f64::from(value);
    }
}

/// Runs one episode from `env.reset(seed)` with `act` choosing each action; returns its summary
/// (`plan_ms` is the mean time `act` took per step).
pub fn run_policy_episode(env: &mut Env, seed: u64, mut act: impl FnMut(&Env) -> Vec<f32>) -> EpisodeSummary {
    env.reset(seed);
    let mut episode_return = 0.0f64;
    let mut reward_terms = Vec::new();
    let mut act_seconds = 0.0;
    loop {
        let started = Instant::now();
        let action = act(env);
        act_seconds += started.elapsed().as_secs_f64();
        let outcome = env.step(&action);
        episode_return += f64::from(outcome.reward);
        accumulate_reward_terms(env, &mut reward_terms);
        if outcome.done() {
            let end = outcome.reason.unwrap_or(EndReason::TimeLimit).to_string();
            let length = env.steps();
            return EpisodeSummary {
                episode_return,
                length,
                end,
                plan_ms: 1e3 * act_seconds / f64::from(length.max(1)),
                reward_terms,
            };
        }
    }
}

/// Runs one MPC episode from `env.reset(seed)`; `on_step` sees each plan before its action is executed.
pub fn run_episode(
    env: &mut Env,
    agent: &mut MpcAgent,
    seed: u64,
    mode: ActionMode,
    mut on_step: impl FnMut(&Env, &PlanOutput),
) -> EpisodeSummary {
    agent.reset();
    run_policy_episode(env, seed, |env| {
        let output = agent.plan(env, mode);
        on_step(env, &output);
        output.action
    })
}

/// Runs `episodes` MPC episodes with the simulator model as `train --mode mpc` does (and as the
/// studio's lockstep loop does: one planner over all episodes, reset at each start, episode k
/// from `episode_seed(seed, k)`, the evaluation action); `on_episode` sees each as it ends.
pub fn run_mpc_episodes(
    env: &mut Env,
    settings: PlannerSettings,
    seed: u64,
    threads: usize,
    episodes: usize,
    mut on_episode: impl FnMut(usize, &EpisodeSummary),
) -> anyhow::Result<Vec<EpisodeSummary>> {
    let mut agent = MpcAgent::new(env, settings, seed, threads)?;
    let summaries = (0..episodes)
        .map(|k| {
            let summary = run_episode(env, &mut agent, episode_seed(seed, k as u64), ActionMode::Evaluation, |_, _| {});
            on_episode(k, &summary);
            summary
        })
        .collect();
    Ok(summaries)
}

/// Seed of episode `episode` in a run seeded with `seed` (shared by `train` and the studio).
pub fn episode_seed(seed: u64, episode: u64) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(episode)
}
