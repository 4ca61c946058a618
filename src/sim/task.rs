//! Observation, reward terms and termination conditions of a scene's task.

use rapier3d::prelude::*;

use super::measure::*;
use super::robot::{PhysicsState, Robot};
use crate::scene::{Observation, Reward, Termination};

/// What happened during the control step that rewards need beyond the resulting state.
pub struct StepContext<'a> {
    /// Normalised actions in [-1, 1].
    pub action: &'a [f32],
    /// Torque (N·m) each actuated joint applied, in action order.
    pub effort: &'a [f32],
    /// Link X positions before the step, for displacement-based velocities.
    pub x_before: &'a [f32],
    pub dt: f32,
    /// Task clock after the step, radians in [0, 2π).
    pub phase: f32,
}

/// Number of values an observation term contributes.
pub fn observation_len(term: &Observation, robot: &Robot) -> usize {
    let joints = robot.joints.len();
    match term {
        Observation::JointAngles | Observation::JointVelocities => joints,
        Observation::JointAnglesCosSin => 2 * joints,
        Observation::LinkHeight(_) | Observation::LinkPlanarAngle(_) => 1,
        Observation::LinkPlanarVelocity(_) | Observation::LinkOrientation(_) => 3,
        Observation::LinkVelocity(_) | Observation::LinkAngularVelocity(_) => 3,
        Observation::Phase => 2,
    }
}

