//! Tasks an imported robot starts with: `none` (observe, stay alive), `stand` (hold the home
//! pose) and `walk` (the quadruped task's terms, planned around a trot at the home pose).

use crate::config::{ActionChoice, Loss, PeriodicNominal, PlannerSettings, TerminalChoice};
use crate::scene::{Observation, Reward, RewardTerm, Robot, Task, Termination};

/// Which task `import --task` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TaskKind {
    /// Observe the robot and reward staying alive (a starting point to edit).
    None,
    /// Hold the home pose: level base at its home height, little power.
    #[default]
    Stand,
    /// Walk forward at 0.5 m/s, level and steady, planned around a trot.
    Walk,
}

/// Forward speed the walk task asks for, m/s.
const WALK_SPEED: f32 = 0.5;
/// Control steps per trot cycle.
const TROT_PERIOD_STEPS: f32 = 16.0;
/// Hip swing and knee lift of the trot, radians.
const TROT_HIP_SWING: f32 = 0.25;
const TROT_KNEE_LIFT: f32 = 0.35;

/// The task and planner settings for `kind` on an imported robot whose floating base is
/// `base` (None: a fixed base) at home height `base_height`.
pub fn task(kind: TaskKind, robot: &Robot, base: Option<(&str, f32)>) -> (Task, PlannerSettings) {
    let mut observation = Vec::new();
    if let Some((link, _)) = base {
        let link = link.to_string();
        observation.extend([
            Observation::LinkHeight(link.clone()),
            Observation::LinkOrientation(link.clone()),
            Observation::LinkVelocity(link.clone()),
            Observation::LinkAngularVelocity(link),
        ]);
    }
    observation.extend([Observation::JointAngles, Observation::JointVelocities]);
    let weighted = |weight: f32, term: Reward| RewardTerm { weight, term };
    let mut reward = vec![weighted(1.0, Reward::Alive)];
    let mut termination = Vec::new();
    let mut termination_penalty = 0.0;
    if let (Some((link, height)), TaskKind::Stand | TaskKind::Walk) = (base, kind) {
        let link = link.to_string();
        reward = vec![
            weighted(1.0, Reward::Level { link: link.clone(), sharpness: 45.0 }),
            weighted(-10.0, Reward::HeightError { link: link.clone(), target: height }),
            weighted(-0.3, Reward::BodyRates(link.clone())),
            weighted(-0.002, Reward::Power),
        ];
        if kind == TaskKind::Walk {
            reward.push(weighted(2.0, Reward::VelocityTracking { link: link.clone(), target: WALK_SPEED, width: 0.3 }));
            reward.push(weighted(-0.1, Reward::YawRate(link.clone())));
        }
        termination = vec![
            Termination::Tilt { link: link.clone(), max_roll: 30f32.to_radians(), max_pitch: 35f32.to_radians() },
            Termination::HeightOutside { link, min: 0.5 * height, max: 3.0 * height.max(0.1) },
        ];
        // More than a plan can earn over its horizon, so a fall always ranks last.
        termination_penalty = 50.0;
    }
    let task = Task {
        observation,
        reward,
        termination,
        termination_penalty,
        episode_steps: 1000,
        reset_noise: crate::scene::ResetNoise { joint_angle: 0.02, joint_velocity: 0.02 },
        phase: None,
        draw: Vec::new(),
        randomize: None,
        pushes: Vec::new(),
        worlds: Default::default(),
    };
    (task, planner(kind, robot, base.is_some()))
}

/// Planner settings: MPPI around the home pose (a zero mean is the home pose, not the middle
/// of each joint's range), with a trot added for `walk`.
fn planner(kind: TaskKind, robot: &Robot, floating: bool) -> PlannerSettings {
    // Measured on Go1's walk (docs/RESULTS.md): MPPI with the temperature in units of the score
    // spread, small smooth corrections (std 0.1, AR(1) noise 0.5) and one iteration of 16
    // samples over 12 steps. With the absolute temperature 0.5 and white noise of std 0.2 every
    // draw scored below the kept mean, and the planner played the nominal schedule unchanged.
    let mut settings = PlannerSettings {
        horizon: 12,
        samples: 16,
        iterations: 1,
        loss: Loss::MppiRelative { temperature: 1.0 },
        variance_step: 0.0,
        initial_std: 0.1,
        min_std: 0.05,
        noise_correlation: 0.5,
        keep_mean: true,
        // The simulator is deterministic: one particle; no SAC actor or critic in `mpc` mode.
        particles: 1,
        policy_fraction: 0.0,
        training_action: ActionChoice::Mean,
        terminal_value: TerminalChoice::None,
        ..PlannerSettings::default()
    };
    let actuated: Vec<_> = robot.joints.iter().filter(|j| j.actuator.is_actuated()).collect();
    let offset = robot.home_action();
    let mut amplitude = vec![0.0; actuated.len()];
    let mut phase = vec![0.0; actuated.len()];
    if kind == TaskKind::Walk && floating {
        for (k, joint) in actuated.iter().enumerate() {
            let Some((lo, hi)) = joint.target_range() else { continue };
            let Some(role) = trot_role(robot, &joint.name) else { continue };
            let half_span = (hi - lo) / 2.0;
            amplitude[k] = if role.knee { TROT_KNEE_LIFT } else { TROT_HIP_SWING } / half_span;
            // Diagonal pairs move together; knees lift a quarter cycle ahead of the hip swing.
            phase[k] = if role.front == role.left { 0.0 } else { 0.5 } + if role.knee { 0.25 } else { 0.0 };
        }
    }
    let anything = offset.iter().chain(&amplitude).any(|v| *v != 0.0);
    if anything {
        settings.nominal = Some(PeriodicNominal { period_steps: TROT_PERIOD_STEPS, amplitude, phase, offset });
    }
    settings
}

/// Where a sagittal joint sits: which leg, and whether it is the hip (first pitch joint from
/// the base) or the knee (second).
struct TrotRole {
    front: bool,
    left: bool,
    knee: bool,
}

/// The role of `joint` in a trot, if it is a pitch joint (axis along the robot's lateral Z) of
/// a leg that hangs from the base.
fn trot_role(robot: &Robot, joint: &str) -> Option<TrotRole> {
    let base = &robot.links.first()?.name;
    let mut chain = vec![robot.joints.iter().find(|j| j.name == joint)?];
    while let Some(up) = robot.joints.iter().find(|j| j.child == chain.last().expect("non-empty").parent) {
        chain.push(up);
    }
    let top = chain.last()?;
    if &top.parent != base {
        return None;
    }
    let is_pitch = |axis: [f32; 3]| {
        let length = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
        (axis[2] / length).abs() > 0.9
    };
    if !is_pitch(chain[0].axis) {
        return None;
    }
    let pitch_above = chain[1..].iter().filter(|j| is_pitch(j.axis)).count();
    if pitch_above > 1 {
        return None;
    }
    // Y up, X forward: left is −Z.
    Some(TrotRole { front: top.anchor[0] > 0.0, left: top.anchor[2] < 0.0, knee: pitch_above == 1 })
}
