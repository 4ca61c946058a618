//! Drawn points from an observation alone, by forward kinematics from the joint angles it
//! carries. Learned models predict observations, never physics states; this lets their plans be
//! drawn. A fixed root fixes every pose; a floating root is placed from its observed height,
//! orientation and velocity, its horizontal position dead-reckoned along the trajectory.

use std::sync::Arc;

use rapier3d::prelude::*;

use super::model::{ObservationPoints, RootTrack};
use crate::scene::Observation;
use crate::sim::Robot;
use crate::sim::measure::hinge_pose;
use crate::sim::task::observation_offsets;

/// Where the joint angles sit in the observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AngleField {
    /// `JointAngles` at this offset.
    Angles(usize),
    /// `JointAnglesCosSin` at this offset: (cos, sin) per joint.
    CosSin(usize),
}

/// Where a floating root's orientation sits in the observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OrientationField {
    /// `LinkOrientation`: roll, pitch, yaw.
    Euler(usize),
    /// `LinkPlanarAngle`: the angle about world Z.
    Planar(usize),
}

/// Where a floating root's linear velocity sits in the observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VelocityField {
    /// `LinkVelocity`: world x, y, z.
    World(usize),
    /// `LinkPlanarVelocity`: world x, y and the angular rate (the plane is x-y).
    Planar(usize),
}

/// The observation fields that place a floating root link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RootFields {
    link: usize,
    height: usize,
    orientation: OrientationField,
    velocity: VelocityField,
}

/// Maps an observation to the scene's drawn sites by forward kinematics.
pub struct ObservationKinematics {
    robot: Arc<Robot>,
    angles: AngleField,
    /// The floating root, if the robot has one.
    root: Option<RootFields>,
    /// Seconds per control step (for dead reckoning).
    dt: f32,
}

impl ObservationKinematics {
    /// A decoder for `robot`'s observation, or `None` when the observation does not determine
    /// the drawn points: no joint angles, more than one floating root, or a floating root whose
    /// height, orientation or velocity is not observed.
    pub fn new(robot: Arc<Robot>) -> Option<Self> {
        if robot.drawn_sites.is_empty() {
            return None;
        }
        let children: Vec<usize> = robot.joints.iter().map(|j| j.child).collect();
        let floating: Vec<usize> =
            (0..robot.links.len()).filter(|&l| !children.contains(&l) && !robot.links[l].fixed).collect();
        let root_link = match floating[..] {
            [] => None,
            [link] => Some(link),
            _ => return None,
        };
        let is_root = |name: &String| root_link.is_some_and(|l| robot.links[l].name == *name);
        let (mut angles, mut height, mut orientation, mut velocity) = (None, None, None, None);
        for (term, offset) in observation_offsets(&robot) {
            match term {
                Observation::JointAngles => angles = angles.or(Some(AngleField::Angles(offset))),
                Observation::JointAnglesCosSin => angles = angles.or(Some(AngleField::CosSin(offset))),
                Observation::LinkHeight(name) if is_root(name) => height = Some(offset),
                Observation::LinkOrientation(name) if is_root(name) => {
                    orientation = Some(OrientationField::Euler(offset))
                }
                Observation::LinkPlanarAngle(name) if is_root(name) => {
                    orientation = Some(OrientationField::Planar(offset))
                }
                Observation::LinkVelocity(name) if is_root(name) => velocity = Some(VelocityField::World(offset)),
                Observation::LinkPlanarVelocity(name) if is_root(name) => {
                    velocity = Some(VelocityField::Planar(offset))
                }
                _ => {}
            }
        }
        let root = match root_link {
            None => None,
            Some(link) => Some(RootFields { link, height: height?, orientation: orientation?, velocity: velocity? }),
        };
        let dt = 1.0 / robot.scene.physics.control_rate;
        Some(Self { angles: angles?, root, dt, robot })
    }

    /// The floating root link, if any: its points are relative to the root's horizontal
    /// position at the start of a trajectory (a `RootTrack` starts at (0, 0)).
    pub fn floating_root(&self) -> Option<usize> {
        self.root.map(|r| r.link)
    }

    fn angle(&self, obs: &[f32], joint: usize) -> f32 {
        match self.angles {
            AngleField::Angles(o) => obs[o + joint],
            AngleField::CosSin(o) => obs[o + 2 * joint + 1].atan2(obs[o + 2 * joint]),
        }
    }

    /// The floating root's pose for `obs`, advancing `track` by one step of dead reckoning.
    fn root_pose(&self, root: &RootFields, obs: &[f32], track: &mut RootTrack) -> Pose {
        let velocity = match root.velocity {
            VelocityField::World(o) => [obs[o], obs[o + 2]],
            VelocityField::Planar(o) => [obs[o], 0.0],
        };
        // Trapezoid rule between the previous and this observation's velocity.
        if let Some([vx, vz]) = track.velocity {
            track.x += 0.5 * self.dt * (vx + velocity[0]);
            track.z += 0.5 * self.dt * (vz + velocity[1]);
        }
        track.velocity = Some(velocity);
        let zero = self.robot.links[root.link].zero_pose;
        let relative = match root.orientation {
            OrientationField::Euler(o) => {
                let (roll, pitch, yaw) = (obs[o], obs[o + 1], obs[o + 2]);
                Rotation::from_euler(glamx::EulerRot::YZX, yaw, pitch, roll)
            }
            OrientationField::Planar(o) => Rotation::from_rotation_z(obs[o]),
        };
        // Relative to the root's horizontal start; a planar robot's z velocity is zero, so it
        // stays in its plane.
        let translation = Vector::new(track.x, obs[root.height], track.z);
        Pose::from_parts(translation, relative * zero.rotation)
    }
}

impl ObservationPoints for ObservationKinematics {
    fn point_count(&self) -> usize {
        self.robot.drawn_sites.len()
    }

    fn points_into(&self, obs: &[f32], track: &mut RootTrack, out: &mut [[f32; 3]]) {
        let robot = &self.robot;
        // Roots stay at their zero pose unless floating; every child follows its parent
        // through its hinge.
        let mut poses: Vec<Pose> = robot.links.iter().map(|l| l.zero_pose).collect();
        if let Some(root) = &self.root {
            poses[root.link] = self.root_pose(root, obs, track);
        }
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
