//! The 3D view: ground, lights, one mesh per robot link following the simulation, and the
//! planner's trajectories drawn as gizmo lines.

use bevy::prelude::*;

use super::StudioSet;
use super::camera::OrbitCamera;
use super::experiment::Experiment;
use super::traces::{Layer, Strip, TraceOptions, history_strips, plan_strips};
use crate::format::mesh::{TriangleMesh, read_mesh_shared as read_mesh};
use crate::scene::{Link, SceneAssets, Shape};

/// Wide lines: the mean plan, elites, the executed path.
#[derive(Default, Reflect, GizmoConfigGroup)]
pub struct ThickLines;

/// What the trace layers show (toggled from the panel and the T key).
#[derive(Resource, Default, Clone, Debug)]
pub struct TraceSettings {
    pub options: TraceOptions,
    pub hidden: bool,
}

/// Marks the shaded ground plane (hidden when the frame budget has no room for it).
#[derive(Component)]
pub struct Ground;

/// Marks the entity that shows robot link `.0`.
#[derive(Component)]
pub struct RobotLink(pub usize);

/// Which scene the spawned meshes belong to, to rebuild them when the scene changes.
#[derive(Resource, Default)]
struct SpawnedScene(Option<std::path::PathBuf>);

pub struct ViewPlugin;

impl Plugin for ViewPlugin {
    fn build(&self, app: &mut App) {
        app.init_gizmo_group::<ThickLines>()
            .init_resource::<TraceSettings>()
            .init_resource::<SpawnedScene>()
            .add_systems(Startup, (setup_world, widen_thick_lines))
            .add_systems(
                Update,
                ((spawn_robot, sync_links, draw_traces).chain(), draw_ground_grid).in_set(StudioSet::View),
            );
    }
}

fn widen_thick_lines(mut store: ResMut<GizmoConfigStore>) {
    let (config, _) = store.config_mut::<ThickLines>();
    config.line.width = 5.0;
    let (config, _) = store.config_mut::<DefaultGizmoConfigGroup>();
    config.line.width = 1.5;
}

fn setup_world(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    commands.spawn((
        DirectionalLight { illuminance: 9000.0, shadow_maps_enabled: true, ..default() },
        Transform::from_xyz(3.0, 8.0, 5.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.insert_resource(GlobalAmbientLight { brightness: 400.0, ..default() });
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(200.0, 200.0))),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color: Color::srgb(0.32, 0.34, 0.36),
            perceptual_roughness: 0.95,
            ..default()
        })),
        Transform::default(),
        Ground,
    ));
}

/// Ground grid lines, 1 m apart, around the camera's focus (snapped to whole metres so the
/// lines stay put on the ground while the camera follows the robot). Lines cost a software
/// renderer almost nothing, unlike the shaded plane, so the grid is the ground there.
fn draw_ground_grid(orbit: Res<OrbitCamera>, mut gizmos: Gizmos) {
    const CELLS: u32 = 40;
    let centre = Vec3::new(orbit.focus.x.round(), 0.002, orbit.focus.z.round());
    let flat = Isometry3d::new(centre, Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2));
    gizmos.grid(flat, UVec2::splat(CELLS), Vec2::ONE, Color::srgba(0.75, 0.78, 0.82, 0.35));
}

/// (Re)spawns link meshes when the experiment's scene differs from the one shown.
fn spawn_robot(
    mut commands: Commands,
    experiment: Res<Experiment>,
    mut spawned: ResMut<SpawnedScene>,
    existing: Query<Entity, With<RobotLink>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    if spawned.0.as_ref() == Some(&experiment.run.scene_path) {
        return;
    }
    for entity in &existing {
        commands.entity(entity).despawn();
    }
    let scene = &experiment.run.scene;
    for (index, link) in scene.robot.links.iter().enumerate() {
        let parts: Vec<(Mesh, Transform, [f32; 3])> = link_parts(link, &scene.assets);
        let mut children = Vec::with_capacity(parts.len());
        for (mesh, placement, [r, g, b]) in parts {
            let material =
                StandardMaterial { base_color: Color::srgb(r, g, b), perceptual_roughness: 0.6, ..default() };
            children.push((Mesh3d(meshes.add(mesh)), MeshMaterial3d(materials.add(material)), placement));
        }
        commands.spawn((RobotLink(index), Transform::default(), Visibility::default())).with_children(|parent| {
            for child in children {
                parent.spawn(child);
            }
        });
    }
    spawned.0 = Some(experiment.run.scene_path.clone());
}

