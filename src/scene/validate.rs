//! Range and reference checks on a parsed scene; each problem names its field path.

use std::collections::{HashMap, HashSet};

use super::schema::*;
use crate::config::{PlannerSettings, SettingsError, learning_problems};
use crate::format::Problem;

// Plausibility bounds, generous for robots but tight enough that the physics engine stays in
// its working range (the loader fuzz test found contact queries panicking on 1e30 m capsules).
/// Link positions and joint anchors, in metres from the origin.
const MAX_COORDINATE: f32 = 100.0;
/// Shape dimensions and offsets within a link, in metres.
const MAX_SIZE: f32 = 10.0;
const MIN_SIZE: f32 = 1e-3;
/// Gravity components, m/s².
const MAX_GRAVITY: f32 = 100.0;
const MAX_FRICTION: f32 = 100.0;
/// Link mass in kg and density in kg/m³.
const MAX_MASS: f32 = 1e4;
const MAX_DENSITY: f32 = 1e5;
/// Moments and products of inertia, kg·m².
const MAX_INERTIA: f64 = 1e4;
/// Torques, forces, stiffnesses and dampings.
const MAX_GAIN: f32 = 1e6;

/// Collects problems with their field paths.
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(field, message));
    }

    fn positive(&mut self, field: impl Into<String>, value: f32) {
        if !(value.is_finite() && value > 0.0) {
            self.fail(field, format!("expected a positive finite number, found {value}"));
        }
    }

    fn non_negative(&mut self, field: impl Into<String>, value: f32) {
        if !(value.is_finite() && value >= 0.0) {
            self.fail(field, format!("expected a finite number >= 0, found {value}"));
        }
    }

    fn finite(&mut self, field: impl Into<String>, values: &[f32]) {
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            self.fail(field, format!("expected finite numbers, found {bad}"));
        }
    }

    /// Coordinates in metres: finite and inside the box the physics engine handles well (far-out
    /// or huge values make its contact queries fail).
    fn coordinates(&mut self, field: impl Into<String>, values: &[f32], limit: f32) {
        if let Some(bad) = values.iter().find(|v| !(v.is_finite() && v.abs() <= limit)) {
            self.fail(field, format!("expected finite coordinates within ±{limit} m, found {bad}"));
        }
    }

    /// A positive physical quantity no larger than `max` (sizes, masses, gains).
    fn positive_at_most(&mut self, field: impl Into<String>, value: f32, max: f32) {
        if !(value.is_finite() && value > 0.0 && value <= max) {
            self.fail(field, format!("expected a positive number at most {max}, found {value}"));
        }
    }

    /// A non-negative physical quantity no larger than `max`.
    fn non_negative_at_most(&mut self, field: impl Into<String>, value: f32, max: f32) {
        if !(value.is_finite() && (0.0..=max).contains(&value)) {
            self.fail(field, format!("expected a number in [0, {max}], found {value}"));
        }
    }

    /// A shape dimension in metres.
    fn size(&mut self, field: impl Into<String>, value: f32) {
        if !(value.is_finite() && (MIN_SIZE..=MAX_SIZE).contains(&value)) {
            self.fail(field, format!("expected a positive size in [{MIN_SIZE}, {MAX_SIZE}] m, found {value}"));
        }
    }

    fn in_range(&mut self, field: impl Into<String>, value: u32, lo: u32, hi: u32) {
        if !(lo..=hi).contains(&value) {
            self.fail(field, format!("expected a whole number in [{lo}, {hi}], found {value}"));
        }
    }

    fn known(&mut self, field: impl Into<String>, name: &str, names: &HashSet<&str>, what: &str) {
        if !names.contains(name) {
            let mut known: Vec<_> = names.iter().copied().collect();
            known.sort_unstable();
            self.fail(field, format!("no {what} named \"{name}\" (known: {})", known.join(", ")));
        }
    }
}

