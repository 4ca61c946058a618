//! MJCF (MuJoCo's XML) into a [`Model`]: bodies, hinge and free joints, geoms with `<default>`
//! classes and `childclass`, inertials, position/motor actuators, keyframes and `<include>`.
//!
//! Own parser on `roxmltree` rather than `rapier3d-mjcf`: that crate builds Rapier bodies
//! directly (we need a scene file a user can read and edit), and it reports no file positions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rapier3d::glamx::{DQuat, DVec3};

use super::model::*;
use super::xml::{Attr, Element, MAX_LENGTH, parse, read_text};
use crate::format::FileError;

/// Largest gain, damping or force accepted from a file.
const MAX_GAIN: f64 = 1e6;
/// How deep `<include>` may nest (a file including itself would otherwise never end).
const MAX_INCLUDE_DEPTH: usize = 8;

/// Attributes by name, each with where it was written.
type Attrs = BTreeMap<String, Attr>;

/// One `<default class>`: its parent class and, per element tag, the attributes it sets.
#[derive(Default)]
struct DefaultClass {
    parent: Option<String>,
    tags: BTreeMap<String, Attrs>,
}

/// `<compiler>` settings that change how numbers are read.
struct Compiler {
    degrees: bool,
    euler_sequence: String,
    mesh_folder: PathBuf,
    autolimits: bool,
}

/// What is read across the main file and its includes.
struct Reader {
    compiler: Compiler,
    classes: BTreeMap<String, DefaultClass>,
    /// Mesh asset name → file.
    meshes: BTreeMap<String, (PathBuf, DVec3)>,
    model: Model,
    /// Joint names in qpos order with their qpos width, for keyframes.
    qpos_layout: Vec<(String, usize)>,
    keyframes: Vec<(String, Attr)>,
    ignored: BTreeMap<String, usize>,
}

/// Reads an MJCF file (and the files it includes); `keyframe` picks the reset pose (default:
/// the key named "home", else the first).
pub fn read(path: &Path, keyframe: Option<&str>) -> Result<Model, FileError> {
    let folder = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut reader = Reader {
        compiler: Compiler { degrees: true, euler_sequence: "xyz".into(), mesh_folder: folder, autolimits: true },
        classes: BTreeMap::new(),
        meshes: BTreeMap::new(),
        model: Model::named(String::new()),
        qpos_layout: Vec::new(),
        keyframes: Vec::new(),
        ignored: BTreeMap::new(),
    };
    reader.classes.insert("main".into(), DefaultClass::default());
    reader.file(path, 0)?;
    reader.home(keyframe)?;
    for (tag, count) in &reader.ignored {
        reader.model.warnings.add(format!("ignored {count} <{tag}> element(s): they do not change the dynamics"), "");
    }
    if reader.model.bodies.is_empty() {
        return Err(FileError {
            file: path.to_path_buf(),
            line: None,
            column: None,
            field: Some("<worldbody>".into()),
            message: "the model has no bodies".into(),
        });
    }
    Ok(reader.model)
}

impl Reader {
    fn file(&mut self, path: &Path, depth: usize) -> Result<(), FileError> {
        let text = read_text(path)?;
        let document = parse(&text, path)?;
        let root = Element::new(document.root_element(), path);
        if root.tag() != "mujoco" {
            return Err(root.error(format!("expected a <mujoco> root element, found <{}>", root.tag())));
        }
        if depth == 0 {
            self.model.name = root.attribute("model").unwrap_or("robot").to_string();
        }
        for section in root.children() {
            match section.tag() {
                "compiler" => self.compiler(section)?,
                "option" => self.model.timestep = section.number("timestep")?.or(self.model.timestep),
                "default" => self.default_class(section, None)?,
                "asset" => self.assets(section)?,
                "worldbody" => self.worldbody(section)?,
                "actuator" => self.actuators(section)?,
                "keyframe" => {
                    for key in section.children_named("key") {
                        let name = key.attribute("name").unwrap_or("").to_string();
                        let qpos = key.attr("qpos").ok_or_else(|| key.error("a keyframe without `qpos`"))?;
                        self.keyframes.push((name, qpos));
                    }
                }
                "include" => {
                    if depth >= MAX_INCLUDE_DEPTH {
                        return Err(section.error(format!("includes nest deeper than {MAX_INCLUDE_DEPTH} files")));
                    }
                    let file = section.required("file")?;
                    let included = path.parent().unwrap_or(Path::new("")).join(file);
                    self.file(&included, depth + 1)?;
                }
                "equality" | "tendon" => {
                    return Err(section.error(format!(
                        "<{}> constraints are not supported: the simulator has only the body tree's joints",
                        section.tag()
                    )));
                }
                "contact" => self.model.warnings.add(
                    "ignored <contact> pairs and exclusions: links of one robot never collide with each other here",
                    "",
                ),
                other => *self.ignored.entry(other.to_string()).or_default() += 1,
            }
        }
        Ok(())
    }

