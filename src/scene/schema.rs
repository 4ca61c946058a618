//! The scene file format: robot, task and default algorithm settings, as plain serde types.
//!
//! Coordinates are Bevy's: Y is up, X is forward, planar robots move in the X–Y plane.
//! Every struct rejects unknown fields; ranges are checked afterwards by `validate`.

use crate::config::{ModeDefaults, PlannerSettings, RunMode, TrainSettings};
use serde::{Deserialize, Serialize};

/// One scene file: what to simulate, what to reward, and how to plan by default.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// Short name shown in the studio.
    pub name: String,
    /// One or two sentences for the scene picker.
    #[serde(default)]
    pub description: String,
    pub physics: Physics,
    pub robot: Robot,
    pub task: Task,
    /// Default planner settings; fields left out take the `reference` preset's values.
    #[serde(default)]
    pub planner: PlannerSettings,
    /// Each learning mode's defaults on this scene (the recorded settings that work); a mode
    /// left out runs [`RunMode::generic_defaults`].
    #[serde(default)]
    pub learning: LearningDefaults,
    /// The scene file's folder and the collision meshes read from it (not part of the file).
    #[serde(skip)]
    pub assets: super::SceneAssets,
}

impl Scene {
    /// What `mode` runs on this scene when nothing else is said: the scene's `learning:` entry
    /// for it, else the mode's generic defaults. `train`, `compare`, the studio and saves all
    /// start here.
    pub fn defaults(&self, mode: RunMode) -> ModeDefaults {
        let generic = mode.generic_defaults(&self.planner);
        let recorded = match mode {
            RunMode::Sac => self.learning.sac.as_ref(),
            RunMode::MpcLearned => self.learning.mpc_learned.as_ref(),
            RunMode::Demorl => self.learning.demorl.as_ref(),
            RunMode::MpcSimulator => None,
        };
        match recorded {
            Some(entry) => ModeDefaults {
                steps: entry.steps,
                train: entry.train.clone(),
                planner: entry.planner.clone().unwrap_or(generic.planner),
            },
            None => generic,
        }
    }
}

/// Per-learning-mode defaults a scene records (the planner section above serves `mpc` with the
/// simulator model).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LearningDefaults {
    pub sac: Option<LearningEntry>,
    /// `mpc` with the learned model (PETS-like).
    pub mpc_learned: Option<LearningEntry>,
    pub demorl: Option<LearningEntry>,
}

/// One learning mode's recorded defaults on a scene.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LearningEntry {
    /// Env steps of a run.
    pub steps: u64,
    /// The learning schedule and learners, in full (fields left out take
    /// `TrainSettings::default()`'s values, not the mode's generic ones).
    pub train: TrainSettings,
    /// Planner settings; left out: the mode's generic ones (SAC never plans).
    #[serde(default)]
    pub planner: Option<PlannerSettings>,
}

impl LearningDefaults {
    /// The entries present, with their field names.
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, &LearningEntry)> {
        [("sac", &self.sac), ("mpc_learned", &self.mpc_learned), ("demorl", &self.demorl)]
            .into_iter()
            .filter_map(|(name, entry)| entry.as_ref().map(|d| (name, d)))
    }
}

/// World-wide physics settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Physics {
    /// Gravity vector in m/s².
    #[serde(default = "default_gravity")]
    pub gravity: [f32; 3],
    /// Control steps per second (the agent acts at this rate).
    pub control_rate: f32,
    /// Physics steps per control step.
    pub substeps: u32,
    /// Rapier solver iterations per physics step.
    #[serde(default = "default_solver_iterations")]
    pub solver_iterations: u32,
    /// A flat ground at height 0, if present.
    #[serde(default)]
    pub ground: Option<Ground>,
    /// Constrain every link to the X–Y plane (translation in Z and rotation about X and Y locked).
    #[serde(default)]
    pub planar: bool,
    /// A coarser physics for the planner's simulator model: its copies step with these substeps
    /// and solver iterations while the executed env keeps the ones above, so a plan costs less
    /// and predicts slightly differently (docs/BENCHMARKS.md, "Real-time simulator MPC").
    /// Default: none, the planner simulates exactly what runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planning: Option<PlanningPhysics>,
}

/// The physics resolution of the planner's simulator copies (`physics.planning`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlanningPhysics {
    /// Physics steps per control step in planning copies.
    pub substeps: u32,
    /// Rapier solver iterations per physics step in planning copies.
    pub solver_iterations: u32,
}

fn default_gravity() -> [f32; 3] {
    [0.0, -9.81, 0.0]
}
fn default_solver_iterations() -> u32 {
    4
}