/// All problems of `scene`, in file order as far as practical.
pub fn validate(scene: &Scene) -> Vec<Problem> {
    let mut c = Checker { problems: Vec::new() };
    if scene.name.trim().is_empty() {
        c.fail("name", "expected a non-empty scene name");
    }
    physics(&mut c, &scene.physics);
    let links = robot(&mut c, &scene.robot);
    task(&mut c, scene, &links);
    planner(&mut c, "", &scene.planner, scene.robot.action_dim());
    for (mode, defaults) in scene.learning.entries() {
        let prefix = format!("learning.{mode}.");
        if let Some(settings) = &defaults.planner {
            planner(&mut c, &prefix, settings, scene.robot.action_dim());
        }
        c.problems.extend(learning_problems(&defaults.train, &prefix));
        if defaults.steps == 0 {
            c.fail(format!("{prefix}steps"), "expected at least 1 env step");
        }
    }
    c.problems
}

/// Problems of planner settings at `{prefix}planner` (a scene's own, or a learning mode's).
fn planner(c: &mut Checker, prefix: &str, settings: &PlannerSettings, action_dim: usize) {
    for error in settings.errors() {
        match error {
            SettingsError::OutOfRange { field, value, range } => {
                c.fail(format!("{prefix}{field}"), format!("found {value}; expected {range}"))
            }
            other => c.fail(format!("{prefix}planner"), other.to_string()),
        }
    }
    if let Some(nominal) = &settings.nominal
        && let Err(error) = nominal.fits(action_dim)
    {
        c.fail(format!("{prefix}planner.nominal"), error.to_string());
    }
}

fn physics(c: &mut Checker, p: &Physics) {
    c.coordinates("physics.gravity", &p.gravity, MAX_GRAVITY);
    if !(p.control_rate.is_finite() && p.control_rate > 0.0 && p.control_rate <= 10_000.0) {
        c.fail("physics.control_rate", format!("expected steps per second in (0, 10000], found {}", p.control_rate));
    }
    c.in_range("physics.substeps", p.substeps, 1, 1000);
    c.in_range("physics.solver_iterations", p.solver_iterations, 1, 100);
    if let Some(planning) = &p.planning {
        c.in_range("physics.planning.substeps", planning.substeps, 1, 1000);
        c.in_range("physics.planning.solver_iterations", planning.solver_iterations, 1, 100);
    }
    if let Some(ground) = &p.ground {
        c.non_negative_at_most("physics.ground.friction", ground.friction, MAX_FRICTION);
    }
}

/// Checks the robot; returns the link names for the task's references.
fn robot<'a>(c: &mut Checker, r: &'a Robot) -> HashSet<&'a str> {
    if r.links.is_empty() {
        c.fail("robot.links", "expected at least one link");
    }
    let mut names = HashSet::new();
    for (i, link) in r.links.iter().enumerate() {
        let at = format!("robot.links[{i}]");
        if !names.insert(link.name.as_str()) {
            c.fail(format!("{at}.name"), format!("link name \"{}\" is used twice", link.name));
        }
        link_mass(c, &at, link);
        c.coordinates(format!("{at}.position"), &link.position, MAX_COORDINATE);
        c.finite(format!("{at}.rotation"), &link.rotation);
        c.non_negative_at_most(format!("{at}.friction"), link.friction, MAX_FRICTION);
        if link.colour.iter().any(|v| !(0.0..=1.0).contains(v)) {
            c.fail(format!("{at}.colour"), "expected RGB components in [0, 1]");
        }
    }
    if !r.links.is_empty() && r.links.iter().all(|l| l.fixed) {
        c.fail("robot.links", "every link is fixed: nothing can move");
    }
    joints(c, r, &names);
    let mut site_names = HashSet::new();
    for (i, site) in r.sites.iter().enumerate() {
        let at = format!("robot.sites[{i}]");
        if !site_names.insert(site.name.as_str()) {
            c.fail(format!("{at}.name"), format!("site name \"{}\" is used twice", site.name));
        }
        c.known(format!("{at}.link"), &site.link, &names, "link");
        c.coordinates(format!("{at}.offset"), &site.offset, MAX_SIZE);
    }
    names
}