/// What is drawn for a link, in its frame: its visual meshes when they all load, else its
/// collision shapes (a missing visual mesh is a warning, not an error: the robot still runs).
pub fn link_parts(link: &Link, assets: &SceneAssets) -> Vec<(Mesh, Transform, [f32; 3])> {
    let visuals: Result<Vec<_>, String> = link
        .visuals
        .iter()
        .map(|visual| {
            let path = assets.path(&visual.file);
            let mesh = read_mesh(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let placement = placement(visual.position, visual.rotation).with_scale(Vec3::from_array(visual.scale));
            Ok((triangle_mesh(&mesh), placement, visual.colour.unwrap_or(link.colour)))
        })
        .collect();
    match visuals {
        Ok(parts) if !parts.is_empty() => parts,
        Ok(_) => collision_parts(link, assets),
        Err(problem) => {
            warn!("link \"{}\" is drawn from its collision shapes: visual mesh {problem}", link.name);
            collision_parts(link, assets)
        }
    }
}

fn collision_parts(link: &Link, assets: &SceneAssets) -> Vec<(Mesh, Transform, [f32; 3])> {
    link.placed_shapes()
        .map(|placed| {
            let (mesh, offset) = shape_mesh(&placed.shape, assets);
            (mesh, placement(placed.position, placed.rotation) * offset, link.colour)
        })
        .collect()
}

fn placement(position: [f32; 3], rotation: [f32; 3]) -> Transform {
    let [x, y, z] = rotation;
    Transform::from_translation(Vec3::from_array(position)).with_rotation(Quat::from_euler(EulerRot::XYZ, x, y, z))
}

/// A flat-shaded Bevy mesh of a triangle mesh.
fn triangle_mesh(mesh: &TriangleMesh) -> Mesh {
    use bevy::asset::RenderAssetUsages;
    use bevy::mesh::{Indices, PrimitiveTopology};
    Mesh::new(PrimitiveTopology::TriangleList, RenderAssetUsages::default())
        .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, mesh.vertices.clone())
        .with_inserted_indices(Indices::U32(mesh.triangles.iter().flatten().copied().collect()))
        .with_duplicated_vertices()
        .with_computed_flat_normals()
}

/// A mesh for one collision shape and its placement in the shape's frame.
pub fn shape_mesh(shape: &Shape, assets: &SceneAssets) -> (Mesh, Transform) {
    match shape {
        Shape::Box { half_extents: h } => {
            (Cuboid::new(2.0 * h[0], 2.0 * h[1], 2.0 * h[2]).into(), Transform::default())
        }
        Shape::Sphere { radius } => (Sphere::new(*radius).mesh().uv(24, 16), Transform::default()),
        Shape::Cylinder { half_height, radius } => {
            (Cylinder::new(*radius, 2.0 * half_height).into(), Transform::default())
        }
        Shape::Capsule { from, to, radius } => {
            let (a, b) = (Vec3::from_array(*from), Vec3::from_array(*to));
            let length = a.distance(b);
            let direction = if length > 1e-6 { (b - a) / length } else { Vec3::Y };
            let placement =
                Transform::from_translation((a + b) / 2.0).with_rotation(Quat::from_rotation_arc(Vec3::Y, direction));
            (Capsule3d::new(*radius, length).into(), placement)
        }
        Shape::ConvexMesh { file, scale } => {
            let mesh =
                assets.collision_mesh(file).map(|m| triangle_mesh(m)).unwrap_or_else(|| Sphere::new(0.01).into());
            (mesh, Transform::from_scale(Vec3::from_array(*scale)))
        }
    }
}

