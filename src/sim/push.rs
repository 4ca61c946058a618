//! External pushes on the robot: forces on a link for some control steps, from the studio's
//! mouse, a scene's scripted `task.pushes`, or a world's periodic random pushes. A push is an
//! input like an action: it is part of the env's state (forks copy it) and repeatable.

use rapier3d::prelude::*;

use super::robot::{PhysicsState, Robot};
use super::world::hashed_normal;
use crate::scene::{PeriodicPush, ScriptedPush};

/// A force (N, world axes, Y up) on one link for the next `steps` control steps, at the link's
/// centre of mass or at a point fixed in the link (`at`, link frame).
#[derive(Clone, Debug, PartialEq)]
pub struct Push {
    pub link: usize,
    pub force: [f32; 3],
    pub at: Option<[f32; 3]>,
    pub steps: u32,
}

/// Why a push was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PushError {
    #[error("no link {0} (the robot has {1})")]
    UnknownLink(usize, usize),
    #[error("the force {0:?} is not finite")]
    NotFinite([f32; 3]),
}

/// Separates the push directions' stream from the observation noise's (same episode seed).
const PUSH_STREAM: u64 = 0x0000_9054_D1CE;

/// The pushes acting now, and whether forces were applied in the last substep (they persist in
/// Rapier until cleared).
#[derive(Clone, Debug, Default)]
pub(super) struct ActivePushes {
    pub active: Vec<Push>,
    applied: bool,
}

impl Push {
    /// Checks the push against `robot`.
    pub fn check(&self, robot: &Robot) -> Result<(), PushError> {
        if self.link >= robot.links.len() {
            return Err(PushError::UnknownLink(self.link, robot.links.len()));
        }
        let finite = self.force.iter().chain(self.at.iter().flatten()).all(|v| v.is_finite());
        if !finite {
            return Err(PushError::NotFinite(self.force));
        }
        Ok(())
    }
}

impl ActivePushes {
    pub fn clear(&mut self) {
        self.active.clear();
        self.applied = false;
    }

    /// Starts the pushes due before step `step`: the task's scripted ones and the world's
    /// periodic one (its direction from the episode's `seed` and the step).
    pub fn start_due(&mut self, robot: &Robot, periodic: Option<&PeriodicPush>, step: u32, seed: u64) {
        for scripted in robot.scene.task.pushes.iter().filter(|p| p.step == step) {
            self.active.extend(scripted_push(robot, scripted));
        }
        if let Some(p) = periodic.filter(|p| p.every_steps > 0 && step > 0 && step.is_multiple_of(p.every_steps)) {
            let link = p.link.as_deref().and_then(|name| robot.link_index(name)).unwrap_or(0);
            let (x, z) = (hashed_normal(seed ^ PUSH_STREAM, step, 0), hashed_normal(seed ^ PUSH_STREAM, step, 1));
            let norm = (x * x + z * z).sqrt().max(f32::MIN_POSITIVE);
            let force = [p.force * x / norm, 0.0, p.force * z / norm];
            self.active.push(Push { link, force, at: None, steps: p.duration_steps });
        }
    }

    /// Removes forces the last substep left on the bodies (before actuators add theirs).
    pub fn clear_forces(&mut self, state: &mut PhysicsState, robot: &Robot) {
        if std::mem::take(&mut self.applied) {
            for link in &robot.links {
                let body = &mut state.bodies[link.body];
                body.reset_forces(false);
                body.reset_torques(false);
            }
        }
    }

    /// Adds the active pushes' forces for one substep.
    pub fn apply(&mut self, state: &mut PhysicsState, robot: &Robot) {
        for push in &self.active {
            let body = &mut state.bodies[robot.links[push.link].body];
            let force = Vector::new(push.force[0], push.force[1], push.force[2]);
            match push.at {
                None => body.add_force(force, true),
                Some(at) => {
                    let point = body.position().transform_point(Vector::new(at[0], at[1], at[2]));
                    body.add_force_at_point(force, point, true);
                }
            }
            self.applied = true;
        }
    }

    /// One control step has passed: pushes that have run their course end.
    pub fn advance(&mut self) {
        for push in &mut self.active {
            push.steps = push.steps.saturating_sub(1);
        }
        self.active.retain(|p| p.steps > 0);
    }
}

fn scripted_push(robot: &Robot, p: &ScriptedPush) -> Option<Push> {
    let link = robot.link_index(&p.link)?;
    Some(Push { link, force: p.force, at: None, steps: p.duration_steps })
}
