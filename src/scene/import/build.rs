//! A [`Model`] into a scene's robot: fixed joints merged, the reset pose applied to the floating
//! base, Z-up source frames turned into the scene's Y-up world, mesh paths made relative.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path};

use rapier3d::glamx::{DQuat, DVec3, EulerRot};

use super::model::*;
use crate::format::mesh::read_mesh_shared as read_mesh;
use crate::format::{FileError, lexically_normal};
use crate::scene::{Actuator, Inertia, Joint, Link, PlacedShape, Robot, Shape, Site, Spring, VisualMesh};

/// A force limit for position actuators the file leaves unlimited (MuJoCo's default), N or N·m.
const UNLIMITED_FORCE: f64 = 1.0e4;
/// Clearance between the lowest collision point and the ground when a robot is placed on it.
const GROUND_CLEARANCE: f64 = 0.001;

/// How URDF joints (which name no actuators) are driven.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UrdfDrive {
    /// PD position motors with these gains; None: torque motors.
    pub position_gains: Option<(f64, f64)>,
    /// Caps the file's effort limits (N·m), for files with placeholder values.
    pub max_effort: Option<f64>,
}

/// One link after fixed joints are merged.
struct Part {
    name: String,
    parent: Option<usize>,
    /// In the parent part's frame (the world's for a root), zero joint angles.
    frame: Frame,
    hinge: Option<Hinge>,
    free: bool,
    fixed: bool,
    inertial: Option<Inertial>,
    geoms: Vec<Geom>,
    visuals: Vec<Visual>,
    sites: Vec<(String, DVec3)>,
    origin: FileError,
}

/// The robot in scene form, its lowest point's height at home and the reset-pose base height.
pub struct Built {
    pub robot: Robot,
    /// Height of the floating base's frame at the reset pose, metres (None: fixed base).
    pub base_height: Option<f64>,
    pub base_link: String,
}

pub fn build(model: &mut Model, drive: &UrdfDrive, out_folder: &Path) -> Result<Built, FileError> {
    let parts = merge_fixed(&model.bodies);
    let home = home_angles(model, &parts)?;
    let lift = ground_lift(model, &parts, &home)?;
    let to_y_up = Frame::new(DVec3::ZERO, DQuat::from_rotation_x(-std::f64::consts::FRAC_PI_2));
    let mut world: Vec<Frame> = Vec::with_capacity(parts.len());
    for part in &parts {
        let frame = match (part.parent, part.free, model.home.as_ref().and_then(|h| h.base)) {
            (None, true, Some(base)) => base,
            _ => part.frame,
        };
        let mut frame = match part.parent {
            Some(p) => world[p].then(&frame),
            None => frame,
        };
        if part.parent.is_none() && part.free {
            frame.position.z += lift;
        }
        world.push(frame);
    }
    let world_y: Vec<Frame> = world.iter().map(|f| to_y_up.then(f)).collect();
    let mut actuators = actuators_by_joint(model)?;
    let mut robot = Robot { links: Vec::new(), joints: Vec::new(), sites: Vec::new() };
    let mut folded_damping = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        robot.links.push(link(part, &world_y[i], out_folder, &mut model.warnings)?);
        for (name, point) in &part.sites {
            robot.sites.push(Site { name: name.clone(), link: part.name.clone(), offset: f32s(*point) });
        }
        let (Some(hinge), Some(parent)) = (&part.hinge, part.parent) else { continue };
        let limits = hinge.range.map(|r| clip_to_half_turn(r, &hinge.name, "range", &mut model.warnings));
        let mut angle = home.get(&hinge.name).copied().unwrap_or(0.0);
        if let Some((lo, hi)) = limits
            && !(lo..=hi).contains(&angle)
        {
            model.warnings.add("home angles outside the joint's range are clamped into it on joints", &hinge.name);
            angle = angle.clamp(lo, hi);
        }
        let spec = actuators.remove(hinge.name.as_str());
        let actuator = actuator(hinge, spec.as_ref(), drive, limits, &mut model.warnings)?;
        if matches!(actuator, Actuator::Position { .. }) && hinge.damping > 0.0 {
            folded_damping.push(hinge.name.clone());
        }
        let passive = !matches!(actuator, Actuator::Position { .. }) && (hinge.damping > 0.0 || hinge.stiffness > 0.0);
        robot.joints.push(Joint {
            name: hinge.name.clone(),
            parent: parts[parent].name.clone(),
            child: part.name.clone(),
            anchor: f32s(world_y[i].point(hinge.anchor)),
            axis: f32s(world_y[i].rotation * hinge.axis),
            limits: limits.map(|(lo, hi)| (lo as f32, hi as f32)),
            home: angle as f32,
            actuator,
            spring: passive.then_some(Spring { stiffness: hinge.stiffness as f32, damping: hinge.damping as f32 }),
        });
    }
    if let Some((joint, spec)) = actuators.into_iter().next() {
        return Err(FileError {
            message: format!("the actuator drives \"{joint}\", which is not a hinge joint of the robot"),
            ..spec.origin
        });
    }
    if !folded_damping.is_empty() {
        for joint in &folded_damping {
            model.warnings.add(
                "joint damping is added to the position actuator's damping (one PD motor per joint here) on joints",
                joint,
            );
        }
    }
    let root = &parts[0];
    let base_height = (root.free).then(|| world_y[0].position.y);
    Ok(Built { robot, base_height, base_link: root.name.clone() })
}

