//! How the dynamics model's Δstate targets are formed and added back: plain differences, except
//! for observation dimensions that are angles wrapped to (−π, π], whose change is taken the short
//! way round the circle.
//!
//! Without this, a torso that rotates past upside down (the cheetah's pitch going from 3.1 to
//! −3.1) gives a Δ target of about −2π for a step that moved 0.08 rad: a jump no smooth model can
//! fit, and one that stays in the replay buffer for every later refit. Wrapping applies only where
//! a value leaves (−π, π], so rows that never cross ±π give bit-identical targets and rollouts.

use std::f32::consts::PI;
use std::sync::Arc;

use crate::sim::measure::wrap_angle;

/// Which observation dimensions are wrapped angles. Cloning shares the list (no allocation), so
/// every plan can hand it to the actor prior.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDelta {
    /// Indices into the observation of angles observed in (−π, π], ascending.
    wrapped: Arc<[usize]>,
}

impl Default for StateDelta {
    fn default() -> Self {
        Self { wrapped: Arc::from(Vec::new()) }
    }
}

/// `angle` unchanged when it already lies in (−π, π], else wrapped into it.
fn into_circle(angle: f32) -> f32 {
    if angle > -PI && angle <= PI { angle } else { wrap_angle(angle) }
}

impl StateDelta {
    /// Plain differences everywhere (no wrapped angles).
    pub fn plain() -> Self {
        Self::default()
    }

    /// Dimensions `wrapped` (observation indices) are angles in (−π, π].
    pub fn with_wrapped_angles(mut wrapped: Vec<usize>) -> Self {
        wrapped.sort_unstable();
        wrapped.dedup();
        Self { wrapped: wrapped.into() }
    }

    /// The wrapped dimensions, ascending.
    pub fn wrapped(&self) -> &[usize] {
        &self.wrapped
    }

    /// Checks that every wrapped dimension exists in an observation of `obs_dim` values.
    pub fn fits(&self, obs_dim: usize) -> bool {
        self.wrapped.last().is_none_or(|&d| d < obs_dim)
    }

    /// Appends the change from `obs` to `next` (the model's Δstate target) to `out`.
    pub fn push_delta(&self, obs: &[f32], next: &[f32], out: &mut Vec<f32>) {
        let start = out.len();
        out.extend(next.iter().zip(obs).map(|(n, o)| n - o));
        for &d in self.wrapped.iter() {
            out[start + d] = into_circle(out[start + d]);
        }
    }

    /// Moves `state` by a predicted change `delta` (one observation each).
    pub fn advance(&self, state: &mut [f32], delta: &[f32]) {
        state.iter_mut().zip(delta).for_each(|(s, d)| *s += d);
        for &d in self.wrapped.iter() {
            state[d] = into_circle(state[d]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_pi_gives_the_short_change_and_wraps_back() {
        let step = StateDelta::with_wrapped_angles(vec![1]);
        // Dimension 1 goes from just below π to just above −π: a +0.1 rad step.
        let (obs, next) = ([3.0, PI - 0.05], [3.5, -PI + 0.05]);
        let mut delta = Vec::new();
        step.push_delta(&obs, &next, &mut delta);
        assert_eq!(delta[0], 0.5);
        assert!((delta[1] - 0.1).abs() < 1e-5, "short way round: {}", delta[1]);
        let mut state = obs;
        step.advance(&mut state, &delta);
        assert_eq!(state[0], 3.5);
        assert!((state[1] - next[1]).abs() < 1e-5, "wrapped back into (−π, π]: {}", state[1]);
        // The other direction.
        let mut back = Vec::new();
        step.push_delta(&next, &obs, &mut back);
        assert!((back[1] + 0.1).abs() < 1e-5);
    }

    #[test]
    fn rows_inside_the_circle_are_bit_identical_to_plain_differences() {
        let (wrapped, plain) = (StateDelta::with_wrapped_angles(vec![0, 1]), StateDelta::plain());
        let (obs, next) = ([0.3f32, -2.9], [0.7123f32, -3.05]);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        wrapped.push_delta(&obs, &next, &mut a);
        plain.push_delta(&obs, &next, &mut b);
        assert_eq!(a, b);
        let (mut s, mut t) = (obs, obs);
        wrapped.advance(&mut s, &a);
        plain.advance(&mut t, &b);
        assert_eq!(s, t);
    }

    #[test]
    fn unwrapped_dimensions_keep_large_changes() {
        let step = StateDelta::with_wrapped_angles(vec![1]);
        let mut delta = Vec::new();
        step.push_delta(&[-3.0, 0.0], &[3.0, 0.0], &mut delta);
        assert_eq!(delta[0], 6.0);
        assert!(step.fits(2) && !step.fits(1));
        assert_eq!(StateDelta::with_wrapped_angles(vec![3, 1, 3]).wrapped(), &[1, 3]);
    }
}
