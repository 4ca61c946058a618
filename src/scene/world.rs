//! How an episode's world may differ from the scene's nominal one (domain randomisation): a
//! [`WorldShift`] (heavier links, slipperier contacts, weaker motors, latency, noisy sensors),
//! fixed as a named world of the task or drawn per episode from a [`Randomization`]'s ranges.

use serde::{Deserialize, Serialize};

/// One world: every field's default is the nominal scene.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WorldShift {
    /// Multiplies every link's mass and rotational inertia (1.3: 30 % heavier).
    pub mass_scale: f32,
    /// Multiplies the friction coefficient of every collider, ground and robot.
    pub friction_scale: f32,
    /// Multiplies the actuators' maximum torque (torque motors) and force (position motors).
    pub strength_scale: f32,
    /// Multiplies the stiffness and damping of position motors.
    pub gain_scale: f32,
    /// Viscous damping added at every actuated joint (N·m·s/rad).
    pub joint_damping: f32,
    /// Control steps between choosing an action and applying it (the first steps of an
    /// episode apply the home action).
    pub latency_steps: u32,
    /// Standard deviation of Gaussian noise added to every observation component.
    pub obs_noise: f32,
    /// Periodic pushes in random horizontal directions (`None`: no pushes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<PeriodicPush>,
}

/// A push every `every_steps` control steps (the first at step `every_steps`): a horizontal
/// force of `force` newtons on `link`'s centre of mass for `duration_steps` steps, its
/// direction drawn per push from the episode's seed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeriodicPush {
    pub every_steps: u32,
    pub force: f32,
    #[serde(default = "one_step")]
    pub duration_steps: u32,
    /// The link pushed (default: the first link, the robot's base).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

fn one_step() -> u32 {
    1
}

/// A push at a given control step of every episode (`task.pushes`): `force` (N, world axes,
/// Y up) on `link`'s centre of mass for `duration_steps` steps, starting before step `step`
/// (0: the episode's first step).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScriptedPush {
    pub step: u32,
    pub link: String,
    pub force: [f32; 3],
    #[serde(default = "one_step")]
    pub duration_steps: u32,
}

impl Default for WorldShift {
    fn default() -> Self {
        WorldShift {
            mass_scale: 1.0,
            friction_scale: 1.0,
            strength_scale: 1.0,
            gain_scale: 1.0,
            joint_damping: 0.0,
            latency_steps: 0,
            obs_noise: 0.0,
            push: None,
        }
    }
}

impl WorldShift {
    /// Whether this is the nominal world.
    pub fn is_nominal(&self) -> bool {
        self == &WorldShift::default()
    }
}

/// Per-episode ranges (both ends included): each episode draws every field uniformly from its
/// range with the episode's seed. A field left out stays nominal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Randomization {
    pub mass_scale: (f32, f32),
    pub friction_scale: (f32, f32),
    pub strength_scale: (f32, f32),
    pub gain_scale: (f32, f32),
    pub joint_damping: (f32, f32),
    pub latency_steps: (u32, u32),
    pub obs_noise: (f32, f32),
    /// Periodic pushes in every drawn world (not drawn: the directions already vary per push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<PeriodicPush>,
}

impl Default for Randomization {
    fn default() -> Self {
        Randomization {
            mass_scale: (1.0, 1.0),
            friction_scale: (1.0, 1.0),
            strength_scale: (1.0, 1.0),
            gain_scale: (1.0, 1.0),
            joint_damping: (0.0, 0.0),
            latency_steps: (0, 0),
            obs_noise: (0.0, 0.0),
            push: None,
        }
    }
}

impl Randomization {
    /// The world at the low (`high = false`) or high end of every range.
    pub fn end(&self, high: bool) -> WorldShift {
        let pick = |(lo, hi): (f32, f32)| if high { hi } else { lo };
        WorldShift {
            mass_scale: pick(self.mass_scale),
            friction_scale: pick(self.friction_scale),
            strength_scale: pick(self.strength_scale),
            gain_scale: pick(self.gain_scale),
            joint_damping: pick(self.joint_damping),
            latency_steps: if high { self.latency_steps.1 } else { self.latency_steps.0 },
            obs_noise: pick(self.obs_noise),
            push: self.push.clone(),
        }
    }
}