/// The ground plane's contact material.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ground {
    #[serde(default = "default_friction")]
    pub friction: f32,
}

fn default_friction() -> f32 {
    1.0
}

/// The robot: rigid links joined by revolute joints, plus named points ("sites") on links.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Robot {
    pub links: Vec<Link>,
    #[serde(default)]
    pub joints: Vec<Joint>,
    #[serde(default)]
    pub sites: Vec<Site>,
}

/// One rigid link, placed at its pose in the zero configuration (all joint angles 0).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub name: String,
    /// A collision shape at the link frame (hand-written scenes); `shapes` holds placed ones.
    #[serde(default)]
    pub shape: Option<Shape>,
    /// Collision shapes placed in the link frame (imported robots have several per link).
    #[serde(default)]
    pub shapes: Vec<PlacedShape>,
    /// Total mass in kg, spread over the shapes (give one of `mass`, `density`, `inertia`).
    #[serde(default)]
    pub mass: Option<f32>,
    /// Density in kg/m³ of the shapes (give one of `mass`, `density`, `inertia`).
    #[serde(default)]
    pub density: Option<f32>,
    /// Explicit mass, centre of mass and inertia tensor (imported robots); the shapes then
    /// carry no mass of their own.
    #[serde(default)]
    pub inertia: Option<Inertia>,
    /// Meshes drawn for the link (not simulated); a missing file is drawn as the collision shapes.
    #[serde(default)]
    pub visuals: Vec<VisualMesh>,
    /// World position of the link frame in the zero configuration, metres.
    #[serde(default)]
    pub position: [f32; 3],
    /// World rotation of the link frame in the zero configuration, XYZ Euler angles in radians.
    #[serde(default)]
    pub rotation: [f32; 3],
    /// A fixed link does not move (a pendulum's pivot, a leg's hip mount).
    #[serde(default)]
    pub fixed: bool,
    /// Contact friction coefficient.
    #[serde(default = "default_friction")]
    pub friction: f32,
    /// Display colour, RGB in [0, 1].
    #[serde(default = "default_colour")]
    pub colour: [f32; 3],
}

impl Link {
    /// Every collision shape with its placement in the link frame, `shape` first.
    pub fn placed_shapes(&self) -> impl Iterator<Item = PlacedShape> + '_ {
        let at_origin = self.shape.iter().map(|shape| PlacedShape { shape: shape.clone(), ..PlacedShape::default() });
        at_origin.chain(self.shapes.iter().cloned())
    }
}

/// A collision shape placed in its link's frame.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlacedShape {
    pub shape: Shape,
    /// Position in the link frame, metres.
    #[serde(default)]
    pub position: [f32; 3],
    /// Rotation in the link frame, XYZ Euler angles in radians.
    #[serde(default)]
    pub rotation: [f32; 3],
    /// Contact friction of this shape; left out: the link's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friction: Option<f32>,
}

impl Default for PlacedShape {
    fn default() -> Self {
        PlacedShape { shape: Shape::Sphere { radius: 0.0 }, position: [0.0; 3], rotation: [0.0; 3], friction: None }
    }
}

/// Mass properties in the link frame: the inertia tensor about the centre of mass is
/// `R · [[ixx, ixy, ixz], [ixy, iyy, iyz], [ixz, iyz, izz]] · Rᵀ` with R from `rotation`
/// (URDF gives the full tensor, MJCF diagonal moments and a frame).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inertia {
    /// kg.
    pub mass: f32,
    /// Centre of mass in the link frame, metres.
    #[serde(default)]
    pub centre: [f32; 3],
    /// (ixx, iyy, izz) in kg·m².
    pub moments: [f32; 3],
    /// (ixy, ixz, iyz) in kg·m².
    #[serde(default)]
    pub products: [f32; 3],
    /// The tensor's frame in the link frame, XYZ Euler angles in radians.
    #[serde(default)]
    pub rotation: [f32; 3],
}

/// A mesh drawn for a link, placed in the link frame.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VisualMesh {
    /// An .stl or .obj file, relative to the scene file's folder.
    pub file: String,
    #[serde(default)]
    pub position: [f32; 3],
    /// XYZ Euler angles in radians.
    #[serde(default)]
    pub rotation: [f32; 3],
    /// Per-axis scale (meshes in millimetres use 0.001).
    #[serde(default = "unit_scale")]
    pub scale: [f32; 3],
    /// RGB in [0, 1]; left out: the link's colour.
    #[serde(default)]
    pub colour: Option<[f32; 3]>,
}

