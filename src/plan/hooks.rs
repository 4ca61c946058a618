//! Hooks through which the model-free learner (SAC) feeds the planner: a policy prior and a terminal value.

/// Supplies fixed candidate sequences (the SAC actor's mean actions rolled through the model).
///
/// The planner asks once per plan for `count = round(policy_fraction * samples)` sequences;
/// they are scored and weighted in every iteration but never resampled.
pub trait PolicyPrior: Send {
    /// Writes `count * horizon * action_dim` actions in [-1, 1], row-major [sequence][step][dim].
    /// `out` arrives with that length; values outside [-1, 1] are clipped and NaN becomes 0.
    fn propose(&mut self, count: usize, horizon: usize, action_dim: usize, out: &mut Vec<f32>);
}

/// Closes the horizon with a learned action value (SAC's critic).
pub trait TerminalValue: Send {
    /// Batch Q(s_{H-1}, a_{H-1}): `obs` is [row][obs_dim], `actions` is [row][action_dim],
    /// and one value per row goes to `out`.
    fn values(&mut self, obs: &[f32], obs_dim: usize, actions: &[f32], action_dim: usize, out: &mut [f32]);
}
