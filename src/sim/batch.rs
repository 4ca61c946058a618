//! Many environments stepped together, optionally over several threads.

use rayon::prelude::*;

use super::env::{Env, StepOutcome};

/// A batch of environments that step in lockstep with one action each.
pub struct EnvBatch {
    pub envs: Vec<Env>,
    /// A private pool of the requested size (rayon's global pool would use every core).
    pool: rayon::ThreadPool,
}

impl EnvBatch {
    /// Steps on a private pool of `threads` threads.
    pub fn new(envs: Vec<Env>, threads: usize) -> Result<EnvBatch, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build()?;
        Ok(EnvBatch { envs, pool })
    }

    pub fn len(&self) -> usize {
        self.envs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    /// Steps env i with `actions[i * action_dim..]`, writing each outcome to `outcomes`.
    /// Each env is independent, so the result does not depend on the thread count.
    pub fn step(&mut self, actions: &[f32], outcomes: &mut Vec<StepOutcome>) {
        let dim = self.envs.first().map_or(0, Env::action_dim);
        assert_eq!(actions.len(), dim * self.envs.len(), "one action per env");
        outcomes.clear();
        if dim == 0 {
            return;
        }
        let envs = &mut self.envs;
        self.pool.install(|| {
            envs.par_iter_mut().zip(actions.par_chunks(dim)).map(|(env, a)| env.step(a)).collect_into_vec(outcomes)
        });
    }
}