/// Folds every welded body into the nearest moving ancestor (inertia by the parallel-axis
/// theorem), keeping its frame as a site named after it (a URDF foot link becomes a foot site).
fn merge_fixed(bodies: &[Body]) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    // body index → (part index, the body's frame in that part)
    let mut placed: Vec<(usize, Frame)> = Vec::with_capacity(bodies.len());
    for body in bodies {
        let (hinge, free) = match &body.attachment {
            Attachment::Hinge(h) => (Some(h.clone()), false),
            Attachment::Free => (None, true),
            Attachment::Fixed => (None, false),
        };
        match (body.parent, &body.attachment) {
            (Some(p), Attachment::Fixed) => {
                let (part, parent_frame) = placed[p];
                let frame = parent_frame.then(&body.frame);
                let target = &mut parts[part];
                target.geoms.extend(body.geoms.iter().map(|g| Geom { frame: frame.then(&g.frame), ..g.clone() }));
                target.visuals.extend(body.visuals.iter().map(|v| Visual { frame: frame.then(&v.frame), ..v.clone() }));
                target.sites.push((body.name.clone(), frame.position));
                target.sites.extend(body.sites.iter().map(|(n, p)| (n.clone(), frame.point(*p))));
                if let Some(inertial) = &body.inertial {
                    let moved = inertial.moved(&frame);
                    target.inertial = Some(match &target.inertial {
                        Some(existing) => Inertial::combine(existing, &moved),
                        None => moved,
                    });
                }
                placed.push((part, frame));
            }
            (parent, attachment) => {
                let (parent_part, frame) = match parent {
                    Some(p) => (Some(placed[p].0), placed[p].1.then(&body.frame)),
                    None => (None, body.frame),
                };
                parts.push(Part {
                    name: body.name.clone(),
                    parent: parent_part,
                    frame,
                    hinge,
                    free,
                    fixed: parent.is_none() && matches!(attachment, Attachment::Fixed),
                    inertial: body.inertial.clone(),
                    geoms: body.geoms.clone(),
                    visuals: body.visuals.clone(),
                    sites: body.sites.clone(),
                    origin: body.origin.clone(),
                });
                placed.push((parts.len() - 1, Frame::IDENTITY));
            }
        }
    }
    parts
}

/// Home angles by joint name: the keyframe's (or the user's), checked against the joints.
fn home_angles(model: &Model, parts: &[Part]) -> Result<HashMap<String, f64>, FileError> {
    let mut angles = HashMap::new();
    if let Some(home) = &model.home {
        for (name, angle) in &home.joints {
            if !parts.iter().any(|p| p.hinge.as_ref().is_some_and(|h| &h.name == name)) {
                return Err(FileError {
                    message: format!("the home pose names joint \"{name}\", which the robot does not have"),
                    ..parts[0].origin.clone()
                });
            }
            angles.insert(name.clone(), *angle);
        }
    }
    Ok(angles)
}