    fn compiler(&mut self, e: Element) -> Result<(), FileError> {
        if let Some(angle) = e.attribute("angle") {
            self.compiler.degrees = match angle {
                "degree" => true,
                "radian" => false,
                other => return Err(e.attribute_error("angle", format!("expected degree or radian, found {other}"))),
            };
        }
        if let Some(sequence) = e.attribute("eulerseq") {
            if sequence.len() != 3 || !sequence.chars().all(|c| "xyzXYZ".contains(c)) {
                return Err(e.attribute_error("eulerseq", "expected three of x, y, z, X, Y, Z"));
            }
            self.compiler.euler_sequence = sequence.to_string();
        }
        let folder = e.file.parent().unwrap_or(Path::new(""));
        if let Some(dir) = e.attribute("meshdir").or(e.attribute("assetdir")) {
            self.compiler.mesh_folder = folder.join(dir);
        }
        if let Some(auto) = e.attribute("autolimits") {
            self.compiler.autolimits = auto == "true";
        }
        Ok(())
    }

    /// A `<default>` element and its nested classes.
    fn default_class(&mut self, e: Element, parent: Option<&str>) -> Result<(), FileError> {
        let name = match (e.attribute("class"), parent) {
            (Some(class), _) => class.to_string(),
            (None, None) => "main".to_string(),
            (None, Some(_)) => return Err(e.error("a nested <default> needs a `class`")),
        };
        if parent.is_some() && self.classes.contains_key(&name) {
            return Err(e.attribute_error("class", format!("default class \"{name}\" is defined twice")));
        }
        let mut class = DefaultClass { parent: parent.map(str::to_string), tags: BTreeMap::new() };
        for child in e.children() {
            if child.tag() == "default" {
                continue;
            }
            let attrs: Attrs = child
                .node
                .attributes()
                .map(|a| (a.name().to_string(), child.attr(a.name()).expect("attribute exists")))
                .collect();
            class.tags.entry(child.tag().to_string()).or_default().extend(attrs);
        }
        self.classes.insert(name.clone(), class);
        for child in e.children_named("default") {
            self.default_class(child, Some(&name))?;
        }
        Ok(())
    }

