//! Drawn points from an observation alone: forward kinematics from the joint angles an
//! observation carries, for robots whose root links are fixed (so the angles fix every pose).
//! Learned models predict observations, never physics states; this lets their plans be drawn.

use std::sync::Arc;

use rapier3d::prelude::*;

use super::model::ObservationPoints;
use crate::scene::Observation;
use crate::sim::Robot;
use crate::sim::measure::hinge_pose;
use crate::sim::task::observation_len;

/// Where the joint angles sit in the observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AngleField {
    /// `JointAngles` at this offset.
    Angles(usize),
    /// `JointAnglesCosSin` at this offset: (cos, sin) per joint.
    CosSin(usize),
}

/// Maps an observation to the scene's drawn sites by forward kinematics.
pub struct ObservationKinematics {
    robot: Arc<Robot>,
    field: AngleField,
}

impl ObservationKinematics {
    /// A decoder for `robot`'s observation, or `None` when the observation does not determine the
    /// drawn points: a moving root link (its position is not observed) or no joint angles.
    pub fn new(robot: Arc<Robot>) -> Option<Self> {
        let children: Vec<usize> = robot.joints.iter().map(|j| j.child).collect();
        let roots_fixed = (0..robot.links.len()).all(|l| children.contains(&l) || robot.links[l].fixed);
        if !roots_fixed || robot.drawn_sites.is_empty() {
            return None;
        }
        let mut offset = 0;
        let mut field = None;
        for term in &robot.scene.task.observation {
            match term {
                Observation::JointAngles => field = field.or(Some(AngleField::Angles(offset))),
                Observation::JointAnglesCosSin => field = field.or(Some(AngleField::CosSin(offset))),
                _ => {}
            }
            offset += observation_len(term, &robot);
        }
        Some(Self { field: field?, robot })
    }

    fn angle(&self, obs: &[f32], joint: usize) -> f32 {
        match self.field {
            AngleField::Angles(o) => obs[o + joint],
            AngleField::CosSin(o) => obs[o + 2 * joint + 1].atan2(obs[o + 2 * joint]),
        }
    }
}

impl ObservationPoints for ObservationKinematics {
    fn point_count(&self) -> usize {
        self.robot.drawn_sites.len()
    }

    fn points_into(&self, obs: &[f32], out: &mut [[f32; 3]]) {
        let robot = &self.robot;
        // Fixed roots stay at their zero pose; every child follows its parent through its hinge.
        let mut poses: Vec<Pose> = robot.links.iter().map(|l| l.zero_pose).collect();
        for &j in &robot.joint_order {
            let joint = &robot.joints[j];
            poses[joint.child] = poses[joint.parent] * hinge_pose(joint, self.angle(obs, j)) * joint.child_in_parent;
        }
        for (point, &site) in out.iter_mut().zip(&robot.drawn_sites) {
            let (link, offset) = robot.sites[site];
            *point = poses[link].transform_point(offset).to_array();
        }
    }
}
