//! Fixed-capacity replay buffer (a ring) with seeded uniform minibatch sampling into flat f32 batches.
//!
//! burn's `rl::TransitionBuffer` (a feature we do not build) keeps its storage in tensors and samples with the backend's
//! process-wide RNG, so two buffers (or two agents on two threads) would perturb each other's
//! batches. This buffer keeps plain host vectors and owns its RNG: the same seed and the same
//! pushes give the same batches, whatever else runs in the process.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::state_delta::StateDelta;

/// How an environment step ended, as seen by the learner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepEnd {
    /// The episode goes on.
    Continues,
    /// A true terminal state (fall, goal): the value of `next_obs` is zero.
    Terminated,
    /// The episode was cut by a time limit. Not terminal: the learner still bootstraps from
    /// `next_obs`, so this is stored exactly like [`StepEnd::Continues`].
    Truncated,
}

impl StepEnd {
    /// Whether the learner must treat the next state as terminal (value zero).
    pub fn is_terminal(self) -> bool {
        matches!(self, StepEnd::Terminated)
    }
}

/// A minibatch in flat row-major arrays (`n` rows each).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// Number of transitions.
    pub n: usize,
    /// Observations, `n × obs_dim`.
    pub obs: Vec<f32>,
    /// Actions, `n × act_dim`.
    pub actions: Vec<f32>,
    /// Rewards, `n`.
    pub rewards: Vec<f32>,
    /// Next observations, `n × obs_dim`.
    pub next_obs: Vec<f32>,
    /// 1.0 where the next state is terminal, else 0.0 (truncation is 0.0), `n`.
    pub terminals: Vec<f32>,
}

impl Batch {
    /// Appends `other`'s rows after this batch's.
    pub fn extend(&mut self, other: &Batch) {
        self.n += other.n;
        self.obs.extend_from_slice(&other.obs);
        self.actions.extend_from_slice(&other.actions);
        self.rewards.extend_from_slice(&other.rewards);
        self.next_obs.extend_from_slice(&other.next_obs);
        self.terminals.extend_from_slice(&other.terminals);
    }
}

/// Ring buffer of transitions: once full, each push overwrites the oldest one.
#[derive(Clone, Debug)]
pub struct ReplayBuffer {
    obs_dim: usize,
    act_dim: usize,
    capacity: usize,
    /// Number of valid rows (≤ capacity).
    len: usize,
    /// Row the next push writes to.
    head: usize,
    obs: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    next_obs: Vec<f32>,
    terminals: Vec<f32>,
    rng: ChaCha8Rng,
}

