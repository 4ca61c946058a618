//! Builds a Rapier world from a scene and keeps the fixed facts (handles, joint frames) about it.

use rapier3d::prelude::*;

use crate::scene::{Actuator, Inertia, Link, PlacedShape, Scene, SceneAssets, Shape};

/// The Rapier state of one world; every part is cloned by `fork`, so a fork evolves identically.
#[derive(Clone)]
pub struct PhysicsState {
    pub bodies: RigidBodySet,
    pub colliders: ColliderSet,
    pub impulse_joints: ImpulseJointSet,
    pub multibody_joints: MultibodyJointSet,
    pub islands: IslandManager,
    pub broad_phase: BroadPhaseBvh,
    pub narrow_phase: NarrowPhase,
    pub ccd_solver: CCDSolver,
    pub parameters: IntegrationParameters,
    pub gravity: Vector,
}

/// A link as built: its body and its pose in the zero configuration.
#[derive(Clone, Debug)]
pub struct LinkInfo {
    pub name: String,
    pub body: RigidBodyHandle,
    pub fixed: bool,
    pub zero_pose: Pose,
}

/// A revolute joint as built, with the frames needed to measure and set its angle.
#[derive(Clone, Debug)]
pub struct JointInfo {
    pub name: String,
    pub parent: usize,
    pub child: usize,
    pub handle: ImpulseJointHandle,
    /// Hinge axis and anchor in the parent's local frame.
    pub axis_in_parent: Vector,
    pub anchor_in_parent: Vector,
    /// Child pose relative to the parent in the zero configuration.
    pub child_in_parent: Pose,
    pub limits: Option<(f32, f32)>,
    /// Angle at reset (the home pose).
    pub home: f32,
    /// What a Position actuator's actions span (its range, else the limits).
    pub target_range: Option<(f32, f32)>,
    pub actuator: Actuator,
}

/// Everything about a built scene that never changes while it simulates.
pub struct Robot {
    pub scene: Scene,
    pub links: Vec<LinkInfo>,
    pub joints: Vec<JointInfo>,
    /// Joints ordered parents first, for forward kinematics.
    pub joint_order: Vec<usize>,
    /// Indices of actuated joints, in action-vector order.
    pub actuated: Vec<usize>,
    /// Whether any actuator applies torques directly (they must be cleared every substep).
    pub has_torque_actuators: bool,
    /// (link index, local offset) of each site.
    pub sites: Vec<(usize, Vector)>,
    /// Site indices drawn in plan traces.
    pub drawn_sites: Vec<usize>,
    pub control_dt: f32,
    pub substeps: u32,
    /// The world in its zero configuration, copied at every reset.
    pub template: PhysicsState,
    /// The ground plane's collider, if the scene has one (drawing layers leave it out).
    pub ground_collider: Option<ColliderHandle>,
}

const ROBOT_GROUP: Group = Group::GROUP_1;
const GROUND_GROUP: Group = Group::GROUP_2;
/// Ground top at y = 0; thick so fast feet cannot tunnel through.
const GROUND_HALF_THICKNESS: f32 = 0.5;
const GROUND_HALF_SIZE: f32 = 500.0;

fn vec3(v: [f32; 3]) -> Vector {
    Vector::new(v[0], v[1], v[2])
}

fn euler(r: [f32; 3]) -> Rotation {
    Rotation::from_euler(glamx::EulerRot::XYZ, r[0], r[1], r[2])
}