pub(crate) fn unit_scale() -> [f32; 3] {
    [1.0; 3]
}

fn default_colour() -> [f32; 3] {
    [0.8, 0.55, 0.3]
}

/// Collision and visual shape of a link, in the link's local frame.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum Shape {
    /// Box with the given half extents.
    Box {
        half_extents: [f32; 3],
    },
    Sphere {
        radius: f32,
    },
    /// Capsule around the segment `from`–`to`.
    Capsule {
        from: [f32; 3],
        to: [f32; 3],
        radius: f32,
    },
    /// Cylinder along the local Y axis.
    Cylinder {
        half_height: f32,
        radius: f32,
    },
    /// The convex hull of a mesh file's vertices (relative to the scene file's folder), scaled.
    ConvexMesh {
        file: String,
        #[serde(default = "unit_scale")]
        scale: [f32; 3],
    },
}

/// A revolute joint between two links.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Joint {
    pub name: String,
    pub parent: String,
    pub child: String,
    /// World position of the hinge in the zero configuration.
    pub anchor: [f32; 3],
    /// World direction of the hinge axis in the zero configuration (normalised on load).
    pub axis: [f32; 3],
    /// Angle limits in radians `(lo, hi)`, measured from the zero configuration.
    #[serde(default)]
    pub limits: Option<(f32, f32)>,
    /// Angle at reset (the home pose), radians from the zero configuration.
    #[serde(default)]
    pub home: f32,
    #[serde(default)]
    pub actuator: Actuator,
    /// Passive spring-damper towards angle 0 (MuJoCo's joint stiffness and damping), solved
    /// implicitly; not allowed with a Position actuator, which already is one.
    #[serde(default)]
    pub spring: Option<Spring>,
}

/// Passive joint stiffness (N·m/rad) and damping (N·m·s/rad).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spring {
    pub stiffness: f32,
    pub damping: f32,
}

/// How an action in [-1, 1] drives a joint.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum Actuator {
    /// Passive joint: not part of the action vector.
    #[default]
    None,
    /// Action × `max_torque` is applied as a torque (N·m).
    Torque { max_torque: f32 },
    /// Action maps linearly onto `range` (default: the joint limits) as a position target for
    /// a PD motor (MuJoCo's `<position>` with its `ctrlrange`).
    Position {
        stiffness: f32,
        damping: f32,
        max_force: f32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        range: Option<(f32, f32)>,
    },
}

impl Actuator {
    /// Whether the joint takes a component of the action vector.
    pub fn is_actuated(&self) -> bool {
        !matches!(self, Actuator::None)
    }
}

impl Joint {
    /// The position targets a Position actuator's actions span: its `range`, else the limits.
    pub fn target_range(&self) -> Option<(f32, f32)> {
        match self.actuator {
            Actuator::Position { range: Some(range), .. } => Some(range),
            Actuator::Position { range: None, .. } => self.limits,
            _ => None,
        }
    }

    /// The action component that holds this joint at `angle`: a position target for Position
    /// actuators (clipped to the range), no torque for Torque ones.
    pub fn action_holding(&self, angle: f32) -> f32 {
        match self.target_range() {
            Some((lo, hi)) => (2.0 * (angle - lo) / (hi - lo) - 1.0).clamp(-1.0, 1.0),
            None => 0.0,
        }
    }
}

impl Robot {
    /// Length of the action vector: one component per actuated joint, in joint order.
    pub fn action_dim(&self) -> usize {
        self.joints.iter().filter(|j| j.actuator.is_actuated()).count()
    }

    /// The action that holds every joint at its home angle (what "stand still" means).
    pub fn home_action(&self) -> Vec<f32> {
        self.joints.iter().filter(|j| j.actuator.is_actuated()).map(|j| j.action_holding(j.home)).collect()
    }
}

/// A named point on a link (a foot, a torso centre), used by rewards and drawn in plan traces.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub name: String,
    pub link: String,
    /// Position in the link's local frame.
    #[serde(default)]
    pub offset: [f32; 3],
}