/// How far to raise a floating base so its lowest collision point clears the ground at home:
/// a robot without a keyframe is set down onto the ground; a keyframe that sinks into it is lifted.
fn ground_lift(model: &Model, parts: &[Part], home: &HashMap<String, f64>) -> Result<f64, FileError> {
    if !parts[0].free {
        return Ok(0.0);
    }
    let mut poses: Vec<Frame> = Vec::with_capacity(parts.len());
    let mut lowest = f64::INFINITY;
    for part in parts {
        let mut frame = match (part.parent, model.home.as_ref().and_then(|h| h.base)) {
            (Some(p), _) => poses[p].then(&part.frame),
            (None, Some(base)) => base,
            (None, None) => part.frame,
        };
        if let Some(hinge) = &part.hinge {
            let angle = home.get(&hinge.name).copied().unwrap_or(0.0);
            let turn = DQuat::from_axis_angle(hinge.axis, angle);
            frame = frame.then(&Frame::new(hinge.anchor - turn * hinge.anchor, turn));
        }
        for geom in &part.geoms {
            lowest = lowest.min(lowest_point(&frame.then(&geom.frame), &geom.shape, &part.origin)?);
        }
        poses.push(frame);
    }
    if !lowest.is_finite() {
        return Ok(0.0);
    }
    let keyframe = model.home.as_ref().is_some_and(|h| h.base.is_some());
    let lift = if keyframe { (GROUND_CLEARANCE - lowest).max(0.0) } else { GROUND_CLEARANCE - lowest };
    Ok(lift)
}

/// The lowest world height (Z) of a shape placed at `frame`.
fn lowest_point(frame: &Frame, shape: &GeomShape, origin: &FileError) -> Result<f64, FileError> {
    let z = frame.position.z;
    let axis = frame.rotation * DVec3::Z;
    Ok(match shape {
        GeomShape::Sphere { radius } => z - radius,
        GeomShape::Capsule { radius, half_length } => z - half_length * axis.z.abs() - radius,
        GeomShape::Cylinder { radius, half_length } => {
            z - half_length * axis.z.abs() - radius * (1.0 - axis.z * axis.z).max(0.0).sqrt()
        }
        GeomShape::Box { half_extents } => {
            let r = frame.rotation;
            z - (r * DVec3::X).z.abs() * half_extents.x
                - (r * DVec3::Y).z.abs() * half_extents.y
                - (r * DVec3::Z).z.abs() * half_extents.z
        }
        GeomShape::Mesh { file, scale } => {
            let mesh = read_mesh(file).map_err(|e| collision_mesh_error(origin, file, &e))?;
            mesh.vertices
                .iter()
                .map(|v| frame.point(DVec3::new(v[0] as f64, v[1] as f64, v[2] as f64) * *scale).z)
                .fold(f64::INFINITY, f64::min)
        }
    })
}

fn collision_mesh_error(origin: &FileError, file: &Path, problem: &str) -> FileError {
    FileError { message: format!("collision mesh {}: {problem}", file.display()), ..origin.clone() }
}

fn actuators_by_joint(model: &Model) -> Result<BTreeMap<String, ActuatorSpec>, FileError> {
    let mut by_joint = BTreeMap::new();
    for spec in &model.actuators {
        if by_joint.insert(spec.joint.clone(), spec.clone()).is_some() {
            return Err(FileError {
                message: format!("a second actuator on joint \"{}\" (one per joint is supported)", spec.joint),
                ..spec.origin.clone()
            });
        }
    }
    Ok(by_joint)
}

fn actuator(
    hinge: &Hinge,
    spec: Option<&ActuatorSpec>,
    drive: &UrdfDrive,
    limits: Option<(f64, f64)>,
    warnings: &mut Warnings,
) -> Result<Actuator, FileError> {
    let position = |kp: f64, kv: f64, range: Option<(f64, f64)>, force: Option<f64>, warnings: &mut Warnings| {
        let range = range.map(|r| clip_to_half_turn(r, &hinge.name, "ctrlrange", warnings));
        let range = match (range, limits) {
            (Some(r), Some(l)) if r == l => None,
            (Some(r), _) => Some(r),
            (None, Some(_)) => None,
            (None, None) => {
                let bound = std::f64::consts::PI - WRAP_MARGIN;
                warnings.add("position targets without a range span ±(π − 0.25) on joints", &hinge.name);
                Some((-bound, bound))
            }
        };
        Actuator::Position {
            stiffness: kp as f32,
            damping: (kv + hinge.damping) as f32,
            max_force: force.unwrap_or(UNLIMITED_FORCE) as f32,
            range: range.map(|(lo, hi)| (lo as f32, hi as f32)),
        }
    };
    Ok(match spec.map(|s| &s.drive) {
        Some(Drive::Position { kp, kv, range, force }) => position(*kp, *kv, *range, *force, warnings),
        Some(Drive::Motor { gear, ctrl, force }) => {
            let ctrl = ctrl.map_or(1.0, |(lo, hi)| lo.abs().max(hi.abs()));
            let torque = gear.abs() * ctrl;
            Actuator::Torque { max_torque: force.map_or(torque, |f| f.min(torque)) as f32 }
        }
        None => match hinge.effort {
            None => Actuator::None,
            Some(effort) => {
                let effort = drive.max_effort.map_or(effort, |cap| effort.min(cap));
                if effort <= 0.0 {
                    Actuator::None
                } else {
                    match drive.position_gains {
                        Some((kp, kd)) => position(kp, kd, None, Some(effort), warnings),
                        None => Actuator::Torque { max_torque: effort as f32 },
                    }
                }
            }
        },
    })
}