/// Each observation term with the index of its first value in the observation vector.
pub fn observation_offsets<'a>(robot: &'a Robot) -> impl Iterator<Item = (&'a Observation, usize)> + 'a {
    robot.scene.task.observation.iter().scan(0, move |offset, term| {
        let at = *offset;
        *offset += observation_len(term, robot);
        Some((term, at))
    })
}

/// Offsets, within an observation term's values, of the angles observed wrapped to (−π, π]:
/// joint angles and a planar link angle; roll and yaw of an orientation (its pitch is bounded
/// by ±π/2 and never wraps). Cos/sin pairs are continuous and not listed.
pub fn wrapped_angle_offsets(term: &Observation, robot: &Robot) -> Vec<usize> {
    match term {
        Observation::JointAngles => (0..robot.joints.len()).collect(),
        Observation::LinkPlanarAngle(_) => vec![0],
        Observation::LinkOrientation(_) => vec![0, 2],
        Observation::JointAnglesCosSin
        | Observation::JointVelocities
        | Observation::LinkHeight(_)
        | Observation::LinkPlanarVelocity(_)
        | Observation::LinkVelocity(_)
        | Observation::LinkAngularVelocity(_)
        | Observation::Phase => Vec::new(),
    }
}

fn link(robot: &Robot, name: &str) -> usize {
    robot.link_index(name).expect("validated link name")
}

/// Appends the observation to `out`.
pub fn observe(state: &PhysicsState, robot: &Robot, phase: f32, out: &mut Vec<f32>) {
    for term in &robot.scene.task.observation {
        match term {
            Observation::JointAngles => out.extend(robot.joints.iter().map(|j| joint_angle(state, robot, j))),
            Observation::JointAnglesCosSin => {
                for joint in &robot.joints {
                    let angle = joint_angle(state, robot, joint);
                    out.extend([angle.cos(), angle.sin()]);
                }
            }
            Observation::JointVelocities => out.extend(robot.joints.iter().map(|j| joint_velocity(state, robot, j))),
            Observation::LinkHeight(name) => out.push(link_pose(state, robot, link(robot, name)).translation.y),
            Observation::LinkPlanarAngle(name) => out.push(link_planar_angle(state, robot, link(robot, name))),
            Observation::LinkPlanarVelocity(name) => {
                let l = link(robot, name);
                let (v, w) = (link_linvel(state, robot, l), link_angvel(state, robot, l));
                out.extend([v.x, v.y, w.z]);
            }
            Observation::LinkOrientation(name) => out.extend(link_roll_pitch_yaw(state, robot, link(robot, name))),
            Observation::LinkVelocity(name) => out.extend(link_linvel(state, robot, link(robot, name)).to_array()),
            Observation::LinkAngularVelocity(name) => {
                out.extend(link_angvel(state, robot, link(robot, name)).to_array())
            }
            Observation::Phase => out.extend([phase.cos(), phase.sin()]),
        }
    }
}

/// The paper's 2R-leg foot path at phase φ, relative to the hip: a flat stance stroke for φ < π,
/// then a swing arc lifted by `lift`.
pub fn foot_path(phase: f32, half_width: f32, height: f32, lift: f32) -> [f32; 2] {
    let pi = std::f32::consts::PI;
    if phase < pi {
        [half_width * phase.cos(), height]
    } else {
        let back = std::f32::consts::TAU - phase;
        [half_width * back.cos(), height + lift * back.sin()]
    }
}

/// Value of one reward term before weighting.
pub fn reward_term(term: &Reward, state: &PhysicsState, robot: &Robot, ctx: &StepContext) -> f32 {
    match term {
        Reward::JointAngleSquared(name) => {
            let joint = &robot.joints[robot.joint_index(name).expect("validated joint")];
            joint_angle(state, robot, joint).powi(2)
        }
        Reward::JointVelocitySquared(name) => {
            let joint = &robot.joints[robot.joint_index(name).expect("validated joint")];
            joint_velocity(state, robot, joint).powi(2)
        }
        Reward::ActionSquared => ctx.action.iter().map(|a| a * a).sum(),
        Reward::EffortSquared => ctx.effort.iter().map(|t| t * t).sum(),
        Reward::ForwardVelocity(name) => {
            let l = link(robot, name);
            (link_pose(state, robot, l).translation.x - ctx.x_before[l]) / ctx.dt
        }
        Reward::Alive => 1.0,
        Reward::FootPath { site, origin, half_width, height, lift, sharpness } => {
            let foot = site_position(state, robot, robot.site_index(site).expect("validated site"));
            let target = foot_path(ctx.phase, *half_width, *height, *lift);
            let (dx, dy) = (foot.x - origin[0] - target[0], foot.y - origin[1] - target[1]);
            (-sharpness * (dx * dx + dy * dy).sqrt()).exp()
        }
        Reward::Upright(name) => {
            let up = link_relative_rotation(state, robot, link(robot, name)) * Vector::Y;
            up.y
        }
        Reward::Level { link: name, sharpness } => {
            let [roll, pitch, _] = link_roll_pitch_yaw(state, robot, link(robot, name));
            0.5 * ((-sharpness * roll * roll).exp() + (-sharpness * pitch * pitch).exp())
        }
        Reward::HeightError { link: name, target } => {
            (link_pose(state, robot, link(robot, name)).translation.y - target).powi(2)
        }
        Reward::VelocityTracking { link: name, target, width } => {
            let v = link_linvel(state, robot, link(robot, name)).x;
            (-((v - target) / width).powi(2)).exp()
        }
        Reward::YawRate(name) => link_angvel(state, robot, link(robot, name)).y.powi(2),
        Reward::BodyRates(name) => {
            let w = link_angvel(state, robot, link(robot, name));
            w.x * w.x + w.z * w.z
        }
        Reward::Power => robot
            .actuated
            .iter()
            .zip(ctx.effort)
            .map(|(&j, torque)| (torque * joint_velocity(state, robot, &robot.joints[j])).abs())
            .sum(),
    }
}

/// Short label of a reward term for plots and CSV headers.
pub fn reward_label(term: &Reward) -> String {
    match term {
        Reward::JointAngleSquared(j) => format!("angle²({j})"),
        Reward::JointVelocitySquared(j) => format!("velocity²({j})"),
        Reward::ActionSquared => "action²".into(),
        Reward::EffortSquared => "effort²".into(),
        Reward::ForwardVelocity(l) => format!("forward_velocity({l})"),
        Reward::Alive => "alive".into(),
        Reward::FootPath { site, .. } => format!("foot_path({site})"),
        Reward::Upright(l) => format!("upright({l})"),
        Reward::Level { link, .. } => format!("level({link})"),
        Reward::HeightError { link, .. } => format!("height_error({link})"),
        Reward::VelocityTracking { link, .. } => format!("velocity_tracking({link})"),
        Reward::YawRate(l) => format!("yaw_rate({l})"),
        Reward::BodyRates(l) => format!("body_rates({l})"),
        Reward::Power => "power".into(),
    }
}

/// The first termination condition that holds, described for the user.
pub fn termination(state: &PhysicsState, robot: &Robot) -> Option<String> {
    for condition in &robot.scene.task.termination {
        match condition {
            Termination::HeightOutside { link: name, min, max } => {
                let y = link_pose(state, robot, link(robot, name)).translation.y;
                if y < *min || y > *max {
                    return Some(format!("{name} height {y:.3} m left ({min}, {max})"));
                }
            }
            Termination::PlanarAngleOutside { link: name, min, max } => {
                let angle = link_planar_angle(state, robot, link(robot, name));
                if angle < *min || angle > *max {
                    return Some(format!("{name} angle {angle:.3} rad left ({min}, {max})"));
                }
            }
            Termination::Tilt { link: name, max_roll, max_pitch } => {
                let [roll, pitch, _] = link_roll_pitch_yaw(state, robot, link(robot, name));
                if roll.abs() > *max_roll || pitch.abs() > *max_pitch {
                    return Some(format!("{name} tilted: roll {roll:.3}, pitch {pitch:.3} rad"));
                }
            }
        }
    }
    None
}
