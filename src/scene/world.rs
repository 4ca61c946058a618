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