/// Joint angles are measured in (−π, π] here, and a limit at ±π would let an overshoot wrap
/// around to the other end (measured: Go1's hip pushed past its clipped limit of π under random
/// targets came back as −π + 0.2, 2.45 rad "outside" its range). Ranges are clipped to
/// ±(π − WRAP_MARGIN), with a warning.
const WRAP_MARGIN: f64 = 0.25;

fn clip_to_half_turn((lo, hi): (f64, f64), joint: &str, what: &str, warnings: &mut Warnings) -> (f64, f64) {
    let bound = std::f64::consts::PI - WRAP_MARGIN;
    let clipped = (lo.max(-bound), hi.min(bound));
    if clipped != (lo, hi) {
        let what = format!(
            "{what} ({lo}, {hi}) is clipped to ({:.4}, {:.4}) so no joint can wrap past ±π, on joints",
            clipped.0, clipped.1
        );
        warnings.add(what, joint);
    }
    clipped
}

fn link(part: &Part, world: &Frame, out_folder: &Path, warnings: &mut Warnings) -> Result<Link, FileError> {
    let mut shapes = Vec::with_capacity(part.geoms.len());
    for geom in &part.geoms {
        shapes.push(placed_shape(geom, &part.origin, out_folder)?);
    }
    let mut visuals = Vec::new();
    for visual in &part.visuals {
        match read_mesh(&visual.file) {
            Ok(_) => visuals.push(VisualMesh {
                file: relative_path(&visual.file, out_folder),
                position: f32s(visual.frame.position),
                rotation: euler(visual.frame.rotation),
                scale: f32s(visual.scale),
                colour: visual.colour.map(|c| c.map(|v| v.clamp(0.0, 1.0) as f32)),
            }),
            Err(problem) => warnings.add(
                format!(
                    "visual mesh {} is left out ({problem}), so its links are drawn from their collision shapes",
                    visual.file.display()
                ),
                &part.name,
            ),
        }
    }
    let (mass, density, inertia) = match (&part.inertial, part.geoms.is_empty()) {
        (Some(i), _) => (None, None, Some(inertia(i))),
        (None, false) => {
            let density = part.geoms[0].density;
            if part.geoms.iter().any(|g| g.density != density) {
                warnings.add("geoms of different densities get the first one's on links", &part.name);
            }
            (None, Some(density as f32), None)
        }
        (None, true) if part.fixed => (
            None,
            None,
            Some(Inertia { mass: 1.0, centre: [0.0; 3], moments: [0.01; 3], products: [0.0; 3], rotation: [0.0; 3] }),
        ),
        (None, true) => {
            return Err(FileError {
                message: format!(
                    "link \"{}\" moves but has neither an inertial nor collision geometry: it would have no mass",
                    part.name
                ),
                ..part.origin.clone()
            });
        }
    };
    Ok(Link {
        name: part.name.clone(),
        shape: None,
        shapes,
        mass,
        density,
        inertia,
        visuals,
        position: f32s(world.position),
        rotation: euler(world.rotation),
        fixed: part.fixed,
        friction: 1.0,
        colour: [0.55, 0.57, 0.6],
    })
}

fn inertia(i: &Inertial) -> Inertia {
    Inertia {
        mass: i.mass as f32,
        centre: f32s(i.frame.position),
        moments: f32s(i.moments),
        products: f32s(i.products),
        rotation: euler(i.frame.rotation),
    }
}

