//! The forked simulator as the planner's model: every sequence runs on its own copy of the env, exact
//! unless the scene plans on coarser physics (`physics.planning`).

use rayon::prelude::*;

use super::model::{Model, RolloutBatch, SequenceBatch};
use crate::sim::Env;

/// Oracle model: rollouts run the real physics from a fork of the env (exact, unless the scene's
/// `physics.planning` makes the copies coarser).
pub struct SimulatorModel {
    start: Env,
    /// One reusable copy per sequence (grown on demand).
    workers: Vec<Env>,
    /// A private pool, so one thread really means one (rayon's global pool would use every core).
    pool: rayon::ThreadPool,
    obs_dim: usize,
    point_count: usize,
}

impl SimulatorModel {
    /// A model starting from `env`'s current state; `threads` > 1 rolls sequences out in parallel.
    pub fn new(env: &Env, threads: usize) -> Result<SimulatorModel, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build()?;
        // Planning copies may integrate more coarsely than the executed env (`physics.planning`).
        let mut start = env.planning_fork();
        start.set_time_limit(false);
        start.set_disturbances(false);
        let mut points = Vec::new();
        env.drawn_points_into(&mut points);
        Ok(SimulatorModel { obs_dim: env.obs_dim(), point_count: points.len(), start, workers: Vec::new(), pool })
    }

    /// Plans from now on start from `env`'s current state.
    pub fn set_start(&mut self, env: &Env) {
        self.start.copy_from(env);
    }
}

impl Model for SimulatorModel {
    fn action_dim(&self) -> usize {
        self.start.action_dim()
    }

    fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    fn point_count(&self) -> usize {
        self.point_count
    }

    fn particles(&self, _requested: usize) -> usize {
        1 // the physics is deterministic: more particles would repeat the same rollout
    }

    fn rollout(&mut self, batch: &SequenceBatch, _particles: usize, out: &mut RolloutBatch) {
        let (count, horizon) = (batch.count, batch.horizon);
        out.resize(count, 1, horizon, self.obs_dim, self.point_count);
        while self.workers.len() < count {
            self.workers.push(self.start.fork());
        }
        let start = &self.start;
        let (obs_dim, point_count) = (self.obs_dim, self.point_count);
        let workers = &mut self.workers;
        self.pool.install(|| {
            workers[..count]
                .par_iter_mut()
                .zip(out.rewards.par_chunks_mut(horizon))
                .zip(out.terminated_at.par_iter_mut())
                .zip(out.final_obs.par_chunks_mut(obs_dim.max(1)))
                .zip(out.points.par_chunks_mut(((horizon + 1) * point_count).max(1)))
                .enumerate()
                .for_each(|(n, ((((env, rewards), terminated_at), final_obs), points))| {
                    env.copy_from(start);
                    roll_one(
                        env,
                        batch.sequence(n),
                        batch.action_dim,
                        rewards,
                        terminated_at,
                        final_obs,
                        points,
                        point_count,
                    );
                });
        });
    }
}

/// Runs one sequence on `env`, writing rewards, the termination step, s_{H-1} and drawn points.
#[allow(clippy::too_many_arguments)]
fn roll_one(
    env: &mut Env,
    actions: &[f32],
    action_dim: usize,
    rewards: &mut [f32],
    terminated_at: &mut u32,
    final_obs: &mut [f32],
    points: &mut [[f32; 3]],
    point_count: usize,
) {
    let horizon = rewards.len();
    let mut scratch = Vec::with_capacity(point_count);
    record_points(env, &mut scratch, &mut points[..point_count]);
    let mut obs = Vec::with_capacity(final_obs.len());
    for h in 0..horizon {
        if h + 1 == horizon && !final_obs.is_empty() {
            obs.clear();
            env.observe_into(&mut obs);
            final_obs.copy_from_slice(&obs);
        }
        let outcome = env.step(&actions[h * action_dim..(h + 1) * action_dim]);
        rewards[h] = outcome.reward;
        record_points(env, &mut scratch, &mut points[(h + 1) * point_count..(h + 2) * point_count]);
        if outcome.terminated {
            *terminated_at = h as u32;
            // Hold the last pose for drawing; rewards after a termination stay 0.
            for later in h + 2..=horizon {
                let (done, rest) = points.split_at_mut(later * point_count);
                rest[..point_count].copy_from_slice(&done[(h + 1) * point_count..(h + 2) * point_count]);
            }
            return;
        }
    }
}

fn record_points(env: &Env, scratch: &mut Vec<[f32; 3]>, out: &mut [[f32; 3]]) {
    if !out.is_empty() {
        scratch.clear();
        env.drawn_points_into(scratch);
        out.copy_from_slice(scratch);
    }
}
