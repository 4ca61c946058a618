//! Sanity baselines: zero actions and uniform random actions, run like any other agent.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{EpisodeSummary, run_policy_episode};
use crate::sim::Env;

/// A policy that ignores the state.
#[derive(Clone, Debug)]
pub enum Baseline {
    Zero,
    /// Uniform in [-1, 1] per dimension, from its own seeded stream.
    Random(Box<ChaCha8Rng>),
}

impl Baseline {
    pub fn random(seed: u64) -> Baseline {
        Baseline::Random(Box::new(ChaCha8Rng::seed_from_u64(seed)))
    }

    pub fn act(&mut self, action_dim: usize) -> Vec<f32> {
        match self {
            Baseline::Zero => vec![0.0; action_dim],
            Baseline::Random(rng) => (0..action_dim).map(|_| rng.random_range(-1.0..=1.0)).collect(),
        }
    }
}

/// One episode of a baseline from `env.reset(seed)`.
pub fn run_baseline_episode(env: &mut Env, policy: &mut Baseline, seed: u64) -> EpisodeSummary {
    let summary = run_policy_episode(env, seed, |env| policy.act(env.action_dim()));
    EpisodeSummary { plan_ms: 0.0, ..summary }
}
