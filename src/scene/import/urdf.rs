//! URDF into a [`Model`]: links with inertials, collision and visual geometry, revolute,
//! continuous, fixed and floating joints, limits and dynamics, `package://` mesh paths.
//!
//! Own parser on `roxmltree` rather than `urdf-rs`: that crate reports no line numbers, and a
//! `package://` path made it panic in our trial; `rapier3d-urdf` builds Rapier bodies directly.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rapier3d::glamx::{DQuat, DVec3};

use super::model::*;
use super::xml::{Element, MAX_LENGTH, parse, read_text};
use crate::format::FileError;

const MAX_EFFORT: f64 = 1e6;

/// Reads a URDF file. Every revolute/continuous joint becomes a hinge whose effort limit the
/// actuator keeps; the root link floats unless it is fixed to a link named "world".
pub fn read(path: &Path) -> Result<Model, FileError> {
    let text = read_text(path)?;
    let document = parse(&text, path)?;
    let root = Element::new(document.root_element(), path);
    if root.tag() != "robot" {
        return Err(root.error(format!("expected a <robot> root element, found <{}>", root.tag())));
    }
    let mut links: BTreeMap<String, Element> = BTreeMap::new();
    let mut order = Vec::new();
    for link in root.children_named("link") {
        let name = link.required("name")?.to_string();
        if links.insert(name.clone(), link).is_some() {
            return Err(link.error(format!("link name \"{name}\" is used twice")));
        }
        order.push(name);
    }
    // child link → (joint element, parent link)
    let mut parent_of: HashMap<String, (Element, String)> = HashMap::new();
    for joint in root.children_named("joint") {
        let parent = joint.child("parent")?.ok_or_else(|| joint.error("a joint without <parent>"))?;
        let child = joint.child("child")?.ok_or_else(|| joint.error("a joint without <child>"))?;
        let (parent, child) = (parent.required("link")?.to_string(), child.required("link")?.to_string());
        for name in [&parent, &child] {
            if !links.contains_key(name) {
                return Err(joint.error(format!("no link named \"{name}\"")));
            }
        }
        if parent_of.insert(child.clone(), (joint, parent)).is_some() {
            return Err(joint.error(format!("link \"{child}\" has two parent joints (a URDF must be a tree)")));
        }
    }
    let roots: Vec<&String> = order.iter().filter(|l| !parent_of.contains_key(*l)).collect();
    let root_link = match roots.as_slice() {
        [one] => (*one).clone(),
        [] => return Err(root.error("the joints form a loop: every link has a parent")),
        many => {
            let names: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
            return Err(root.error(format!("expected one root link, found {}: {}", many.len(), names.join(", "))));
        }
    };
    let mut model = Model::named(root.attribute("name").unwrap_or("robot").to_string());
    // Depth-first from the root, children in the file's joint order, so parents come first and
    // joints keep the file's order (it is the action vector's); links unreachable from the root
    // are in a loop.
    let joint_order: Vec<&String> = root
        .children_named("joint")
        .filter_map(|j| j.child("child").ok().flatten().and_then(|c| c.attribute("link")))
        .filter_map(|child| parent_of.get_key_value(child).map(|(k, _)| k))
        .collect();
    let mut stack = vec![(root_link.clone(), None::<usize>)];
    while let Some((name, parent)) = stack.pop() {
        let link = links[&name];
        let (frame, attachment) = match parent_of.get(&name) {
            Some((joint, _)) => joint_attachment(*joint, &mut model)?,
            None => (Frame::IDENTITY, Attachment::Free),
        };
        let index = model.bodies.len();
        model.bodies.push(body(link, name.clone(), parent, frame, attachment)?);
        let children = joint_order.iter().filter(|child| parent_of[**child].1 == name);
        stack.extend(children.rev().map(|child| ((*child).clone(), Some(index))));
        if model.bodies.len() > order.len() {
            return Err(root.error("the joints form a loop"));
        }
    }
    if model.bodies.len() < order.len() {
        let missing: Vec<&str> =
            order.iter().filter(|l| !model.bodies.iter().any(|b| &b.name == *l)).map(|s| s.as_str()).collect();
        return Err(
            root.error(format!("links {} are not connected to the root: the joints form a loop", missing.join(", ")))
        );
    }
    fix_world_root(&mut model);
    for b in &mut model.bodies {
        resolve_meshes(b, path)?;
    }
    Ok(model)
}

