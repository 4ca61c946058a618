//! Tasks an imported robot starts with: `none` (observe, stay alive), `stand` (hold the home
//! pose) and `walk` (the quadruped task's terms, planned around a trot at the home pose).

use crate::config::{ActionChoice, Loss, PeriodicNominal, PlannerSettings, TerminalChoice};
use std::collections::BTreeMap;

use crate::scene::{
    Observation, PeriodicPush, PhaseClock, Randomization, Reward, RewardTerm, Robot, Task, Termination, WorldShift,
};

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
/// Control steps per trot cycle (also the period of the task's phase clock).
const TROT_PERIOD_STEPS: u32 = 16;
/// Hip swing and knee lift of the trot, radians.
const TROT_HIP_SWING: f32 = 0.25;
const TROT_KNEE_LIFT: f32 = 0.35;

/// Speed a `pushed` world's push gives the whole robot, m/s (the quadruped scene's 60 N × 3 steps
/// gives its 6.4 kg about 1.1 m/s, which the open-loop trot does not survive).
const PUSH_SPEED: f32 = 1.0;
/// Control steps a push lasts, and control steps between pushes.
const PUSH_STEPS: u32 = 3;
const PUSH_EVERY: u32 = 100;

/// The task and planner settings for `kind` on an imported robot whose floating base is
/// `base` (None: a fixed base) at home height `base_height`, controlled `control_rate` times a
/// second.
pub fn task(kind: TaskKind, robot: &Robot, base: Option<(&str, f32)>, control_rate: f32) -> (Task, PlannerSettings) {
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
    let (mut worlds, mut randomize) = (BTreeMap::new(), None);
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
        (worlds, randomize) = shifted_worlds(robot, base.map(|(link, _)| link), control_rate);
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
        randomize,
        pushes: Vec::new(),
        worlds,
    };
    let planner = planner(kind, robot, base.is_some());
    (with_trot_clock(task, &planner), planner)
}

/// A task whose planner trots observes where in the trot cycle it is (cos and sin of the
/// phase): a residual policy or a learned model that acts around the gait cannot tell the
/// cycle's steps apart from the robot's state alone (`train.gait_residual` requires it).
fn with_trot_clock(mut task: Task, planner: &PlannerSettings) -> Task {
    let trots = planner.nominal.as_ref().is_some_and(|gait| gait.amplitude.iter().any(|a| *a != 0.0));
    if trots {
        task.observation.push(Observation::Phase);
        task.phase = Some(PhaseClock { period_steps: TROT_PERIOD_STEPS });
    }
    task
}

/// The quadruped scene's shifted worlds and randomisation ranges for a walking robot, its push
/// sized to the robot: a force that gives its whole mass `PUSH_SPEED` in `PUSH_STEPS` control
/// steps, on the base. Links given by density count as massless here (imported links carry their
/// file's inertials).
fn shifted_worlds(
    robot: &Robot,
    base: Option<&str>,
    control_rate: f32,
) -> (BTreeMap<String, WorldShift>, Option<Randomization>) {
    let mass: f32 = robot.links.iter().map(|l| l.inertia.as_ref().map_or(l.mass.unwrap_or(0.0), |i| i.mass)).sum();
    let force = (mass * PUSH_SPEED * control_rate / PUSH_STEPS as f32).round();
    let push =
        PeriodicPush { every_steps: PUSH_EVERY, force, duration_steps: PUSH_STEPS, link: base.map(str::to_string) };
    let nominal = WorldShift::default;
    let worlds = BTreeMap::from([
        ("heavy".to_string(), WorldShift { mass_scale: 1.3, ..nominal() }),
        ("slippery".to_string(), WorldShift { friction_scale: 0.5, ..nominal() }),
        ("weak".to_string(), WorldShift { strength_scale: 0.5, gain_scale: 0.7, ..nominal() }),
        ("laggy".to_string(), WorldShift { latency_steps: 2, obs_noise: 0.02, ..nominal() }),
        ("pushed".to_string(), WorldShift { push: Some(push.clone()), ..nominal() }),
    ]);
    let ranges = Randomization {
        mass_scale: (0.8, 1.35),
        friction_scale: (0.45, 1.2),
        strength_scale: (0.65, 1.1),
        gain_scale: (0.8, 1.2),
        joint_damping: (0.0, 0.05),
        latency_steps: (0, 2),
        obs_noise: (0.0, 0.02),
        push: Some(push),
    };
    (worlds, Some(ranges))
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
        let period_steps = TROT_PERIOD_STEPS as f32;
        settings.nominal = Some(PeriodicNominal { period_steps, amplitude, phase, offset });
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
