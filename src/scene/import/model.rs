//! The robot as read from a URDF or MJCF file, before it becomes a scene: a body tree in the
//! source file's own frames (Z up), in f64, with every number as the file gives it.

use std::path::PathBuf;

use rapier3d::glamx::{DMat3, DQuat, DVec3};

use crate::format::FileError;

/// A rigid transform: where a child frame sits in its parent's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    pub position: DVec3,
    pub rotation: DQuat,
}

impl Frame {
    pub const IDENTITY: Frame = Frame { position: DVec3::ZERO, rotation: DQuat::IDENTITY };

    pub fn new(position: DVec3, rotation: DQuat) -> Frame {
        Frame { position, rotation }
    }

    /// `self ∘ inner`: `inner` expressed in `self`'s parent frame.
    pub fn then(&self, inner: &Frame) -> Frame {
        Frame { position: self.point(inner.position), rotation: (self.rotation * inner.rotation).normalize() }
    }

    pub fn point(&self, p: DVec3) -> DVec3 {
        self.position + self.rotation * p
    }
}

/// How a body hangs from its parent.
#[derive(Clone, Debug, PartialEq)]
pub enum Attachment {
    /// Welded: merged into the parent when the scene is built.
    Fixed,
    /// A floating base (MJCF `<freejoint>`, a URDF root).
    Free,
    Hinge(Hinge),
}

/// A revolute joint, in the child body's frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Hinge {
    pub name: String,
    pub axis: DVec3,
    pub anchor: DVec3,
    pub range: Option<(f64, f64)>,
    pub damping: f64,
    pub stiffness: f64,
    /// URDF `<limit effort>`: the actuator's force limit when one is made for the joint.
    pub effort: Option<f64>,
}

/// Mass properties as the file gives them: a tensor (moments, products) in a frame at the
/// centre of mass.
#[derive(Clone, Debug, PartialEq)]
pub struct Inertial {
    pub mass: f64,
    pub frame: Frame,
    pub moments: DVec3,
    /// (ixy, ixz, iyz).
    pub products: DVec3,
}

impl Inertial {
    /// The tensor in the body frame, about the centre of mass.
    pub fn tensor_in_body(&self) -> DMat3 {
        let (m, p) = (self.moments, self.products);
        let tensor = DMat3::from_cols(DVec3::new(m.x, p.x, p.y), DVec3::new(p.x, m.y, p.z), DVec3::new(p.y, p.z, m.z));
        let r = DMat3::from_quat(self.frame.rotation);
        r * tensor * r.transpose()
    }

    /// Two bodies' mass properties as one (parallel-axis theorem), in the common frame.
    pub fn combine(a: &Inertial, b: &Inertial) -> Inertial {
        let mass = a.mass + b.mass;
        let centre = (a.frame.position * a.mass + b.frame.position * b.mass) / mass;
        let shifted = |i: &Inertial| {
            let d = i.frame.position - centre;
            i.tensor_in_body() + (DMat3::IDENTITY * d.length_squared() - outer(d, d)) * i.mass
        };
        let t = shifted(a) + shifted(b);
        Inertial {
            mass,
            frame: Frame::new(centre, DQuat::IDENTITY),
            moments: DVec3::new(t.x_axis.x, t.y_axis.y, t.z_axis.z),
            products: DVec3::new(t.y_axis.x, t.z_axis.x, t.z_axis.y),
        }
    }

    /// The same mass properties seen from a parent frame in which this body sits at `frame`.
    pub fn moved(&self, frame: &Frame) -> Inertial {
        Inertial { frame: frame.then(&self.frame), ..self.clone() }
    }
}

fn outer(a: DVec3, b: DVec3) -> DMat3 {
    DMat3::from_cols(a * b.x, a * b.y, a * b.z)
}

/// A collision shape in the source's conventions (cylinders and capsules along local Z).
#[derive(Clone, Debug, PartialEq)]
pub enum GeomShape {
    Box { half_extents: DVec3 },
    Sphere { radius: f64 },
    Capsule { radius: f64, half_length: f64 },
    Cylinder { radius: f64, half_length: f64 },
    Mesh { file: PathBuf, scale: DVec3 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Geom {
    pub shape: GeomShape,
    pub frame: Frame,
    pub friction: Option<f64>,
    /// Mass given on the geom (MJCF `mass`), or its density (MJCF `density`, default 1000).
    pub density: f64,
}

/// A mesh drawn for a body.
#[derive(Clone, Debug, PartialEq)]
pub struct Visual {
    pub file: PathBuf,
    pub frame: Frame,
    pub scale: DVec3,
    pub colour: Option<[f64; 3]>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    pub name: String,
    pub parent: Option<usize>,
    /// The body frame in the parent's frame (the world's for a root) at zero joint angles.
    pub frame: Frame,
    pub attachment: Attachment,
    pub inertial: Option<Inertial>,
    pub geoms: Vec<Geom>,
    pub visuals: Vec<Visual>,
    /// Named points in the body frame.
    pub sites: Vec<(String, DVec3)>,
    /// Where the body is defined, for errors found after parsing.
    pub origin: FileError,
}

/// How an action drives a joint, as the file says.
#[derive(Clone, Debug, PartialEq)]
pub enum Drive {
    /// MJCF `<position kp kv ctrlrange forcerange>`.
    Position { kp: f64, kv: f64, range: Option<(f64, f64)>, force: Option<f64> },
    /// MJCF `<motor gear ctrlrange forcerange>`; URDF effort-limited torque.
    Motor { gear: f64, ctrl: Option<(f64, f64)>, force: Option<f64> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ActuatorSpec {
    pub joint: String,
    pub drive: Drive,
    pub origin: FileError,
}

/// A reset pose: the floating base's frame in the world and joint angles by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Home {
    pub base: Option<Frame>,
    pub joints: Vec<(String, f64)>,
}

/// A whole robot file.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: String,
    /// Parents come before their children.
    pub bodies: Vec<Body>,
    pub actuators: Vec<ActuatorSpec>,
    pub home: Option<Home>,
    /// Seconds per physics step, when the file says.
    pub timestep: Option<f64>,
    /// Ground friction, when the file has a ground plane.
    pub ground_friction: Option<f64>,
    /// Parts of the file the simulator cannot honour, named for the user.
    pub warnings: Warnings,
}

impl Model {
    /// An empty model, to be filled by a reader.
    pub fn named(name: String) -> Model {
        Model {
            name,
            bodies: Vec::new(),
            actuators: Vec::new(),
            home: None,
            timestep: None,
            ground_friction: None,
            warnings: Warnings::default(),
        }
    }
}

/// What the simulator cannot honour, one line per kind of problem naming every joint or link it
/// concerns (a quadruped repeats each problem twelve times).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Warnings(Vec<(String, Vec<String>)>);

impl Warnings {
    /// Records `what` about `subject` (a joint or link name; empty for the whole file).
    pub fn add(&mut self, what: impl Into<String>, subject: &str) {
        let what = what.into();
        let index = match self.0.iter().position(|(w, _)| *w == what) {
            Some(i) => i,
            None => {
                self.0.push((what, Vec::new()));
                self.0.len() - 1
            }
        };
        if !subject.is_empty() {
            self.0[index].1.push(subject.to_string());
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(what, subjects)| match subjects.as_slice() {
                [] => what.clone(),
                names => format!("{what}: {}", names.join(", ")),
            })
            .collect()
    }
}
