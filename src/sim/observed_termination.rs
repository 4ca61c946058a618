//! A scene's termination conditions read off an observation vector, so a learned model's
//! predicted observations can end a planned rollout (and a generated transition) the way the
//! simulator ends an episode: the known "healthy" predicate of PETS / MBPO, here derived from
//! the scene rather than written per robot.
//!
//! Each condition needs the quantity it tests among the observed terms: `HeightOutside(link)`
//! reads `LinkHeight(link)`, `PlanarAngleOutside(link)` reads `LinkPlanarAngle(link)`, and
//! `Tilt(link)` reads roll and pitch of `LinkOrientation(link)`. These are the same measurements
//! `task::termination` makes on the physics state, so on an observation without noise both agree.

use std::sync::Arc;

use super::robot::Robot;
use super::task::observation_offsets;
use crate::scene::{Observation, Termination};

/// One observed value that must stay within `[min, max]` (leaving it ends the episode).
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedLimit {
    /// Index into the observation vector.
    pub index: usize,
    pub min: f32,
    pub max: f32,
    /// What the value is, for messages (e.g. `torso height`).
    pub what: String,
}

/// The termination conditions as limits on observed values, and the penalty the task subtracts on
/// the terminating step. Cloning shares the list.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedTermination {
    limits: Arc<[ObservedLimit]>,
    penalty: f32,
}

impl ObservedTermination {
    /// Limits given directly (tests, hand-made models).
    pub fn new(limits: Vec<ObservedLimit>, penalty: f32) -> Self {
        Self { limits: limits.into(), penalty }
    }

    /// The scene's termination conditions on `robot`'s observation layout, or an error naming the
    /// first condition whose quantity is not observed (and the observation term it would need).
    pub fn of_robot(robot: &Robot) -> Result<Self, String> {
        let task = &robot.scene.task;
        let mut limits = Vec::new();
        for (i, condition) in task.termination.iter().enumerate() {
            let missing = |term: Observation| {
                format!(
                    "task.termination[{i}] ({condition:?}) cannot be read from predicted observations: \
                     the task does not observe {term:?}; add it to task.observation or turn off \
                     train.ensemble.known_termination"
                )
            };
            match condition {
                Termination::HeightOutside { link, min, max } => {
                    let term = Observation::LinkHeight(link.clone());
                    let at = offset_of(robot, &term).ok_or_else(|| missing(term))?;
                    limits.push(limit(at, *min, *max, format!("{link} height")));
                }
                Termination::PlanarAngleOutside { link, min, max } => {
                    let term = Observation::LinkPlanarAngle(link.clone());
                    let at = offset_of(robot, &term).ok_or_else(|| missing(term))?;
                    limits.push(limit(at, *min, *max, format!("{link} angle")));
                }
                Termination::Tilt { link, max_roll, max_pitch } => {
                    let term = Observation::LinkOrientation(link.clone());
                    let at = offset_of(robot, &term).ok_or_else(|| missing(term))?;
                    limits.push(limit(at, -max_roll, *max_roll, format!("{link} roll")));
                    limits.push(limit(at + 1, -max_pitch, *max_pitch, format!("{link} pitch")));
                }
            }
        }
        Ok(Self::new(limits, task.termination_penalty))
    }

    /// The limits, in the scene's order of conditions.
    pub fn limits(&self) -> &[ObservedLimit] {
        &self.limits
    }

    /// Subtracted from the reward of a terminating step.
    pub fn penalty(&self) -> f32 {
        self.penalty
    }

    /// Whether no condition is checked (the scene has none).
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// The first limit `obs` leaves, if any. A NaN value counts as outside: a model that
    /// predicts NaN has left every state the task allows.
    pub fn violated(&self, obs: &[f32]) -> Option<&ObservedLimit> {
        self.limits.iter().find(|l| {
            let v = obs[l.index];
            v.is_nan() || v < l.min || v > l.max
        })
    }

    /// Whether `obs` ends the episode.
    pub fn ends(&self, obs: &[f32]) -> bool {
        self.violated(obs).is_some()
    }

    /// Whether every index lies inside an observation of `obs_dim` values.
    pub fn fits(&self, obs_dim: usize) -> bool {
        self.limits.iter().all(|l| l.index < obs_dim)
    }
}

fn limit(index: usize, min: f32, max: f32, what: String) -> ObservedLimit {
    ObservedLimit { index, min, max, what }
}

/// Where `term`'s values start in the observation, if the task observes it.
fn offset_of(robot: &Robot, term: &Observation) -> Option<usize> {
    observation_offsets(robot).find(|(observed, _)| *observed == term).map(|(_, offset)| offset)
}
