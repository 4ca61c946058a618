//! Toy models and exact references shared by the planner integration tests.
#![allow(dead_code)]

use demorl_studio::plan::{Model, RolloutBatch, SequenceBatch};

/// Double integrator x = (position, velocity), x' = A x + B u with time step `dt`,
/// reward -(x'^T Q x' + r u^2) for each transition. Deterministic: one particle.
#[derive(Clone, Debug)]
pub struct Lqr {
    pub dt: f64,
    /// Acceleration per unit of action.
    pub gain: f64,
    pub q: [f64; 2],
    pub r: f64,
    pub x0: [f64; 2],
}

impl Lqr {
    pub fn standard() -> Self {
        Self { dt: 0.1, gain: 10.0, q: [1.0, 0.1], r: 0.05, x0: [1.0, 0.0] }
    }

    fn step(&self, x: [f64; 2], u: f64) -> [f64; 2] {
        let (dt, b) = (self.dt, self.gain * u);
        [x[0] + dt * x[1] + 0.5 * dt * dt * b, x[1] + dt * b]
    }

    fn stage(&self, next: [f64; 2], u: f64) -> f64 {
        self.q[0] * next[0] * next[0] + self.q[1] * next[1] * next[1] + self.r * u * u
    }

    /// Undiscounted cost sum_t x_{t+1}^T Q x_{t+1} + r u_t^2 of an action sequence.
    pub fn cost(&self, u: &[f64]) -> f64 {
        let mut x = self.x0;
        let mut total = 0.0;
        for &ut in u {
            x = self.step(x, ut);
            total += self.stage(x, ut);
        }
        total
    }

    pub fn cost_f32(&self, u: &[f32]) -> f64 {
        self.cost(&u.iter().map(|&v| v as f64).collect::<Vec<_>>())
    }

    /// The exact unconstrained open-loop optimum over `horizon` steps: the cost is
    /// quadratic in U, so the optimum solves (G^T Qb G + r I) U = -G^T Qb Phi x0.
    pub fn optimum(&self, horizon: usize) -> (Vec<f64>, f64) {
        // Column k of G: the state trajectory caused by a unit action at step k alone.
        let mut free = vec![[0.0; 2]; horizon];
        let mut x = self.x0;
        for f in free.iter_mut() {
            x = self.step(x, 0.0);
            *f = x;
        }
        let mut columns = vec![vec![[0.0; 2]; horizon]; horizon];
        for (k, col) in columns.iter_mut().enumerate() {
            let mut x = [0.0, 0.0];
            for (t, c) in col.iter_mut().enumerate().skip(k) {
                x = self.step(x, if t == k { 1.0 } else { 0.0 });
                *c = x;
            }
        }
        let quad = |a: [f64; 2], b: [f64; 2]| self.q[0] * a[0] * b[0] + self.q[1] * a[1] * b[1];
        let mut m = vec![vec![0.0; horizon + 1]; horizon];
        for i in 0..horizon {
            for j in 0..horizon {
                m[i][j] = (0..horizon).map(|t| quad(columns[i][t], columns[j][t])).sum::<f64>()
                    + if i == j { self.r } else { 0.0 };
            }
            m[i][horizon] = -(0..horizon).map(|t| quad(columns[i][t], free[t])).sum::<f64>();
        }
        let u = solve(m);
        let cost = self.cost(&u);
        (u, cost)
    }
}

/// Gaussian elimination with partial pivoting on an augmented matrix [A | b].
pub fn solve(mut m: Vec<Vec<f64>>) -> Vec<f64> {
    let n = m.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs())).unwrap();
        m.swap(col, pivot);
        let (top, bottom) = m.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for row in bottom {
            let f = row[col] / pivot_row[col];
            for (r, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *r -= f * p;
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| m[row][k] * x[k]).sum();
        x[row] = (m[row][n] - s) / m[row][row];
    }
    x
}

impl Model for Lqr {
    fn action_dim(&self) -> usize {
        1
    }
    fn obs_dim(&self) -> usize {
        2
    }
    fn point_count(&self) -> usize {
        1
    }
    fn particles(&self, _requested: usize) -> usize {
        1
    }
    fn rollout(&mut self, batch: &SequenceBatch, particles: usize, out: &mut RolloutBatch) {
        let h = batch.horizon;
        out.resize(batch.count, particles, h, 2, 1);
        for n in 0..batch.count {
            let mut x = self.x0;
            out.points_of_mut(n)[0] = [x[0] as f32, 0.0, 0.0];
            for t in 0..h {
                if t == h - 1 {
                    for p in 0..particles {
                        out.final_obs_of_mut(n, p).copy_from_slice(&[x[0] as f32, x[1] as f32]);
                    }
                }
                let u = batch.action(n, t)[0] as f64;
                x = self.step(x, u);
                let r = -self.stage(x, u) as f32;
                for p in 0..particles {
                    out.rewards_of_mut(n, p)[t] = r;
                }
                out.points_of_mut(n)[t + 1] = [x[0] as f32, 0.0, 0.0];
            }
        }
    }
}

/// A model whose reward is a fixed table per step and action sign, for exact bookkeeping tests:
/// reward at step h is `per_step[h] + action[h][0]`, and the episode ends at `terminate_at`
/// (the model deliberately keeps writing big rewards afterwards).
#[derive(Clone, Debug)]
pub struct Scripted {
    pub horizon_rewards: Vec<f32>,
    pub terminate_at: Option<u32>,
    pub after_termination: f32,
    pub particles: usize,
    pub obs_dim: usize,
}

impl Model for Scripted {
    fn action_dim(&self) -> usize {
        1
    }
    fn obs_dim(&self) -> usize {
        self.obs_dim
    }
    fn point_count(&self) -> usize {
        0
    }
    fn particles(&self, requested: usize) -> usize {
        requested.min(self.particles)
    }
    fn rollout(&mut self, batch: &SequenceBatch, particles: usize, out: &mut RolloutBatch) {
        let h = batch.horizon;
        out.resize(batch.count, particles, h, self.obs_dim, 0);
        for n in 0..batch.count {
            for p in 0..particles {
                let end = self.terminate_at.map_or(h as u32, |t| t.min(h as u32));
                let lane = out.lane(n, p);
                out.terminated_at[lane] = end;
                for t in 0..h {
                    let a = batch.action(n, t)[0];
                    out.rewards_of_mut(n, p)[t] =
                        if (t as u32) > end { self.after_termination } else { self.horizon_rewards[t] + a };
                }
                for (i, o) in out.final_obs_of_mut(n, p).iter_mut().enumerate() {
                    *o = (n * 10 + p + i) as f32;
                }
            }
        }
    }
}

/// Optimises normally while `broken` is false; afterwards every score is NaN, so the
/// planner cannot update and its distribution shows the shift (and any nominal schedule) alone.
pub struct Breakable {
    pub inner: Lqr,
    pub broken: bool,
}

impl Model for Breakable {
    fn action_dim(&self) -> usize {
        1
    }
    fn obs_dim(&self) -> usize {
        2
    }
    fn point_count(&self) -> usize {
        1
    }
    fn particles(&self, _: usize) -> usize {
        1
    }
    fn rollout(&mut self, batch: &SequenceBatch, particles: usize, out: &mut RolloutBatch) {
        self.inner.rollout(batch, particles, out);
        if self.broken {
            out.rewards.fill(f32::NAN);
        }
    }
}
