//! Sanity baselines: zero actions, uniform random actions, holding the home pose and the
//! planner's nominal schedule played open loop, run like any other agent.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{EpisodeSummary, run_policy_episode};
use crate::config::PeriodicNominal;
use crate::sim::Env;

/// A policy that ignores the state.
#[derive(Clone, Debug)]
pub enum Baseline {
    Zero,
    /// Uniform in [-1, 1] per dimension, from its own seeded stream.
    Random(Box<ChaCha8Rng>),
    /// The planner's nominal schedule (a gait) without any planning: what MPC must improve on.
    Nominal(PeriodicNominal),
    /// A fixed action: the one holding the home pose is "standing still".
    Hold(Vec<f32>),
}

impl Baseline {
    pub fn random(seed: u64) -> Baseline {
        Baseline::Random(Box::new(ChaCha8Rng::seed_from_u64(seed)))
    }

    /// The action at control step `step` of the episode.
    pub fn act(&mut self, action_dim: usize, step: u64) -> Vec<f32> {
        match self {
            Baseline::Zero => vec![0.0; action_dim],
            Baseline::Random(rng) => (0..action_dim).map(|_| rng.random_range(-1.0..=1.0)).collect(),
            Baseline::Nominal(schedule) => (0..action_dim).map(|d| schedule.value(step, d)).collect(),
            Baseline::Hold(action) => action.clone(),
        }
    }
}

/// One episode of a baseline from `env.reset(seed)`.
pub fn run_baseline_episode(env: &mut Env, policy: &mut Baseline, seed: u64) -> EpisodeSummary {
    let summary = run_policy_episode(env, seed, |env| policy.act(env.action_dim(), u64::from(env.steps())));
    EpisodeSummary { plan_ms: 0.0, ..summary }
}