/// What the agent observes, what it is rewarded for, and when an episode ends.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Observation terms, concatenated in order.
    pub observation: Vec<Observation>,
    /// Reward = Σ weight × term.
    pub reward: Vec<RewardTerm>,
    #[serde(default)]
    pub termination: Vec<Termination>,
    /// Subtracted from the reward of the step on which a termination condition holds. Without
    /// it, a planner whose rewards are positive sees a fall only as the few rewards it forfeits
    /// inside its horizon, and may trade a fall for a little more reward just before it.
    #[serde(default)]
    pub termination_penalty: f32,
    /// Control steps before the episode is truncated.
    pub episode_steps: u32,
    #[serde(default)]
    pub reset_noise: ResetNoise,
    /// A clock φ advancing 2π per period, for periodic tasks.
    #[serde(default)]
    pub phase: Option<PhaseClock>,
    /// Sites whose planned paths the studio draws (defaults to every site).
    #[serde(default)]
    pub draw: Vec<String>,
    /// Domain randomisation: ranges each training episode's world is drawn from (off: `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub randomize: Option<super::Randomization>,
    /// Pushes at given steps of every episode, for repeatable demos (`[(step: 100, link:
    /// "torso", force: (0.0, 0.0, 40.0), duration_steps: 5)]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pushes: Vec<super::ScriptedPush>,
    /// Named shifted worlds to evaluate in (`heavy: (mass_scale: 1.3)`).
    #[serde(
        default,
        skip_serializing_if = "std::collections::BTreeMap::is_empty",
        deserialize_with = "crate::format::unique_keys"
    )]
    pub worlds: std::collections::BTreeMap<String, super::WorldShift>,
}

/// One observation term.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum Observation {
    /// Angle of every joint (radians).
    JointAngles,
    /// cos and sin of every joint angle.
    JointAnglesCosSin,
    /// Angular velocity of every joint (rad/s).
    JointVelocities,
    /// Height (Y) of a link's frame.
    LinkHeight(String),
    /// Rotation of a link about the Z axis (planar robots), radians.
    LinkPlanarAngle(String),
    /// Linear X, Y velocity and angular Z velocity of a link (planar robots).
    LinkPlanarVelocity(String),
    /// Link orientation as roll, pitch, yaw (radians).
    LinkOrientation(String),
    /// Linear velocity of a link in world axes.
    LinkVelocity(String),
    /// Angular velocity of a link in world axes.
    LinkAngularVelocity(String),
    /// cos φ and sin φ of the task clock.
    Phase,
}

/// A weighted reward term.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RewardTerm {
    pub weight: f32,
    pub term: Reward,
}

/// Reward term kinds; each evaluates to a plain number that the weight scales.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum Reward {
    /// Square of a joint's angle wrapped to [-π, π].
    JointAngleSquared(String),
    /// Square of a joint's angular velocity.
    JointVelocitySquared(String),
    /// Σ a² over the normalised actions in [-1, 1].
    ActionSquared,
    /// Σ τ² over actuator torques in N·m.
    EffortSquared,
    /// X displacement of a link over the control step divided by the step time.
    ForwardVelocity(String),
    /// 1 every step (alive bonus).
    Alive,
    /// exp(-sharpness · ‖foot − path(φ)‖) for the paper's 2R-leg foot path around `origin`.
    FootPath { site: String, origin: [f32; 3], half_width: f32, height: f32, lift: f32, sharpness: f32 },
    /// Cosine between the link's up axis and the world up axis.
    Upright(String),
    /// ½·(exp(−k·roll²) + exp(−k·pitch²)) with k = `sharpness`: 1 when the link is level. The
    /// Stoch environments' posture reward (k = 45); unlike `Upright`, it drops steeply away from level.
    Level { link: String, sharpness: f32 },
    /// Squared error between a link's height and `target`.
    HeightError { link: String, target: f32 },
    /// exp(-((v_x − target)/width)²) on a link's forward velocity.
    VelocityTracking { link: String, target: f32, width: f32 },
    /// Squared yaw rate (angular velocity about world Y).
    YawRate(String),
    /// Squared roll and pitch rates (angular velocity about world X and Z).
    BodyRates(String),
    /// Σ |τ · q̇| mechanical power over actuated joints, in W.
    Power,
}

/// Conditions that end an episode (terminated, not truncated).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum Termination {
    /// Link height leaves `(min, max)`.
    HeightOutside { link: String, min: f32, max: f32 },
    /// Link rotation about Z leaves `(min, max)` radians.
    PlanarAngleOutside { link: String, min: f32, max: f32 },
    /// |roll| or |pitch| exceeds the limits (radians).
    Tilt { link: String, max_roll: f32, max_pitch: f32 },
}

/// Uniform noise added at reset, as half-widths.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResetNoise {
    /// Joint angles, radians.
    #[serde(default)]
    pub joint_angle: f32,
    /// Joint velocities, rad/s.
    #[serde(default)]
    pub joint_velocity: f32,
}

/// A periodic task clock.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PhaseClock {
    /// Control steps per full cycle.
    pub period_steps: u32,
}