/// A source geom (cylinders and capsules along Z) as a scene shape (cylinders along Y,
/// capsules by their end points).
fn placed_shape(geom: &Geom, origin: &FileError, out_folder: &Path) -> Result<PlacedShape, FileError> {
    let frame = geom.frame;
    let friction = geom.friction.map(|f| f as f32);
    let at = |shape: Shape, frame: Frame| PlacedShape {
        shape,
        position: f32s(frame.position),
        rotation: euler(frame.rotation),
        friction,
    };
    Ok(match &geom.shape {
        GeomShape::Sphere { radius } => at(Shape::Sphere { radius: *radius as f32 }, frame),
        GeomShape::Box { half_extents } => at(Shape::Box { half_extents: f32s(*half_extents) }, frame),
        GeomShape::Capsule { radius, half_length } => {
            let end = DVec3::Z * *half_length;
            at(
                Shape::Capsule { from: f32s(frame.point(-end)), to: f32s(frame.point(end)), radius: *radius as f32 },
                Frame::IDENTITY,
            )
        }
        GeomShape::Cylinder { radius, half_length } => {
            let y_to_z = DQuat::from_rotation_x(std::f64::consts::FRAC_PI_2);
            let frame = Frame::new(frame.position, frame.rotation * y_to_z);
            at(Shape::Cylinder { half_height: *half_length as f32, radius: *radius as f32 }, frame)
        }
        GeomShape::Mesh { file, scale } => {
            read_mesh(file).map_err(|e| collision_mesh_error(origin, file, &e))?;
            at(Shape::ConvexMesh { file: relative_path(file, out_folder), scale: f32s(*scale) }, frame)
        }
    })
}

fn f32s(v: DVec3) -> [f32; 3] {
    [v.x as f32, v.y as f32, v.z as f32]
}

/// XYZ Euler angles, the scene format's rotations (the simulator reads them with the same order).
fn euler(q: DQuat) -> [f32; 3] {
    let (a, b, c) = q.to_euler(EulerRot::XYZ);
    let clean = |v: f64| if v.abs() < 1e-12 { 0.0 } else { v as f32 };
    [clean(a), clean(b), clean(c)]
}

/// `file` relative to `folder` (both made absolute), with forward slashes, so scenes move
/// with their assets.
pub fn relative_path(file: &Path, folder: &Path) -> String {
    let normal = |p: &Path| -> Vec<String> {
        lexically_normal(p)
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect()
    };
    let (file, folder) = (normal(file), normal(folder));
    let common = file.iter().zip(&folder).take_while(|(a, b)| a == b).count();
    let mut relative: Vec<String> = vec!["..".to_string(); folder.len() - common];
    relative.extend(file[common..].iter().cloned());
    relative.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_folder() {
        assert_eq!(relative_path(Path::new("/a/b/robots/go1/x.stl"), Path::new("/a/b/scenes")), "../robots/go1/x.stl");
        assert_eq!(relative_path(Path::new("/a/scenes/m/x.stl"), Path::new("/a/scenes")), "m/x.stl");
        assert_eq!(relative_path(Path::new("/a/b/../c/x.stl"), Path::new("/a/c")), "x.stl");
    }

    #[test]
    fn welded_inertias_combine_by_the_parallel_axis_theorem() {
        // Two 1 kg point masses 1 m apart along X: total 2 kg at the middle, and about the
        // centre Iyy = Izz = 2 × 1 × 0.5² = 0.5, Ixx = 0.
        let point = |x: f64| Inertial {
            mass: 1.0,
            frame: Frame::new(DVec3::new(x, 0.0, 0.0), DQuat::IDENTITY),
            moments: DVec3::ZERO,
            products: DVec3::ZERO,
        };
        let both = Inertial::combine(&point(0.0), &point(1.0));
        assert_eq!(both.mass, 2.0);
        assert!((both.frame.position - DVec3::new(0.5, 0.0, 0.0)).length() < 1e-12);
        assert!((both.moments - DVec3::new(0.0, 0.5, 0.5)).length() < 1e-12, "{:?}", both.moments);
        assert!(both.products.length() < 1e-12);
    }

    #[test]
    fn a_rotated_diagonal_tensor_keeps_its_trace_and_gains_products() {
        let i = Inertial {
            mass: 1.0,
            frame: Frame::new(DVec3::ZERO, DQuat::from_rotation_z(std::f64::consts::FRAC_PI_4)),
            moments: DVec3::new(1.0, 3.0, 2.0),
            products: DVec3::ZERO,
        };
        let t = i.tensor_in_body();
        assert!((t.x_axis.x + t.y_axis.y + t.z_axis.z - 6.0).abs() < 1e-12);
        // R diag(1, 3) Rᵀ at 45°: off-diagonal (1 − 3)/2 = −1.
        assert!((t.y_axis.x + 1.0).abs() < 1e-12, "{t:?}");
    }
}