/// Shapes, mass and drawn meshes of one link at `at`.
fn link_mass(c: &mut Checker, at: &str, link: &Link) {
    if let Some(s) = &link.shape {
        shape(c, &format!("{at}.shape"), s);
    }
    for (k, placed) in link.shapes.iter().enumerate() {
        let at = format!("{at}.shapes[{k}]");
        shape(c, &format!("{at}.shape"), &placed.shape);
        c.coordinates(format!("{at}.position"), &placed.position, MAX_SIZE);
        c.finite(format!("{at}.rotation"), &placed.rotation);
        if let Some(friction) = placed.friction {
            c.non_negative_at_most(format!("{at}.friction"), friction, MAX_FRICTION);
        }
    }
    let has_shapes = link.shape.is_some() || !link.shapes.is_empty();
    match (link.mass, link.density, &link.inertia) {
        (Some(mass), None, None) => c.positive_at_most(format!("{at}.mass"), mass, MAX_MASS),
        (None, Some(density), None) => c.positive_at_most(format!("{at}.density"), density, MAX_DENSITY),
        (None, None, Some(inertia)) => self::inertia(c, &format!("{at}.inertia"), inertia),
        (None, None, None) => c.fail(at, "expected `mass` (kg), `density` (kg/m³) or `inertia`"),
        (_, density, _) => {
            let second = if density.is_some() { "density" } else { "inertia" };
            c.fail(format!("{at}.{second}"), "give one of `mass`, `density` and `inertia`, not several")
        }
    }
    if !has_shapes && link.inertia.is_none() {
        c.fail(at, "a link without collision shapes needs an `inertia` (its mass cannot come from shapes)");
    }
    for (k, visual) in link.visuals.iter().enumerate() {
        let at = format!("{at}.visuals[{k}]");
        if visual.file.trim().is_empty() {
            c.fail(format!("{at}.file"), "expected a mesh file name");
        }
        c.coordinates(format!("{at}.position"), &visual.position, MAX_SIZE);
        c.finite(format!("{at}.rotation"), &visual.rotation);
        scale(c, &format!("{at}.scale"), &visual.scale);
        if visual.colour.is_some_and(|rgb| rgb.iter().any(|v| !(0.0..=1.0).contains(v))) {
            c.fail(format!("{at}.colour"), "expected RGB components in [0, 1]");
        }
    }
}

/// An explicit inertia: positive mass, a finite positive-definite tensor whose diagonal
/// satisfies the triangle inequality (as every rigid body's does, in any frame).
fn inertia(c: &mut Checker, at: &str, inertia: &Inertia) {
    c.positive_at_most(format!("{at}.mass"), inertia.mass, MAX_MASS);
    c.coordinates(format!("{at}.centre"), &inertia.centre, MAX_SIZE);
    c.finite(format!("{at}.rotation"), &inertia.rotation);
    let [ixx, iyy, izz] = inertia.moments.map(f64::from);
    let [ixy, ixz, iyz] = inertia.products.map(f64::from);
    let all = [ixx, iyy, izz, ixy, ixz, iyz];
    if all.iter().any(|v| !v.is_finite() || v.abs() > MAX_INERTIA) {
        c.fail(format!("{at}.moments"), format!("expected finite moments and products within ±{MAX_INERTIA} kg·m²"));
        return;
    }
    let minor2 = ixx * iyy - ixy * ixy;
    let det = ixx * (iyy * izz - iyz * iyz) - ixy * (ixy * izz - iyz * ixz) + ixz * (ixy * iyz - iyy * ixz);
    if !(ixx > 0.0 && minor2 > 0.0 && det > 0.0) {
        c.fail(format!("{at}.moments"), "the inertia tensor is not positive definite");
    }
    // A relative slack for values rounded in the source file.
    let slack = 1e-4 * (ixx + iyy + izz);
    if ixx + iyy + slack < izz || iyy + izz + slack < ixx || ixx + izz + slack < iyy {
        c.fail(
            format!("{at}.moments"),
            format!("moments ({ixx}, {iyy}, {izz}) break the triangle inequality (A + B ≥ C)"),
        );
    }
}