/// A root link named "world" without mass is the world itself: its child is welded to it.
fn fix_world_root(model: &mut Model) {
    let is_world =
        model.bodies[0].name == "world" && model.bodies[0].inertial.is_none() && model.bodies[0].geoms.is_empty();
    if is_world {
        model.bodies[0].attachment = Attachment::Fixed;
        model.warnings.add("the root link \"world\" is the world: what is welded to it is fixed", "");
    }
}

fn joint_attachment(joint: Element, model: &mut Model) -> Result<(Frame, Attachment), FileError> {
    let name = joint.required("name")?.to_string();
    let kind = joint.required("type")?;
    let frame = origin(joint)?;
    let attachment = match kind {
        "fixed" => Attachment::Fixed,
        "floating" => Attachment::Free,
        "revolute" | "continuous" => {
            let axis = match joint.child("axis")? {
                Some(axis) => {
                    let v = axis.vector("xyz")?.unwrap_or(DVec3::X);
                    if v.length() < 1e-9 {
                        return Err(axis.attribute_error("xyz", "a joint axis of zero length"));
                    }
                    v.normalize()
                }
                None => DVec3::X,
            };
            let limit = joint.child("limit")?;
            let (range, effort) = match limit {
                Some(limit) => {
                    let lower = limit.number("lower")?.unwrap_or(0.0);
                    let upper = limit.number("upper")?.unwrap_or(0.0);
                    if lower > upper {
                        return Err(limit.error(format!("lower limit {lower} is above upper limit {upper}")));
                    }
                    let effort = limit.non_negative("effort", MAX_EFFORT)?;
                    ((kind == "revolute").then_some((lower, upper)), effort)
                }
                None if kind == "revolute" => return Err(joint.error("a revolute joint needs a <limit>")),
                None => (None, None),
            };
            let dynamics = joint.child("dynamics")?;
            let damping = dynamics.map(|d| d.non_negative("damping", 1e6)).transpose()?.flatten().unwrap_or(0.0);
            if let Some(friction) = dynamics.map(|d| d.number("friction")).transpose()?.flatten()
                && friction != 0.0
            {
                model.warnings.add(format!("dry friction {friction} is not simulated on joints"), &name);
            }
            Attachment::Hinge(Hinge { name, axis, anchor: DVec3::ZERO, range, damping, stiffness: 0.0, effort })
        }
        other => {
            return Err(joint.attribute_error(
                "type",
                format!("joint type \"{other}\" is not supported (revolute, continuous, fixed and floating are)"),
            ));
        }
    };
    Ok((frame, attachment))
}

fn body(
    link: Element,
    name: String,
    parent: Option<usize>,
    frame: Frame,
    attachment: Attachment,
) -> Result<Body, FileError> {
    let inertial = link.child("inertial")?.map(inertial).transpose()?;
    let mut geoms = Vec::new();
    for collision in link.children_named("collision") {
        let (shape, frame) = geometry(collision)?;
        geoms.push(Geom { shape, frame, friction: None, density: 1000.0 });
    }
    let mut visuals = Vec::new();
    for visual in link.children_named("visual") {
        if let (GeomShape::Mesh { file, scale }, frame) = geometry(visual)? {
            let colour = visual
                .child("material")?
                .and_then(|m| m.child("color").ok().flatten())
                .map(|c| c.numbers("rgba", Some(4)))
                .transpose()?
                .flatten()
                .map(|c| [c[0], c[1], c[2]]);
            visuals.push(Visual { file, frame, scale, colour });
        }
    }
    Ok(Body { name, parent, frame, attachment, inertial, geoms, visuals, sites: Vec::new(), origin: link.error("") })
}

fn inertial(e: Element) -> Result<Inertial, FileError> {
    let mass_element = e.child("mass")?.ok_or_else(|| e.error("an <inertial> without <mass>"))?;
    let mass = mass_element.number("value")?.ok_or_else(|| mass_element.error("a <mass> without `value`"))?;
    if !(mass > 0.0 && mass <= 1e5) {
        return Err(
            mass_element.attribute_error("value", format!("expected a positive mass of at most 1e5 kg, found {mass}"))
        );
    }
    let tensor = e.child("inertia")?.ok_or_else(|| e.error("an <inertial> without <inertia>"))?;
    let get = |k: &str| -> Result<f64, FileError> {
        tensor.number(k)?.ok_or_else(|| tensor.error(format!("missing attribute `{k}`")))
    };
    Ok(Inertial {
        mass,
        frame: origin(e)?,
        moments: DVec3::new(get("ixx")?, get("iyy")?, get("izz")?),
        products: DVec3::new(get("ixy")?, get("ixz")?, get("iyz")?),
    })
}