impl Robot {
    /// Builds the world of an already validated scene.
    pub fn build(scene: &Scene) -> Robot {
        let physics = &scene.physics;
        let control_dt = 1.0 / physics.control_rate;
        let mut parameters = IntegrationParameters { dt: control_dt / physics.substeps as f32, ..Default::default() };
        parameters.num_solver_iterations = physics.solver_iterations as usize;
        let mut state = PhysicsState {
            bodies: RigidBodySet::new(),
            colliders: ColliderSet::new(),
            impulse_joints: ImpulseJointSet::new(),
            multibody_joints: MultibodyJointSet::new(),
            islands: IslandManager::new(),
            broad_phase: BroadPhaseBvh::default(),
            narrow_phase: NarrowPhase::new(),
            ccd_solver: CCDSolver::new(),
            parameters,
            gravity: vec3(physics.gravity),
        };
        let mut ground_collider = None;
        if let Some(ground) = &physics.ground {
            let body = state.bodies.insert(RigidBodyBuilder::fixed().translation(Vector::new(
                0.0,
                -GROUND_HALF_THICKNESS,
                0.0,
            )));
            let collider = ColliderBuilder::cuboid(GROUND_HALF_SIZE, GROUND_HALF_THICKNESS, GROUND_HALF_SIZE)
                .friction(ground.friction)
                .collision_groups(InteractionGroups::new(GROUND_GROUP, ROBOT_GROUP, InteractionTestMode::And));
            ground_collider = Some(state.colliders.insert_with_parent(collider, body, &mut state.bodies));
        }
        // Only root links get locked axes: locking jointed links too makes Rapier's joint solver
        // inject energy (measured: a pendulum gained 780 J in 10 s), and the revolute joints
        // already keep children in the plane of their root.
        let links: Vec<LinkInfo> = scene
            .robot
            .links
            .iter()
            .map(|link| {
                let is_child = scene.robot.joints.iter().any(|j| j.child == link.name);
                add_link(&mut state, link, physics.planar && !is_child, &scene.assets)
            })
            .collect();
        let index_of = |name: &str| scene.robot.links.iter().position(|l| l.name == name).expect("validated link name");
        let mut joints = Vec::new();
        for joint in &scene.robot.joints {
            let (parent, child) = (index_of(&joint.parent), index_of(&joint.child));
            let (parent_pose, child_pose) = (links[parent].zero_pose, links[child].zero_pose);
            let axis_world = vec3(joint.axis).normalize();
            let anchor_world = vec3(joint.anchor);
            // Both joint frames coincide in the zero configuration, so Rapier's angle is 0 there.
            let frame_rotation = Rotation::from_rotation_arc(Vector::X, axis_world);
            let frame = |pose: Pose| {
                Pose::from_parts(pose.inverse_transform_point(anchor_world), pose.rotation.inverse() * frame_rotation)
            };
            let mut builder = GenericJointBuilder::new(JointAxesMask::LOCKED_REVOLUTE_AXES)
                .local_frame1(frame(parent_pose))
                .local_frame2(frame(child_pose))
                .contacts_enabled(false);
            if let Some((lo, hi)) = joint.limits {
                builder = builder.limits(JointAxis::AngX, [lo, hi]);
            }
            if let Actuator::Position { stiffness, damping, max_force, .. } = joint.actuator {
                let (lo, hi) = joint.target_range().expect("validated: Position actuators have a range");
                builder = builder
                    .motor_model(JointAxis::AngX, MotorModel::ForceBased)
                    .motor_position(JointAxis::AngX, joint.home.clamp(lo, hi), stiffness, damping)
                    .motor_max_force(JointAxis::AngX, max_force);
            }
            if let (Some(spring), false) = (&joint.spring, matches!(joint.actuator, Actuator::Position { .. })) {
                builder = builder.motor_model(JointAxis::AngX, MotorModel::ForceBased).motor_position(
                    JointAxis::AngX,
                    0.0,
                    spring.stiffness,
                    spring.damping,
                );
            }
            let handle = state.impulse_joints.insert(links[parent].body, links[child].body, builder.build(), true);
            joints.push(JointInfo {
                name: joint.name.clone(),
                parent,
                child,
                handle,
                axis_in_parent: parent_pose.rotation.inverse() * axis_world,
                anchor_in_parent: parent_pose.inverse_transform_point(anchor_world),
                child_in_parent: parent_pose.inverse() * child_pose,
                limits: joint.limits,
                home: joint.home,
                target_range: joint.target_range(),
                actuator: joint.actuator.clone(),
            });
        }
        let joint_order = topological_order(&joints);
        let has_torque_actuators = joints.iter().any(|j| matches!(j.actuator, Actuator::Torque { .. }));
        let actuated = (0..joints.len()).filter(|&j| joints[j].actuator.is_actuated()).collect();
        let sites: Vec<(usize, Vector)> =
            scene.robot.sites.iter().map(|s| (index_of(&s.link), vec3(s.offset))).collect();
        let site_index =
            |name: &str| scene.robot.sites.iter().position(|s| s.name == name).expect("validated site name");
        let drawn_sites = if scene.task.draw.is_empty() {
            (0..sites.len()).collect()
        } else {
            scene.task.draw.iter().map(|n| site_index(n)).collect()
        };
        Robot {
            scene: scene.clone(),
            links,
            joints,
            joint_order,
            actuated,
            has_torque_actuators,
            sites,
            drawn_sites,
            control_dt,
            substeps: physics.substeps,
            template: state,
            ground_collider,
        }
    }

    pub fn action_dim(&self) -> usize {
        self.actuated.len()
    }

    pub fn link_index(&self, name: &str) -> Option<usize> {
        self.links.iter().position(|l| l.name == name)
    }

    pub fn joint_index(&self, name: &str) -> Option<usize> {
        self.joints.iter().position(|j| j.name == name)
    }

    pub fn site_index(&self, name: &str) -> Option<usize> {
        self.scene.robot.sites.iter().position(|s| s.name == name)
    }
}