fn scale(c: &mut Checker, at: &str, scale: &[f32; 3]) {
    if scale.iter().any(|v| !(v.is_finite() && v.abs() >= 1e-6 && v.abs() <= 1e3)) {
        c.fail(at, format!("expected scale factors with magnitude in [1e-6, 1000], found {scale:?}"));
    }
}

fn shape(c: &mut Checker, at: &str, shape: &Shape) {
    match shape {
        Shape::Box { half_extents } => {
            for (axis, v) in ["x", "y", "z"].iter().zip(half_extents) {
                if !(v.is_finite() && *v >= MIN_SIZE && *v <= MAX_SIZE) {
                    c.fail(
                        format!("{at}.half_extents"),
                        format!("half extent {axis} must be a positive size in [{MIN_SIZE}, {MAX_SIZE}] m, found {v}"),
                    );
                }
            }
        }
        Shape::Sphere { radius } => c.size(format!("{at}.radius"), *radius),
        Shape::Capsule { from, to, radius } => {
            c.coordinates(format!("{at}.from"), from, MAX_SIZE);
            c.coordinates(format!("{at}.to"), to, MAX_SIZE);
            c.size(format!("{at}.radius"), *radius);
        }
        Shape::Cylinder { half_height, radius } => {
            c.size(format!("{at}.half_height"), *half_height);
            c.size(format!("{at}.radius"), *radius);
        }
        Shape::ConvexMesh { file, scale: factors } => {
            if file.trim().is_empty() {
                c.fail(format!("{at}.file"), "expected a mesh file name");
            }
            scale(c, &format!("{at}.scale"), factors);
        }
    }
}

/// Joint angles `(lo, hi)`: ordered, and inside [-π, π] where joint angles are measured.
fn angle_range(c: &mut Checker, at: &str, (lo, hi): (f32, f32)) {
    let pi = std::f32::consts::PI;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        c.fail(at, format!("expected (lo, hi) with lo < hi, found ({lo}, {hi})"));
    } else if lo < -pi || hi > pi {
        c.fail(at, format!("angles must lie in [-π, π], found ({lo}, {hi})"));
    }
}