impl ReplayBuffer {
    /// An empty buffer holding at most `capacity` transitions; `seed` drives sampling.
    pub fn new(obs_dim: usize, act_dim: usize, capacity: usize, seed: u64) -> Self {
        assert!(capacity > 0, "replay capacity must be positive");
        Self {
            obs_dim,
            act_dim,
            capacity,
            len: 0,
            head: 0,
            obs: vec![0.0; capacity * obs_dim],
            actions: vec![0.0; capacity * act_dim],
            rewards: vec![0.0; capacity],
            next_obs: vec![0.0; capacity * obs_dim],
            terminals: vec![0.0; capacity],
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Observation width.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Action width.
    pub fn act_dim(&self) -> usize {
        self.act_dim
    }

    /// Maximum number of transitions kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of transitions stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is stored yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sampling RNG (saved with the buffer so a resumed run draws the same batches).
    pub(crate) fn rng(&self) -> &ChaCha8Rng {
        &self.rng
    }

    pub(crate) fn set_rng(&mut self, rng: ChaCha8Rng) {
        self.rng = rng;
    }

    /// Drops every transition (the sampling RNG keeps its state).
    pub fn clear(&mut self) {
        self.len = 0;
        self.head = 0;
    }

    /// Stores one transition, overwriting the oldest when full.
    pub fn push(&mut self, obs: &[f32], action: &[f32], reward: f32, next_obs: &[f32], end: StepEnd) {
        assert_eq!(obs.len(), self.obs_dim, "observation width");
        assert_eq!(next_obs.len(), self.obs_dim, "next observation width");
        assert_eq!(action.len(), self.act_dim, "action width");
        let i = self.head;
        self.obs[i * self.obs_dim..(i + 1) * self.obs_dim].copy_from_slice(obs);
        self.next_obs[i * self.obs_dim..(i + 1) * self.obs_dim].copy_from_slice(next_obs);
        self.actions[i * self.act_dim..(i + 1) * self.act_dim].copy_from_slice(action);
        self.rewards[i] = reward;
        self.terminals[i] = if end.is_terminal() { 1.0 } else { 0.0 };
        self.head = (self.head + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
    }

    /// Ring row of the `k`-th oldest stored transition.
    fn row(&self, k: usize) -> usize {
        debug_assert!(k < self.len);
        // While not full the oldest row is 0; once full it is the one `head` overwrites next.
        if self.len < self.capacity { k } else { (self.head + k) % self.capacity }
    }

    /// The `k`-th oldest stored transition (0 = oldest), as a one-row batch.
    pub fn get(&self, k: usize) -> Batch {
        assert!(k < self.len, "index {k} out of {} stored transitions", self.len);
        let mut b = Batch::default();
        self.append_row(&mut b, self.row(k));
        b
    }

    fn append_row(&self, b: &mut Batch, i: usize) {
        b.n += 1;
        b.obs.extend_from_slice(&self.obs[i * self.obs_dim..(i + 1) * self.obs_dim]);
        b.actions.extend_from_slice(&self.actions[i * self.act_dim..(i + 1) * self.act_dim]);
        b.rewards.push(self.rewards[i]);
        b.next_obs.extend_from_slice(&self.next_obs[i * self.obs_dim..(i + 1) * self.obs_dim]);
        b.terminals.push(self.terminals[i]);
    }

    /// `n` transitions drawn uniformly with replacement, using the buffer's own seeded RNG.
    pub fn sample(&mut self, n: usize) -> Batch {
        assert!(!self.is_empty(), "cannot sample from an empty replay buffer");
        let mut b = Batch {
            n: 0,
            obs: Vec::with_capacity(n * self.obs_dim),
            actions: Vec::with_capacity(n * self.act_dim),
            rewards: Vec::with_capacity(n),
            next_obs: Vec::with_capacity(n * self.obs_dim),
            terminals: Vec::with_capacity(n),
        };
        for _ in 0..n {
            let k = self.rng.random_range(0..self.len);
            self.append_row(&mut b, self.row(k));
        }
        b
    }

    /// Every stored transition, oldest first.
    pub fn all(&self) -> Batch {
        let mut b = Batch::default();
        for k in 0..self.len {
            self.append_row(&mut b, self.row(k));
        }
        b
    }

    /// Dynamics-model training data, oldest first: inputs `[obs, action]` (`len × (obs+act)`)
    /// and targets `[reward, next_obs - obs]` (`len × (1+obs)`), the change of wrapped angles taken
    /// the short way round (`step`). `terminal_penalty` is added back to the reward of terminal
    /// rows, for a model whose rollouts subtract the task's penalty where they end (0: rewards as
    /// stored).
    pub fn model_dataset(&self, step: &StateDelta, terminal_penalty: f32) -> (Vec<f32>, Vec<f32>) {
        let (od, ad) = (self.obs_dim, self.act_dim);
        let mut inputs = Vec::with_capacity(self.len * (od + ad));
        let mut targets = Vec::with_capacity(self.len * (1 + od));
        for k in 0..self.len {
            let i = self.row(k);
            let o = &self.obs[i * od..(i + 1) * od];
            let no = &self.next_obs[i * od..(i + 1) * od];
            inputs.extend_from_slice(o);
            inputs.extend_from_slice(&self.actions[i * ad..(i + 1) * ad]);
            targets.push(self.rewards[i] + self.terminals[i] * terminal_penalty);
            step.push_delta(o, no, &mut targets);
        }
        (inputs, targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_k(buf: &mut ReplayBuffer, k: usize, end: StepEnd) {
        let x = k as f32;
        buf.push(&[x, -x], &[x * 0.5], x * 10.0, &[x + 1.0, -x - 1.0], end);
    }

    #[test]
    fn capacity_bound_and_ring_overwrite_order() {
        let mut buf = ReplayBuffer::new(2, 1, 4, 0);
        assert!(buf.is_empty());
        for k in 0..3 {
            push_k(&mut buf, k, StepEnd::Continues);
        }
        assert_eq!(buf.len(), 3);
        assert_eq!(buf.all().rewards, vec![0.0, 10.0, 20.0]);
        for k in 3..7 {
            push_k(&mut buf, k, StepEnd::Continues);
        }
        // Capacity 4 after 7 pushes: the 4 newest remain, oldest first.
        assert_eq!(buf.len(), 4);
        let all = buf.all();
        assert_eq!(all.rewards, vec![30.0, 40.0, 50.0, 60.0]);
        assert_eq!(all.obs, vec![3.0, -3.0, 4.0, -4.0, 5.0, -5.0, 6.0, -6.0]);
        assert_eq!(buf.get(0).actions, vec![1.5]);
        // One more push overwrites exactly the oldest (k = 3).
        push_k(&mut buf, 7, StepEnd::Continues);
        assert_eq!(buf.all().rewards, vec![40.0, 50.0, 60.0, 70.0]);
        // Sampling never returns an overwritten transition.
        let b = buf.sample(200);
        assert!(b.rewards.iter().all(|r| [40.0, 50.0, 60.0, 70.0].contains(r)));
    }

    #[test]
    fn truncation_is_not_terminal() {
        let mut buf = ReplayBuffer::new(2, 1, 8, 0);
        push_k(&mut buf, 0, StepEnd::Continues);
        push_k(&mut buf, 1, StepEnd::Truncated);
        push_k(&mut buf, 2, StepEnd::Terminated);
        assert_eq!(buf.all().terminals, vec![0.0, 0.0, 1.0]);
        let b = buf.sample(64);
        for (r, t) in b.rewards.iter().zip(&b.terminals) {
            assert_eq!(*t, if *r == 20.0 { 1.0 } else { 0.0 });
        }
    }

    #[test]
    fn same_seed_same_batches_and_rows_consistent() {
        let fill = |seed| {
            let mut buf = ReplayBuffer::new(2, 1, 50, seed);
            for k in 0..80 {
                push_k(&mut buf, k, if k % 9 == 8 { StepEnd::Terminated } else { StepEnd::Continues });
            }
            buf
        };
        let (mut a, mut b, mut c) = (fill(7), fill(7), fill(8));
        let (a1, a2) = (a.sample(32), a.sample(32));
        assert_eq!(a1, b.sample(32));
        assert_eq!(a2, b.sample(32));
        assert_ne!(a1, c.sample(32));
        assert_eq!((a1.obs.len(), a1.actions.len(), a1.next_obs.len(), a1.terminals.len()), (64, 32, 64, 32));
        // Each sampled row is one coherent transition.
        for j in 0..a1.n {
            let x = a1.rewards[j] / 10.0;
            assert_eq!(&a1.obs[2 * j..2 * j + 2], &[x, -x]);
            assert_eq!(a1.actions[j], x * 0.5);
            assert_eq!(&a1.next_obs[2 * j..2 * j + 2], &[x + 1.0, -x - 1.0]);
        }
    }

    #[test]
    fn model_dataset_holds_reward_and_state_delta() {
        let mut buf = ReplayBuffer::new(2, 1, 8, 0);
        push_k(&mut buf, 2, StepEnd::Continues);
        let (x, y) = buf.model_dataset(&StateDelta::plain(), 50.0);
        assert_eq!(x, vec![2.0, -2.0, 1.0]);
        assert_eq!(y, vec![20.0, 1.0, -1.0]);
    }

    #[test]
    fn model_dataset_adds_the_penalty_back_on_terminal_rows_only() {
        let mut buf = ReplayBuffer::new(2, 1, 8, 0);
        push_k(&mut buf, 2, StepEnd::Terminated);
        push_k(&mut buf, 3, StepEnd::Truncated);
        let (_, y) = buf.model_dataset(&StateDelta::plain(), 50.0);
        assert_eq!((y[0], y[3]), (20.0 + 50.0, 30.0));
        let (_, y) = buf.model_dataset(&StateDelta::plain(), 0.0);
        assert_eq!((y[0], y[3]), (20.0, 30.0));
    }
}