/// The `<origin xyz rpy>` child of an element (identity if absent).
fn origin(e: Element) -> Result<Frame, FileError> {
    let Some(origin) = e.child("origin")? else { return Ok(Frame::IDENTITY) };
    let position = origin.position("xyz")?.unwrap_or(DVec3::ZERO);
    let rpy = origin.vector("rpy")?.unwrap_or(DVec3::ZERO);
    // Roll, pitch, yaw about fixed axes: R = Rz(yaw) · Ry(pitch) · Rx(roll).
    let rotation = DQuat::from_rotation_z(rpy.z) * DQuat::from_rotation_y(rpy.y) * DQuat::from_rotation_x(rpy.x);
    Ok(Frame::new(position, rotation))
}

/// A `<collision>` or `<visual>` element's shape and frame (URDF cylinders lie along Z).
fn geometry(e: Element) -> Result<(GeomShape, Frame), FileError> {
    let frame = origin(e)?;
    let geometry = e.child("geometry")?.ok_or_else(|| e.error(format!("a <{}> without <geometry>", e.tag())))?;
    let shape = geometry.children().next().ok_or_else(|| geometry.error("an empty <geometry>"))?;
    let length = |name: &str| -> Result<f64, FileError> {
        let v = shape.number(name)?.ok_or_else(|| shape.error(format!("missing attribute `{name}`")))?;
        if !(v > 0.0 && v <= MAX_LENGTH) {
            return Err(
                shape.attribute_error(name, format!("expected a positive length of at most {MAX_LENGTH} m, found {v}"))
            );
        }
        Ok(v)
    };
    let parsed = match shape.tag() {
        "box" => {
            let size = shape.vector("size")?.ok_or_else(|| shape.error("missing attribute `size`"))?;
            if !(size.min_element() > 0.0 && size.max_element() <= MAX_LENGTH) {
                return Err(shape.attribute_error("size", format!("expected positive sizes of at most {MAX_LENGTH} m")));
            }
            GeomShape::Box { half_extents: size / 2.0 }
        }
        "sphere" => GeomShape::Sphere { radius: length("radius")? },
        "cylinder" => GeomShape::Cylinder { radius: length("radius")?, half_length: length("length")? / 2.0 },
        "capsule" => GeomShape::Capsule { radius: length("radius")?, half_length: length("length")? / 2.0 },
        "mesh" => {
            let scale = shape.vector("scale")?.unwrap_or(DVec3::ONE);
            GeomShape::Mesh { file: PathBuf::from(shape.required("filename")?), scale }
        }
        other => {
            return Err(shape
                .error(format!("geometry <{other}> is not supported (box, sphere, cylinder, capsule and mesh are)")));
        }
    };
    Ok((parsed, frame))
}

/// Makes mesh paths absolute: `package://NAME/rest` is found in the nearest folder above the
/// URDF named NAME (how ROS-less tools resolve it), `file://` and relative paths as files.
fn resolve_meshes(body: &mut Body, urdf: &Path) -> Result<(), FileError> {
    let resolve = |file: &Path| -> Result<PathBuf, FileError> {
        let text = file.to_string_lossy();
        let folder = urdf.parent().unwrap_or(Path::new(""));
        if let Some(rest) = text.strip_prefix("package://") {
            let (package, inside) = rest.split_once('/').unwrap_or((rest, ""));
            let absolute = std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf());
            return absolute
                .ancestors()
                .find(|a| a.file_name().is_some_and(|n| n == package))
                .map(|root| root.join(inside))
                .ok_or_else(|| FileError {
                    message: format!(
                        "cannot resolve {text}: no folder named \"{package}\" above {}",
                        absolute.display()
                    ),
                    ..body.origin.clone()
                });
        }
        let plain = text.strip_prefix("file://").unwrap_or(&text);
        Ok(folder.join(plain))
    };
    for geom in &mut body.geoms {
        if let GeomShape::Mesh { file, .. } = &mut geom.shape {
            *file = resolve(file)?;
        }
    }
    for visual in &mut body.visuals {
        visual.file = resolve(&visual.file)?;
    }
    Ok(())
}
