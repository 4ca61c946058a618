//! Reads joint angles, velocities and link motion out of a Rapier world.

use rapier3d::prelude::*;

use super::robot::{JointInfo, PhysicsState, Robot};

/// Angle of `joint` from its zero configuration, in (-π, π].
pub fn joint_angle(state: &PhysicsState, robot: &Robot, joint: &JointInfo) -> f32 {
    let parent = state.bodies[robot.links[joint.parent].body].position();
    let child = state.bodies[robot.links[joint.child].body].position();
    // Rotation of the child relative to where the zero configuration would put it.
    let relative = parent.rotation.inverse() * child.rotation * joint.child_in_parent.rotation.inverse();
    let along = relative.xyz().dot(joint.axis_in_parent);
    wrap_angle(2.0 * along.atan2(relative.w))
}

/// Angular velocity of `joint` (rad/s) about its axis.
pub fn joint_velocity(state: &PhysicsState, robot: &Robot, joint: &JointInfo) -> f32 {
    let parent = &state.bodies[robot.links[joint.parent].body];
    let child = &state.bodies[robot.links[joint.child].body];
    let axis = parent.position().rotation * joint.axis_in_parent;
    (child.angvel() - parent.angvel()).dot(axis)
}

/// Wraps an angle to (-π, π].
pub fn wrap_angle(angle: f32) -> f32 {
    let two_pi = std::f32::consts::TAU;
    let wrapped = (angle + std::f32::consts::PI).rem_euclid(two_pi) - std::f32::consts::PI;
    if wrapped <= -std::f32::consts::PI { wrapped + two_pi } else { wrapped }
}

/// Pose of a link.
pub fn link_pose(state: &PhysicsState, robot: &Robot, link: usize) -> Pose {
    *state.bodies[robot.links[link].body].position()
}

/// Rotation of a link relative to its zero-configuration rotation.
pub fn link_relative_rotation(state: &PhysicsState, robot: &Robot, link: usize) -> Rotation {
    link_pose(state, robot, link).rotation * robot.links[link].zero_pose.rotation.inverse()
}

/// Rotation of a link about world Z, relative to the zero configuration (planar robots).
pub fn link_planar_angle(state: &PhysicsState, robot: &Robot, link: usize) -> f32 {
    let q = link_relative_rotation(state, robot, link);
    wrap_angle(2.0 * q.z.atan2(q.w))
}

/// Roll (about X), pitch (about Z) and yaw (about Y) of a link relative to its zero configuration.
pub fn link_roll_pitch_yaw(state: &PhysicsState, robot: &Robot, link: usize) -> [f32; 3] {
    let (yaw, pitch, roll) = link_relative_rotation(state, robot, link).to_euler(glamx::EulerRot::YZX);
    [roll, pitch, yaw]
}

pub fn link_linvel(state: &PhysicsState, robot: &Robot, link: usize) -> Vector {
    state.bodies[robot.links[link].body].linvel()
}

pub fn link_angvel(state: &PhysicsState, robot: &Robot, link: usize) -> Vector {
    state.bodies[robot.links[link].body].angvel()
}

/// World position of a site.
pub fn site_position(state: &PhysicsState, robot: &Robot, site: usize) -> Vector {
    let (link, offset) = robot.sites[site];
    link_pose(state, robot, link).transform_point(offset)
}

/// `joint`'s rotation by `angle` about its axis through its anchor, in the parent's frame.
pub fn hinge_pose(joint: &JointInfo, angle: f32) -> Pose {
    Pose::from_translation(joint.anchor_in_parent)
        * Pose::from_rotation(Rotation::from_axis_angle(joint.axis_in_parent, angle))
        * Pose::from_translation(-joint.anchor_in_parent)
}

/// Places every joint at `angles` with `velocities` (indexed like `robot.joints`), keeping root links
/// where they are, by forward kinematics from the zero-configuration joint frames.
pub fn set_joint_state(state: &mut PhysicsState, robot: &Robot, angles: &[f32], velocities: &[f32]) {
    for &j in &robot.joint_order {
        let joint = &robot.joints[j];
        let (parent_pose, parent_linvel, parent_angvel, parent_com) = {
            let body = &state.bodies[robot.links[joint.parent].body];
            (
                *body.position(),
                body.linvel(),
                body.angvel(),
                body.position().transform_point(body.local_center_of_mass()),
            )
        };
        let child_pose = parent_pose * hinge_pose(joint, angles[j]) * joint.child_in_parent;
        let axis = parent_pose.rotation * joint.axis_in_parent;
        let anchor = parent_pose.transform_point(joint.anchor_in_parent);
        let child = &mut state.bodies[robot.links[joint.child].body];
        let child_com = child_pose.transform_point(child.local_center_of_mass());
        let angvel = parent_angvel + axis * velocities[j];
        let linvel = parent_linvel
            + parent_angvel.cross(child_com - parent_com)
            + (axis * velocities[j]).cross(child_com - anchor);
        child.set_position(child_pose, true);
        child.set_linvel(linvel, true);
        child.set_angvel(angvel, true);
    }
}