/// Latency beyond this many control steps is refused (a second at 50 Hz is not a robot).
pub const MAX_LATENCY_STEPS: u32 = 50;

/// `(field, problem)` for every bad value of a world at `prefix` (`task.worlds.heavy.`).
pub fn world_problems(prefix: &str, w: &WorldShift) -> Vec<(String, String)> {
    let mut bad = Vec::new();
    let positive = [
        ("mass_scale", w.mass_scale),
        ("friction_scale", w.friction_scale),
        ("strength_scale", w.strength_scale),
        ("gain_scale", w.gain_scale),
    ];
    for (name, value) in positive {
        if !(value.is_finite() && value > 0.0) {
            bad.push((format!("{prefix}{name}"), format!("found {value}; expected a finite number above 0")));
        }
    }
    for (name, value) in [("joint_damping", w.joint_damping), ("obs_noise", w.obs_noise)] {
        if !(value.is_finite() && value >= 0.0) {
            bad.push((format!("{prefix}{name}"), format!("found {value}; expected a finite number, 0 or more")));
        }
    }
    if let Some(push) = &w.push {
        push_problems(&format!("{prefix}push."), Some(push.every_steps), push.duration_steps, &[push.force], &mut bad);
    }
    if w.latency_steps > MAX_LATENCY_STEPS {
        bad.push((
            format!("{prefix}latency_steps"),
            format!("found {}; expected at most {MAX_LATENCY_STEPS}", w.latency_steps),
        ));
    }
    bad
}

/// `(field, problem)` for every bad range of a randomisation at `prefix` (`task.randomize.`):
/// both ends must be valid world values, the low end first.
pub fn randomization_problems(prefix: &str, r: &Randomization) -> Vec<(String, String)> {
    let (low, high) = (r.end(false), r.end(true));
    let mut bad = world_problems(prefix, &low);
    let high_only: Vec<(String, String)> =
        world_problems(prefix, &high).into_iter().filter(|(f, _)| !bad.iter().any(|(g, _)| g == f)).collect();
    bad.extend(high_only);
    let ordered = [
        ("mass_scale", r.mass_scale.0 <= r.mass_scale.1),
        ("friction_scale", r.friction_scale.0 <= r.friction_scale.1),
        ("strength_scale", r.strength_scale.0 <= r.strength_scale.1),
        ("gain_scale", r.gain_scale.0 <= r.gain_scale.1),
        ("joint_damping", r.joint_damping.0 <= r.joint_damping.1),
        ("latency_steps", r.latency_steps.0 <= r.latency_steps.1),
        ("obs_noise", r.obs_noise.0 <= r.obs_noise.1),
    ];
    for (name, ok) in ordered {
        if !ok {
            bad.push((format!("{prefix}{name}"), "expected (low, high) with low ≤ high".to_string()));
        }
    }
    bad
}

/// Problems of a push's timing and force at `prefix` (`task.worlds.pushed.push.`); `every`
/// is the period of periodic pushes (None for a scripted one).
pub fn push_problems(
    prefix: &str,
    every: Option<u32>,
    duration_steps: u32,
    force: &[f32],
    bad: &mut Vec<(String, String)>,
) {
    if every == Some(0) {
        bad.push((format!("{prefix}every_steps"), "found 0; expected at least 1".into()));
    }
    let longest = every.unwrap_or(u32::MAX).max(1);
    if duration_steps == 0 || duration_steps > longest {
        let expected = match every {
            Some(_) => format!("expected 1 to {longest} (a push ends before the next)"),
            None => "expected at least 1".to_string(),
        };
        bad.push((format!("{prefix}duration_steps"), format!("found {duration_steps}; {expected}")));
    }
    if let Some(f) = force.iter().find(|f| !f.is_finite() || f.abs() > MAX_PUSH_FORCE) {
        bad.push((
            format!("{prefix}force"),
            format!("found {f}; expected a finite force of at most {MAX_PUSH_FORCE} N"),
        ));
    }
}

/// Forces beyond this (N) are refused: no robot of these scenes survives them.
pub const MAX_PUSH_FORCE: f32 = 1.0e5;