    /// An element's attributes: its class chain's defaults for its tag, overridden by its own.
    fn attrs(&self, e: Element, inherited_class: &str) -> Result<Attrs, FileError> {
        let class = e.attribute("class").unwrap_or(inherited_class);
        let mut chain = Vec::new();
        let mut next = Some(class.to_string());
        while let Some(name) = next {
            let Some(found) = self.classes.get(&name) else {
                return Err(e.attribute_error("class", format!("no default class named \"{name}\"")));
            };
            chain.push(found);
            next = found.parent.clone();
            if chain.len() > self.classes.len() {
                break;
            }
        }
        let tag = if e.tag() == "freejoint" { "joint" } else { e.tag() };
        let mut attrs = Attrs::new();
        for class in chain.iter().rev() {
            if let Some(set) = class.tags.get(tag) {
                attrs.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        for a in e.node.attributes() {
            attrs.insert(a.name().to_string(), e.attr(a.name()).expect("attribute exists"));
        }
        Ok(attrs)
    }

    fn assets(&mut self, e: Element) -> Result<(), FileError> {
        for asset in e.children() {
            match asset.tag() {
                "mesh" => {
                    let attrs = self.attrs(asset, "main")?;
                    let file = attrs.get("file").ok_or_else(|| asset.error("a <mesh> without `file`"))?;
                    let name = match asset.attribute("name") {
                        Some(name) => name.to_string(),
                        None => Path::new(&file.value).file_stem().and_then(|s| s.to_str()).unwrap_or("").to_string(),
                    };
                    let scale = attrs.get("scale").map(Attr::vector).transpose()?.unwrap_or(DVec3::ONE);
                    self.meshes.insert(name, (self.compiler.mesh_folder.join(&file.value), scale));
                }
                "material" | "texture" => {}
                other => *self.ignored.entry(format!("asset/{other}")).or_default() += 1,
            }
        }
        Ok(())
    }

    fn worldbody(&mut self, e: Element) -> Result<(), FileError> {
        for child in e.children() {
            match child.tag() {
                "body" => self.body(child, None, "main")?,
                "geom" => {
                    let attrs = self.attrs(child, "main")?;
                    match attrs.get("type").map(|a| a.value.as_str()) {
                        Some("plane") => {
                            let friction = attrs.get("friction").map(|a| a.numbers(None)).transpose()?;
                            self.model.ground_friction = friction.and_then(|f| f.first().copied()).or(Some(1.0));
                        }
                        _ => return Err(child.error("only a ground plane may sit directly in <worldbody>")),
                    }
                }
                other => *self.ignored.entry(other.to_string()).or_default() += 1,
            }
        }
        Ok(())
    }

    fn body(&mut self, e: Element, parent: Option<usize>, inherited: &str) -> Result<(), FileError> {
        let class = e.attribute("childclass").unwrap_or(inherited).to_string();
        if !self.classes.contains_key(&class) {
            return Err(e.attribute_error("childclass", format!("no default class named \"{class}\"")));
        }
        let name =
            e.attribute("name").map(str::to_string).unwrap_or_else(|| format!("body{}", self.model.bodies.len()));
        if self.model.bodies.iter().any(|b| b.name == name) {
            return Err(e.error(format!("body name \"{name}\" is used twice")));
        }
        let own = self.attrs(e, &class)?;
        let frame = Frame::new(position(&own)?, self.orientation(&own, &e)?);
        let mut body = Body {
            name,
            parent,
            frame,
            attachment: Attachment::Fixed,
            inertial: None,
            geoms: Vec::new(),
            visuals: Vec::new(),
            sites: Vec::new(),
            origin: e.error(""),
        };
        let mut joints = 0;
        let index = self.model.bodies.len();
        let mut children = Vec::new();
        for child in e.children() {
            match child.tag() {
                "body" => children.push(child),
                "joint" | "freejoint" => {
                    joints += 1;
                    if joints > 1 {
                        return Err(child.error(
                            "a body with more than one joint is not supported (each link has one hinge); \
                             split it into bodies",
                        ));
                    }
                    body.attachment = self.joint(child, &class)?;
                }
                "inertial" => body.inertial = Some(self.inertial(child)?),
                "geom" => self.geom(child, &class, &mut body)?,
                "site" => {
                    let attrs = self.attrs(child, &class)?;
                    let site_name = child.attribute("name").unwrap_or("").to_string();
                    if !site_name.is_empty() {
                        body.sites.push((site_name, position(&attrs)?));
                    }
                }
                other => *self.ignored.entry(other.to_string()).or_default() += 1,
            }
        }
        if matches!(body.attachment, Attachment::Free) && parent.is_some() {
            return Err(e.error("a free joint is only supported on a body directly in <worldbody> (a floating base)"));
        }
        self.model.bodies.push(body);
        for child in children {
            self.body(child, Some(index), &class)?;
        }
        Ok(())
    }

    fn joint(&mut self, e: Element, class: &str) -> Result<Attachment, FileError> {
        let attrs = self.attrs(e, class)?;
        let kind =
            if e.tag() == "freejoint" { "free" } else { attrs.get("type").map_or("hinge", |a| a.value.as_str()) };
        let name = e.attribute("name").map(str::to_string);
        match kind {
            "free" => {
                self.qpos_layout.push((name.unwrap_or_default(), 7));
                Ok(Attachment::Free)
            }
            "hinge" => {
                let name =
                    name.ok_or_else(|| e.error("a hinge joint needs a `name` (actuators and poses refer to it)"))?;
                let axis = attrs.get("axis").map(Attr::vector).transpose()?.unwrap_or(DVec3::Z);
                if axis.length() < 1e-9 {
                    return Err(attrs["axis"].error("a joint axis of zero length"));
                }
                let limited = match attrs.get("limited").map(|a| a.value.as_str()) {
                    Some("true") => true,
                    Some("false") => false,
                    _ => self.compiler.autolimits && attrs.contains_key("range"),
                };
                let range = match (limited, attrs.get("range")) {
                    (true, Some(range)) => Some(self.angles(range.range()?)),
                    (true, None) => return Err(e.error("`limited` is true but the joint has no `range`")),
                    (false, _) => None,
                };
                for unsupported in ["armature", "frictionloss"] {
                    if let Some(value) = attrs.get(unsupported).map(Attr::number).transpose()?
                        && value != 0.0
                    {
                        let what = format!(
                            "{unsupported}=\"{value}\" is not simulated (Rapier has no {unsupported}) on joints"
                        );
                        self.model.warnings.add(what, &name);
                    }
                }
                if attrs.get("ref").map(Attr::number).transpose()?.is_some_and(|r| r != 0.0) {
                    return Err(attrs["ref"].error("a non-zero joint `ref` is not supported"));
                }
                self.qpos_layout.push((name.clone(), 1));
                Ok(Attachment::Hinge(Hinge {
                    name,
                    axis: axis.normalize(),
                    anchor: attrs.get("pos").map(Attr::position).transpose()?.unwrap_or(DVec3::ZERO),
                    range,
                    damping: attrs.get("damping").map(|a| a.non_negative(MAX_GAIN)).transpose()?.unwrap_or(0.0),
                    stiffness: attrs.get("stiffness").map(|a| a.non_negative(MAX_GAIN)).transpose()?.unwrap_or(0.0),
                    effort: None,
                }))
            }
            other => {
                let at = attrs.get("type").map_or_else(|| e.error(""), |a| a.at.clone());
                Err(FileError {
                    message: format!("joint type \"{other}\" is not supported (hinge and free joints are)"),
                    ..at
                })
            }
        }
    }

    fn inertial(&self, e: Element) -> Result<Inertial, FileError> {
        let attrs = self.attrs(e, "main")?;
        let mass = attrs.get("mass").ok_or_else(|| e.error("an <inertial> without `mass`"))?.number()?;
        if !(mass > 0.0 && mass <= 1e5) {
            return Err(attrs["mass"].error(format!("expected a positive mass of at most 1e5 kg, found {mass}")));
        }
        let frame = Frame::new(position(&attrs)?, self.orientation(&attrs, &e)?);
        let (moments, products) = match (attrs.get("diaginertia"), attrs.get("fullinertia")) {
            (Some(diagonal), None) => (diagonal.vector()?, DVec3::ZERO),
            (None, Some(full)) => {
                let v = full.numbers(Some(6))?;
                (DVec3::new(v[0], v[1], v[2]), DVec3::new(v[3], v[4], v[5]))
            }
            _ => return Err(e.error("an <inertial> needs exactly one of `diaginertia` and `fullinertia`")),
        };
        Ok(Inertial { mass, frame, moments, products })
    }

    fn geom(&mut self, e: Element, class: &str, body: &mut Body) -> Result<(), FileError> {
        let attrs = self.attrs(e, class)?;
        let kind = attrs.get("type").map_or("sphere", |a| a.value.as_str()).to_string();
        let flag = |name: &str| attrs.get(name).map(Attr::number).transpose().map(|v| v.unwrap_or(1.0));
        let collides = flag("contype")? != 0.0 || flag("conaffinity")? != 0.0;
        let size = attrs.get("size").map(|a| a.numbers(None)).transpose()?.unwrap_or_default();
        let size_at = |k: usize| -> Result<f64, FileError> {
            let value =
                size.get(k).copied().ok_or_else(|| attrs.get("size").map_or_else(|| e.error(""), |a| a.at.clone()));
            match value {
                Ok(v) if v > 0.0 && v <= MAX_LENGTH => Ok(v),
                Ok(v) => {
                    Err(attrs["size"].error(format!("size {k} must be positive and at most {MAX_LENGTH} m, found {v}")))
                }
                Err(at) => Err(FileError { message: format!("a {kind} geom needs `size` entry {k}"), ..at }),
            }
        };
        let mut frame = Frame::new(position(&attrs)?, self.orientation(&attrs, &e)?);
        let shape = match kind.as_str() {
            "sphere" => GeomShape::Sphere { radius: size_at(0)? },
            "box" => GeomShape::Box { half_extents: DVec3::new(size_at(0)?, size_at(1)?, size_at(2)?) },
            "capsule" | "cylinder" => {
                let radius = size_at(0)?;
                let half_length = match attrs.get("fromto") {
                    Some(fromto) => {
                        let v = fromto.numbers(Some(6))?;
                        let (a, b) = (DVec3::new(v[0], v[1], v[2]), DVec3::new(v[3], v[4], v[5]));
                        if a.distance(b) < 1e-9 {
                            return Err(fromto.error("`fromto` ends coincide"));
                        }
                        frame = Frame::new((a + b) / 2.0, DQuat::from_rotation_arc(DVec3::Z, (b - a).normalize()));
                        a.distance(b) / 2.0
                    }
                    None => size_at(1)?,
                };
                if kind == "capsule" {
                    GeomShape::Capsule { radius, half_length }
                } else {
                    GeomShape::Cylinder { radius, half_length }
                }
            }
            "mesh" => {
                let name = attrs.get("mesh").ok_or_else(|| e.error("a mesh geom without `mesh`"))?;
                let (file, scale) = self
                    .meshes
                    .get(&name.value)
                    .cloned()
                    .ok_or_else(|| name.error(format!("no <mesh> asset named \"{}\"", name.value)))?;
                GeomShape::Mesh { file, scale }
            }
            "plane" => return Err(e.error("a plane geom inside a body is not supported (only as the ground)")),
            other => {
                return Err(attrs["type"].error(format!(
                    "geom type \"{other}\" is not supported (sphere, capsule, cylinder, box and mesh are)"
                )));
            }
        };
        if !collides {
            match shape {
                GeomShape::Mesh { file, scale } => body.visuals.push(Visual { file, frame, scale, colour: None }),
                _ => *self.ignored.entry("geom (visual-only primitive)".into()).or_default() += 1,
            }
            return Ok(());
        }
        let friction = attrs.get("friction").map(|a| a.numbers(None)).transpose()?.and_then(|f| f.first().copied());
        let density = attrs.get("density").map(|a| a.non_negative(1e5)).transpose()?.unwrap_or(1000.0);
        if attrs.contains_key("mass") {
            return Err(attrs["mass"].error("geom `mass` is not supported: give the body an <inertial>"));
        }
        body.geoms.push(Geom { shape, frame, friction, density });
        Ok(())
    }

    /// Radians of an angle pair written in the compiler's unit.
    fn angles(&self, (lo, hi): (f64, f64)) -> (f64, f64) {
        if self.compiler.degrees { (lo.to_radians(), hi.to_radians()) } else { (lo, hi) }
    }

    /// MJCF's orientation: one of quat, axisangle, euler, xyaxes, zaxis (identity if none).
    fn orientation(&self, attrs: &Attrs, e: &Element) -> Result<DQuat, FileError> {
        let given: Vec<&str> =
            ["quat", "axisangle", "euler", "xyaxes", "zaxis"].into_iter().filter(|k| attrs.contains_key(*k)).collect();
        if given.len() > 1 {
            return Err(e.error(format!("give one orientation, found {}", given.join(" and "))));
        }
        let unit = |angle: f64| if self.compiler.degrees { angle.to_radians() } else { angle };
        let Some(&kind) = given.first() else { return Ok(DQuat::IDENTITY) };
        let attr = &attrs[kind];
        let rotation = match kind {
            "quat" => attr.quaternion()?,
            "axisangle" => {
                let v = attr.numbers(Some(4))?;
                let axis = DVec3::new(v[0], v[1], v[2]);
                if axis.length() < 1e-9 {
                    return Err(attr.error("an axis of zero length"));
                }
                DQuat::from_axis_angle(axis.normalize(), unit(v[3]))
            }
            "euler" => {
                let v = attr.numbers(Some(3))?;
                let mut q = DQuat::IDENTITY;
                for (axis, angle) in self.compiler.euler_sequence.chars().zip(v) {
                    let r = match axis.to_ascii_lowercase() {
                        'x' => DQuat::from_rotation_x(unit(angle)),
                        'y' => DQuat::from_rotation_y(unit(angle)),
                        _ => DQuat::from_rotation_z(unit(angle)),
                    };
                    // Lower case: axes that move with the frame; upper case: fixed axes.
                    q = if axis.is_ascii_lowercase() { q * r } else { r * q };
                }
                q
            }
            "xyaxes" => {
                let v = attr.numbers(Some(6))?;
                let x = DVec3::new(v[0], v[1], v[2]);
                let y = DVec3::new(v[3], v[4], v[5]);
                let z = x.cross(y);
                if x.length() < 1e-9 || z.length() < 1e-9 {
                    return Err(attr.error("the x and y axes must be non-zero and not parallel"));
                }
                let x = x.normalize();
                let z = z.normalize();
                DQuat::from_mat3(&rapier3d::glamx::DMat3::from_cols(x, z.cross(x), z))
            }
            _ => {
                let z = attr.vector()?;
                if z.length() < 1e-9 {
                    return Err(attr.error("a z axis of zero length"));
                }
                DQuat::from_rotation_arc(DVec3::Z, z.normalize())
            }
        };
        Ok(rotation.normalize())
    }

    fn actuators(&mut self, e: Element) -> Result<(), FileError> {
        for a in e.children() {
            let attrs = self.attrs(a, "main")?;
            let joint =
                match (attrs.get("joint"), attrs.keys().find(|k| ["tendon", "site", "body"].contains(&k.as_str()))) {
                    (Some(joint), _) => joint.value.clone(),
                    (None, Some(other)) => {
                        return Err(
                            attrs[other].error(format!("actuators on a {other} are not supported (joint ones are)"))
                        );
                    }
                    (None, None) => return Err(a.error("an actuator without `joint`")),
                };
            let limited = |key: &str, range: &str| -> Result<Option<(f64, f64)>, FileError> {
                let on = match attrs.get(key).map(|v| v.value.as_str()) {
                    Some("true") => true,
                    Some("false") => false,
                    _ => self.compiler.autolimits && attrs.contains_key(range),
                };
                if on { attrs.get(range).map(Attr::range).transpose() } else { Ok(None) }
            };
            let ctrl = limited("ctrllimited", "ctrlrange")?;
            let force = limited("forcelimited", "forcerange")?.map(|(lo, hi)| lo.abs().max(hi.abs()));
            let gain = |key: &str, default: f64| {
                attrs.get(key).map(|v| v.non_negative(MAX_GAIN)).transpose().map(|v| v.unwrap_or(default))
            };
            let drive = match a.tag() {
                "position" => Drive::Position { kp: gain("kp", 1.0)?, kv: gain("kv", 0.0)?, range: ctrl, force },
                "motor" => {
                    let gear = attrs.get("gear").map(|g| g.numbers(None)).transpose()?.and_then(|g| g.first().copied());
                    Drive::Motor { gear: gear.unwrap_or(1.0), ctrl, force }
                }
                other => {
                    return Err(a.error(format!("actuator <{other}> is not supported (<position> and <motor> are)")));
                }
            };
            self.model.actuators.push(ActuatorSpec { joint, drive, origin: a.error("") });
        }
        Ok(())
    }

    /// The chosen keyframe as a reset pose.
    fn home(&mut self, wanted: Option<&str>) -> Result<(), FileError> {
        let chosen = match wanted {
            Some(name) => Some(self.keyframes.iter().find(|(n, _)| n == name).ok_or_else(|| FileError {
                file: PathBuf::new(),
                line: None,
                column: None,
                field: Some("--keyframe".into()),
                message: format!("no keyframe named \"{name}\" (the file has: {})", self.key_names()),
            })?),
            None => self.keyframes.iter().find(|(n, _)| n == "home").or(self.keyframes.first()),
        };
        let Some((_, qpos)) = chosen else { return Ok(()) };
        let values = qpos.numbers(None)?;
        let needed: usize = self.qpos_layout.iter().map(|(_, width)| width).sum();
        if values.len() != needed {
            return Err(qpos.error(format!(
                "expected {needed} numbers (one per hinge, seven for a free joint), found {}",
                values.len()
            )));
        }
        let mut home = Home::default();
        let mut at = 0;
        for (name, width) in &self.qpos_layout {
            let v = &values[at..at + width];
            if *width == 7 {
                let rotation = DQuat::from_xyzw(v[4], v[5], v[6], v[3]);
                if rotation.length() < 1e-9 {
                    return Err(qpos.error("the free joint's quaternion has zero length"));
                }
                home.base = Some(Frame::new(DVec3::new(v[0], v[1], v[2]), rotation.normalize()));
            } else {
                home.joints.push((name.clone(), v[0]));
            }
            at += width;
        }
        self.model.home = Some(home);
        Ok(())
    }

    fn key_names(&self) -> String {
        self.keyframes.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
    }
}

fn position(attrs: &Attrs) -> Result<DVec3, FileError> {
    Ok(attrs.get("pos").map(Attr::position).transpose()?.unwrap_or(DVec3::ZERO))
}