fn joints(c: &mut Checker, r: &Robot, links: &HashSet<&str>) {
    let fixed: HashSet<&str> = r.links.iter().filter(|l| l.fixed).map(|l| l.name.as_str()).collect();
    let mut names = HashSet::new();
    let mut parent_of: HashMap<&str, &str> = HashMap::new();
    let mut actuated = 0;
    for (i, joint) in r.joints.iter().enumerate() {
        let at = format!("robot.joints[{i}]");
        if !names.insert(joint.name.as_str()) {
            c.fail(format!("{at}.name"), format!("joint name \"{}\" is used twice", joint.name));
        }
        c.known(format!("{at}.parent"), &joint.parent, links, "link");
        c.known(format!("{at}.child"), &joint.child, links, "link");
        if joint.parent == joint.child {
            c.fail(format!("{at}.child"), "a joint cannot connect a link to itself");
        }
        if fixed.contains(joint.child.as_str()) {
            c.fail(format!("{at}.child"), format!("link \"{}\" is fixed and cannot be a joint's child", joint.child));
        }
        if parent_of.insert(joint.child.as_str(), joint.parent.as_str()).is_some() {
            c.fail(
                format!("{at}.child"),
                format!("link \"{}\" already has a parent joint (the robot must be a tree)", joint.child),
            );
        }
        c.coordinates(format!("{at}.anchor"), &joint.anchor, MAX_COORDINATE);
        let length = joint.axis.iter().map(|v| v * v).sum::<f32>().sqrt();
        if !(length.is_finite() && length > 1e-6) {
            c.fail(format!("{at}.axis"), "expected a non-zero finite direction");
        }
        if let Some(limits) = joint.limits {
            angle_range(c, &format!("{at}.limits"), limits);
        }
        if let Some(spring) = &joint.spring {
            c.non_negative_at_most(format!("{at}.spring.stiffness"), spring.stiffness, MAX_GAIN);
            c.non_negative_at_most(format!("{at}.spring.damping"), spring.damping, MAX_GAIN);
            if matches!(joint.actuator, Actuator::Position { .. }) {
                c.fail(format!("{at}.spring"), "a Position actuator already is a spring: remove `spring`");
            }
        }
        match &joint.actuator {
            Actuator::None => {}
            Actuator::Torque { max_torque } => {
                actuated += 1;
                c.positive_at_most(format!("{at}.actuator.max_torque"), *max_torque, MAX_GAIN);
            }
            Actuator::Position { stiffness, damping, max_force, range } => {
                actuated += 1;
                c.non_negative_at_most(format!("{at}.actuator.stiffness"), *stiffness, MAX_GAIN);
                c.non_negative_at_most(format!("{at}.actuator.damping"), *damping, MAX_GAIN);
                c.positive_at_most(format!("{at}.actuator.max_force"), *max_force, MAX_GAIN);
                match range {
                    Some(range) => angle_range(c, &format!("{at}.actuator.range"), *range),
                    None if joint.limits.is_none() => c.fail(
                        format!("{at}.limits"),
                        "a Position actuator needs joint limits or a `range` (the action maps onto them)",
                    ),
                    None => {}
                }
            }
        }
        if !joint.home.is_finite() {
            c.fail(format!("{at}.home"), format!("expected a finite angle, found {}", joint.home));
        } else if let Some((lo, hi)) = joint.limits
            && !(lo..=hi).contains(&joint.home)
        {
            c.fail(format!("{at}.home"), format!("home angle {} lies outside the limits ({lo}, {hi})", joint.home));
        }
    }
    // A cycle would make some link its own ancestor.
    for start in parent_of.keys() {
        let mut link = *start;
        for _ in 0..=parent_of.len() {
            match parent_of.get(link) {
                Some(parent) if parent == start => {
                    c.fail("robot.joints", format!("the joints form a loop through link \"{start}\""));
                    return;
                }
                Some(parent) => link = parent,
                None => break,
            }
        }
    }
    if actuated == 0 {
        c.fail("robot.joints", "expected at least one actuated joint (Torque or Position actuator)");
    }
}