/// Copies link poses from the simulation into the link entities.
fn sync_links(experiment: Res<Experiment>, mut links: Query<(&RobotLink, &mut Transform)>) {
    let robot = experiment.run.env.robot();
    let bodies = &experiment.run.env.physics().bodies;
    // A scrubbed timeline shows the robot as it was at that step.
    let shown = experiment.history.timeline.shown();
    for (link, mut transform) in &mut links {
        if let Some(p) = shown.and_then(|frame| frame.poses.get(link.0)) {
            transform.translation = Vec3::new(p[0], p[1], p[2]);
            transform.rotation = Quat::from_xyzw(p[3], p[4], p[5], p[6]);
        } else if let Some(info) = robot.links.get(link.0) {
            let pose = bodies[info.body].position();
            transform.translation = pose.translation;
            transform.rotation = pose.rotation;
        }
    }
}

fn colour(c: [f32; 4]) -> Color {
    Color::srgba(c[0], c[1], c[2], c[3])
}

/// Draws the last plan's strips and the executed path / ghost.
fn draw_traces(
    experiment: Res<Experiment>,
    settings: Res<TraceSettings>,
    ab: Option<Res<super::ab_plans::AbPlans>>,
    mut thin: Gizmos,
    mut thick: Gizmos<ThickLines>,
) {
    if settings.hidden {
        return;
    }
    let mut strips: Vec<Strip> = Vec::new();
    // While A/B plans are drawn they replace the run's own plan.
    let ab_shown = ab.is_some_and(|ab| ab.shown && ab.result.is_some());
    if let Some(frame) = experiment.history.timeline.shown() {
        // Scrubbed: the plan made at that step (if its plan is still kept).
        if let Some(trace) = &frame.trace {
            strips.extend(plan_strips(trace, &settings.options));
        }
    } else if !ab_shown {
        if let Some(trace) = &experiment.history.last_trace {
            strips.extend(plan_strips(trace, &settings.options));
        }
        let executed: Vec<Vec<[f32; 3]>> = experiment.executed_since_ghost();
        strips.extend(history_strips(&executed, experiment.ghost(), &settings.options));
    }
    for strip in strips {
        let points = strip.points.iter().map(|p| Vec3::from_array(*p));
        match strip.layer {
            Layer::Sample | Layer::Ghost => thin.linestrip(points, colour(strip.colour)),
            Layer::Elite | Layer::Mean | Layer::Executed => thick.linestrip(points, colour(strip.colour)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::mesh::read_mesh;
    use crate::scene::load_scene;

    #[test]
    fn imported_links_are_drawn_from_their_meshes_or_else_their_collision_shapes() {
        // Solo12 ships its STL meshes: each link is drawn from them, one flat-shaded triangle
        // per triangle of the file.
        let solo = load_scene(std::path::Path::new("scenes/solo12.ron")).unwrap();
        let base = &solo.robot.links[0];
        let parts = link_parts(base, &solo.assets);
        assert_eq!(parts.len(), base.visuals.len());
        let triangles = read_mesh(&solo.assets.path(&base.visuals[0].file)).unwrap().triangles.len();
        assert_eq!(parts[0].0.count_vertices(), 3 * triangles);
        // Go1's visual meshes are not in the repository: its trunk is drawn as its eight shapes.
        let go1 = load_scene(std::path::Path::new("scenes/go1.ron")).unwrap();
        let trunk = &go1.robot.links[0];
        assert!(trunk.visuals.is_empty());
        assert_eq!(link_parts(trunk, &go1.assets).len(), 8);
    }

    #[test]
    fn a_missing_visual_mesh_falls_back_to_the_collision_shapes() {
        let mut solo = load_scene(std::path::Path::new("scenes/solo12.ron")).unwrap();
        let link = &mut solo.robot.links[0];
        link.visuals[0].file = "no/such/mesh.stl".into();
        let parts = link_parts(link, &solo.assets);
        assert_eq!(parts.len(), link.shapes.len());
    }
}