fn add_link(state: &mut PhysicsState, link: &Link, lock_to_plane: bool, assets: &SceneAssets) -> LinkInfo {
    let pose = Pose::from_parts(vec3(link.position), euler(link.rotation));
    let mut builder = if link.fixed {
        RigidBodyBuilder::fixed()
    } else {
        let mut b = RigidBodyBuilder::dynamic().can_sleep(false);
        if lock_to_plane {
            b = b.locked_axes(
                LockedAxes::TRANSLATION_LOCKED_Z | LockedAxes::ROTATION_LOCKED_X | LockedAxes::ROTATION_LOCKED_Y,
            );
        }
        b
    };
    if let Some(inertia) = &link.inertia {
        builder = builder.additional_mass_properties(mass_properties(inertia));
    }
    let body = state.bodies.insert(builder.pose(pose));
    let shapes: Vec<PlacedShape> = link.placed_shapes().collect();
    // Each shape is built once (a mesh's convex hull is not cheap).
    let builders: Vec<ColliderBuilder> = shapes.iter().map(|p| collider(&p.shape, assets)).collect();
    let masses = shape_masses(link.mass, &builders);
    for ((placed, builder), mass) in shapes.iter().zip(builders).zip(masses) {
        let collider = builder
            .position(Pose::from_parts(vec3(placed.position), euler(placed.rotation)))
            .friction(placed.friction.unwrap_or(link.friction))
            .collision_groups(InteractionGroups::new(ROBOT_GROUP, GROUND_GROUP, InteractionTestMode::And));
        let collider = match (mass, link.density, &link.inertia) {
            (_, _, Some(_)) => collider.density(0.0),
            (Some(mass), _, _) => collider.mass(mass),
            (None, Some(density), _) => collider.density(density),
            (None, None, None) => collider,
        };
        state.colliders.insert_with_parent(collider, body, &mut state.bodies);
    }
    // Rapier would compute the mass at the first step; now, so the template reports it.
    state.bodies[body].recompute_mass_properties_from_colliders(&state.colliders);
    LinkInfo { name: link.name.clone(), body, fixed: link.fixed, zero_pose: pose }
}

/// A link's given mass split over its shapes by volume (Rapier takes a mass per collider, not
/// per body); a single shape gets the mass exactly.
fn shape_masses(mass: Option<f32>, builders: &[ColliderBuilder]) -> Vec<Option<f32>> {
    let Some(mass) = mass else { return vec![None; builders.len()] };
    if builders.len() == 1 {
        return vec![Some(mass)];
    }
    let volumes: Vec<f32> = builders.iter().map(|b| b.shape.mass_properties(1.0).mass()).collect();
    let total: f32 = volumes.iter().sum();
    let count = builders.len() as f32;
    volumes.iter().map(|v| Some(if total > 0.0 { mass * v / total } else { mass / count })).collect()
}

/// A collider for one shape in its own frame (placement and material are set by the caller).
fn collider(shape: &Shape, assets: &SceneAssets) -> ColliderBuilder {
    match shape {
        Shape::Box { half_extents: h } => ColliderBuilder::cuboid(h[0], h[1], h[2]),
        Shape::Sphere { radius } => ColliderBuilder::ball(*radius),
        Shape::Capsule { from, to, radius } => ColliderBuilder::capsule_from_endpoints(vec3(*from), vec3(*to), *radius),
        Shape::Cylinder { half_height, radius } => ColliderBuilder::cylinder(*half_height, *radius),
        Shape::ConvexMesh { file, scale } => {
            let mesh = assets.collision_mesh(file).expect("collision meshes are read when the scene loads");
            let points: Vec<Vector> = mesh.vertices.iter().map(|v| vec3(*v) * vec3(*scale)).collect();
            // A flat or degenerate mesh has no hull; a small ball keeps the link collidable.
            ColliderBuilder::convex_hull(&points).unwrap_or_else(|| ColliderBuilder::ball(1e-3))
        }
    }
}

/// Rapier's mass properties of an explicit inertia: the tensor R·I·Rᵀ about the centre of mass.
pub fn mass_properties(inertia: &Inertia) -> MassProperties {
    let [ixx, iyy, izz] = inertia.moments;
    let [ixy, ixz, iyz] = inertia.products;
    let tensor = Matrix::from_cols(Vector::new(ixx, ixy, ixz), Vector::new(ixy, iyy, iyz), Vector::new(ixz, iyz, izz));
    let rotation = Matrix::from_quat(euler(inertia.rotation));
    MassProperties::with_inertia_matrix(vec3(inertia.centre), inertia.mass, rotation * tensor * rotation.transpose())
}

/// Joint indices so that a joint comes after the joint that moves its parent link.
fn topological_order(joints: &[JointInfo]) -> Vec<usize> {
    let mut order = Vec::with_capacity(joints.len());
    let mut placed = vec![false; joints.len()];
    while order.len() < joints.len() {
        let before = order.len();
        for (j, joint) in joints.iter().enumerate() {
            let parent_ready = joints.iter().enumerate().all(|(k, other)| other.child != joint.parent || placed[k]);
            if !placed[j] && parent_ready {
                placed[j] = true;
                order.push(j);
            }
        }
        if order.len() == before {
            break; // validation rejects loops; never spin
        }
    }
    order
}