fn task(c: &mut Checker, scene: &Scene, links: &HashSet<&str>) {
    let t = &scene.task;
    let joints: HashSet<&str> = scene.robot.joints.iter().map(|j| j.name.as_str()).collect();
    let sites: HashSet<&str> = scene.robot.sites.iter().map(|s| s.name.as_str()).collect();
    if t.observation.is_empty() {
        c.fail("task.observation", "expected at least one observation term");
    }
    for (i, term) in t.observation.iter().enumerate() {
        let at = format!("task.observation[{i}]");
        match term {
            Observation::LinkHeight(link)
            | Observation::LinkPlanarAngle(link)
            | Observation::LinkPlanarVelocity(link)
            | Observation::LinkOrientation(link)
            | Observation::LinkVelocity(link)
            | Observation::LinkAngularVelocity(link) => c.known(at, link, links, "link"),
            Observation::Phase if t.phase.is_none() => c.fail(at, "the Phase observation needs `task.phase`"),
            _ => {}
        }
    }
    if t.reward.is_empty() {
        c.fail("task.reward", "expected at least one reward term");
    }
    for (i, term) in t.reward.iter().enumerate() {
        let at = format!("task.reward[{i}]");
        c.finite(format!("{at}.weight"), &[term.weight]);
        let at = format!("{at}.term");
        match &term.term {
            Reward::JointAngleSquared(joint) | Reward::JointVelocitySquared(joint) => {
                c.known(at, joint, &joints, "joint")
            }
            Reward::ForwardVelocity(link) | Reward::Upright(link) | Reward::YawRate(link) | Reward::BodyRates(link) => {
                c.known(at, link, links, "link")
            }
            Reward::Level { link, sharpness } => {
                c.known(format!("{at}.link"), link, links, "link");
                c.positive(format!("{at}.sharpness"), *sharpness);
            }
            Reward::HeightError { link, target } => {
                c.known(format!("{at}.link"), link, links, "link");
                c.finite(format!("{at}.target"), &[*target]);
            }
            Reward::VelocityTracking { link, target, width } => {
                c.known(format!("{at}.link"), link, links, "link");
                c.finite(format!("{at}.target"), &[*target]);
                c.positive(format!("{at}.width"), *width);
            }
            Reward::FootPath { site, origin, half_width, height, lift, sharpness } => {
                c.known(format!("{at}.site"), site, &sites, "site");
                c.finite(format!("{at}.origin"), origin);
                c.finite(format!("{at}.height"), &[*height]);
                c.non_negative(format!("{at}.half_width"), *half_width);
                c.non_negative(format!("{at}.lift"), *lift);
                c.positive(format!("{at}.sharpness"), *sharpness);
                if t.phase.is_none() {
                    c.fail(at, "FootPath follows the task clock: it needs `task.phase`");
                }
            }
            Reward::ActionSquared | Reward::EffortSquared | Reward::Alive | Reward::Power => {}
        }
    }
    for (i, term) in t.termination.iter().enumerate() {
        let at = format!("task.termination[{i}]");
        match term {
            Termination::HeightOutside { link, min, max } | Termination::PlanarAngleOutside { link, min, max } => {
                c.known(format!("{at}.link"), link, links, "link");
                if min.is_nan() || max.is_nan() || min >= max {
                    c.fail(format!("{at}.min"), format!("expected min < max, found ({min}, {max})"));
                }
            }
            Termination::Tilt { link, max_roll, max_pitch } => {
                c.known(format!("{at}.link"), link, links, "link");
                c.positive(format!("{at}.max_roll"), *max_roll);
                c.positive(format!("{at}.max_pitch"), *max_pitch);
            }
        }
    }
    c.in_range("task.episode_steps", t.episode_steps, 1, 1_000_000);
    c.non_negative("task.termination_penalty", t.termination_penalty);
    c.non_negative("task.reset_noise.joint_angle", t.reset_noise.joint_angle);
    c.non_negative("task.reset_noise.joint_velocity", t.reset_noise.joint_velocity);
    if let Some(phase) = &t.phase {
        c.in_range("task.phase.period_steps", phase.period_steps, 1, 1_000_000);
    }
    if let Some(ranges) = &t.randomize {
        for (field, message) in super::randomization_problems("task.randomize.", ranges) {
            c.fail(field, message);
        }
    }
    for (i, push) in t.pushes.iter().enumerate() {
        let at = format!("task.pushes[{i}]");
        c.known(format!("{at}.link"), &push.link, links, "link");
        let mut bad = Vec::new();
        super::push_problems(&format!("{at}."), None, push.duration_steps, &push.force, &mut bad);
        for (field, message) in bad {
            c.fail(field, message);
        }
        if push.step >= t.episode_steps {
            c.fail(format!("{at}.step"), format!("found {}; episodes last {} steps", push.step, t.episode_steps));
        }
    }
    // A periodic push's link, in the randomisation ranges and in each named world.
    let ranges = t.randomize.iter().map(|r| ("task.randomize".to_string(), &r.push));
    let worlds = t.worlds.iter().map(|(name, w)| (format!("task.worlds.{name}"), &w.push));
    for (at, push) in ranges.chain(worlds) {
        if let Some(link) = push.as_ref().and_then(|p| p.link.as_ref()) {
            c.known(format!("{at}.push.link"), link, links, "link");
        }
    }
    for (name, world) in &t.worlds {
        if name.is_empty() || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
            c.fail(format!("task.worlds.{name}"), "expected a name of letters, digits, - and _");
        }
        for (field, message) in super::world_problems(&format!("task.worlds.{name}."), world) {
            c.fail(field, message);
        }
    }
    for (i, name) in t.draw.iter().enumerate() {
        c.known(format!("task.draw[{i}]"), name, &sites, "site");
    }
}
