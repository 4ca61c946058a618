//! The rollout interface between the planner and whatever predicts the future (a learned ensemble or a forked simulator).

/// A batch of action sequences, row-major [sequence][step][action dim], every action in [-1, 1].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SequenceBatch {
    pub count: usize,
    pub horizon: usize,
    pub action_dim: usize,
    pub actions: Vec<f32>,
}

impl SequenceBatch {
    /// An all-zero batch of the given shape.
    pub fn new(count: usize, horizon: usize, action_dim: usize) -> Self {
        let mut batch = Self::default();
        batch.resize(count, horizon, action_dim);
        batch
    }

    /// Sets the shape, keeping the allocation; contents are unspecified afterwards.
    pub fn resize(&mut self, count: usize, horizon: usize, action_dim: usize) {
        self.count = count;
        self.horizon = horizon;
        self.action_dim = action_dim;
        self.actions.resize(count * horizon * action_dim, 0.0);
    }

    /// Number of floats in one sequence.
    pub fn sequence_len(&self) -> usize {
        self.horizon * self.action_dim
    }

    /// All actions of sequence `n`, [step][action dim].
    pub fn sequence(&self, n: usize) -> &[f32] {
        let len = self.sequence_len();
        &self.actions[n * len..(n + 1) * len]
    }

    /// Mutable view of sequence `n`.
    pub fn sequence_mut(&mut self, n: usize) -> &mut [f32] {
        let len = self.sequence_len();
        &mut self.actions[n * len..(n + 1) * len]
    }

    /// Action of sequence `n` at step `h`.
    pub fn action(&self, n: usize, h: usize) -> &[f32] {
        let start = (n * self.horizon + h) * self.action_dim;
        &self.actions[start..start + self.action_dim]
    }
}

/// What a model predicts for a SequenceBatch (buffers reused between calls; the model resizes them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RolloutBatch {
    pub count: usize,
    pub particles: usize,
    pub horizon: usize,
    pub obs_dim: usize,
    pub point_count: usize,
    /// [sequence][particle][step]; the model writes 0 after a termination.
    pub rewards: Vec<f32>,
    /// [sequence][particle]: index of the step whose transition terminated the episode (its reward counts), or `horizon` if none.
    pub terminated_at: Vec<u32>,
    /// [sequence][particle][obs_dim]: observation of state s_{H-1} (before the last action), for a terminal value.
    pub final_obs: Vec<f32>,
    /// [sequence][step 0..=horizon][point]: 3-D points the scene marks for drawing (feet, torso), of particle 0.
    pub points: Vec<[f32; 3]>,
}

impl RolloutBatch {
    /// Sets the shape and sizes every buffer to match, keeping allocations.
    /// Rewards and points are zeroed and `terminated_at` set to "never", so a model
    /// that only writes what it computes still leaves a well-formed batch.
    pub fn resize(&mut self, count: usize, particles: usize, horizon: usize, obs_dim: usize, point_count: usize) {
        self.count = count;
        self.particles = particles;
        self.horizon = horizon;
        self.obs_dim = obs_dim;
        self.point_count = point_count;
        let lanes = count * particles;
        self.rewards.clear();
        self.rewards.resize(lanes * horizon, 0.0);
        self.terminated_at.clear();
        self.terminated_at.resize(lanes, horizon as u32);
        self.final_obs.clear();
        self.final_obs.resize(lanes * obs_dim, 0.0);
        self.points.clear();
        self.points.resize(count * (horizon + 1) * point_count, [0.0; 3]);
    }

    /// Whether every buffer has the length the shape fields promise.
    pub fn is_consistent(&self) -> bool {
        let lanes = self.count * self.particles;
        self.rewards.len() == lanes * self.horizon
            && self.terminated_at.len() == lanes
            && self.final_obs.len() == lanes * self.obs_dim
            && self.points.len() == self.count * (self.horizon + 1) * self.point_count
    }

    /// Index of the (sequence, particle) lane in `terminated_at`.
    pub fn lane(&self, sequence: usize, particle: usize) -> usize {
        sequence * self.particles + particle
    }

    /// Rewards of one particle of one sequence, one per step.
    pub fn rewards_of(&self, sequence: usize, particle: usize) -> &[f32] {
        let start = self.lane(sequence, particle) * self.horizon;
        &self.rewards[start..start + self.horizon]
    }

    /// Mutable rewards of one particle of one sequence.
    pub fn rewards_of_mut(&mut self, sequence: usize, particle: usize) -> &mut [f32] {
        let start = self.lane(sequence, particle) * self.horizon;
        &mut self.rewards[start..start + self.horizon]
    }

    /// Observation of s_{H-1} for one particle of one sequence.
    pub fn final_obs_of(&self, sequence: usize, particle: usize) -> &[f32] {
        let start = self.lane(sequence, particle) * self.obs_dim;
        &self.final_obs[start..start + self.obs_dim]
    }

    /// Mutable observation of s_{H-1} for one particle of one sequence.
    pub fn final_obs_of_mut(&mut self, sequence: usize, particle: usize) -> &mut [f32] {
        let start = self.lane(sequence, particle) * self.obs_dim;
        &mut self.final_obs[start..start + self.obs_dim]
    }

    /// Number of points stored per sequence (all steps).
    pub fn points_per_sequence(&self) -> usize {
        (self.horizon + 1) * self.point_count
    }

    /// Points of one sequence, [step 0..=horizon][point].
    pub fn points_of(&self, sequence: usize) -> &[[f32; 3]] {
        let len = self.points_per_sequence();
        &self.points[sequence * len..(sequence + 1) * len]
    }

    /// Mutable points of one sequence.
    pub fn points_of_mut(&mut self, sequence: usize) -> &mut [[f32; 3]] {
        let len = self.points_per_sequence();
        &mut self.points[sequence * len..(sequence + 1) * len]
    }
}

/// The scene's drawn 3-D points as a function of an observation, for models that predict
/// observations only (the learned ensemble), so their plans can be drawn like the simulator's.
pub trait ObservationPoints: Send + Sync {
    /// Points per observation (the scene's drawn sites).
    fn point_count(&self) -> usize;
    /// Writes the points of the state `obs` describes into `out` (`point_count` long). `track`
    /// carries a floating robot's horizontal position along one predicted trajectory (call with
    /// the trajectory's observations in order, starting from `RootTrack::default()`); robots
    /// with fixed roots ignore it.
    fn points_into(&self, obs: &[f32], track: &mut RootTrack, out: &mut [[f32; 3]]);
}

/// Horizontal position of a floating root along one predicted trajectory, dead-reckoned from
/// the predicted velocities (observations carry height, orientation and velocity, never the
/// horizontal position). It starts at (0, 0): points are relative to where the root stood.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RootTrack {
    pub x: f32,
    pub z: f32,
    /// Horizontal velocity of the previous observation, if any.
    pub velocity: Option<[f32; 2]>,
}

/// Predicts the outcome of action sequences from a start state the implementer sets.
pub trait Model: Send {
    fn action_dim(&self) -> usize;
    fn obs_dim(&self) -> usize;
    fn point_count(&self) -> usize;
    /// Particles this model will actually use when `requested` are asked for (a deterministic simulator returns 1).
    fn particles(&self, requested: usize) -> usize;
    /// Predicts every sequence of `batch` from the model's current start state (set by the implementer's own API).
    /// The model shapes `out` itself (`RolloutBatch::resize` with the particles it uses), so callers
    /// pass the same buffers every time and never size them.
    fn rollout(&mut self, batch: &SequenceBatch, particles: usize, out: &mut RolloutBatch);
}
