//! Pushing the robot from the studio: Ctrl + right-drag on a link pulls it toward the cursor
//! with a spring (as MuJoCo's viewer does), the panel's buttons give a push of a chosen size,
//! and every active push is drawn as an arrow. Pushes go to the control loop as inputs, so a
//! pushed run stays identical between the loop and the studio's copy.

use bevy::input::keyboard::KeyCode;
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::egui;
use rapier3d::prelude::*;

use super::StudioSet;
use super::experiment::Experiment;
use super::panels::{WidgetRects, named_slider};
use crate::sim::Env;
use crate::sim::Push;
use crate::sim::measure::link_pose;

/// The panel's push settings and the drag in progress.
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct PushTool {
    /// Force of a button push (N).
    pub size: f32,
    /// Control steps a button push lasts.
    pub duration_steps: u32,
    /// The link and point (link frame) the mouse holds, and the grab's distance from the camera.
    pub grab: Option<Grab>,
}

/// Where a drag holds the robot.
#[derive(Clone, Debug, PartialEq)]
pub struct Grab {
    pub link: usize,
    /// The grabbed point in the link's frame.
    pub local: [f32; 3],
    /// Distance from the camera along the first ray: the cursor moves on a sphere of it.
    pub depth: f32,
}

impl Default for PushTool {
    fn default() -> Self {
        PushTool { size: 40.0, duration_steps: 3, grab: None }
    }
}

/// Spring stiffness of the drag per kilogram of robot (N/m/kg): the pull rises with the
/// distance to the cursor, scaled so light and heavy robots feel alike.
pub const DRAG_STIFFNESS_PER_KG: f32 = 60.0;

/// Arrows are drawn this many metres long per newton.
const ARROW_METRES_PER_NEWTON: f32 = 0.01;

pub struct PushToolPlugin;

/// The ray under the cursor this frame (world frame), if the cursor is over the window.
#[derive(Resource, Default, Clone, Copy, Debug, PartialEq)]
pub struct CursorRay(pub Option<Ray3d>);

impl Plugin for PushToolPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<PushTool>()
            .init_resource::<CursorRay>()
            .add_systems(Update, (cursor_ray, mouse_drag).chain().in_set(StudioSet::Input))
            .add_systems(Update, draw_pushes.in_set(StudioSet::View));
    }
}

/// The camera ray through the cursor.
fn cursor_ray(
    windows: Query<&Window, With<PrimaryWindow>>,
    cameras: Query<(&Camera, &GlobalTransform), With<Camera3d>>,
    mut ray: ResMut<CursorRay>,
) {
    ray.0 = windows.single().ok().and_then(Window::cursor_position).and_then(|cursor| {
        let (camera, transform) = cameras.single().ok()?;
        camera.viewport_to_world(transform, cursor).ok()
    });
}

/// The first link a ray (world frame) hits: the link, the hit point in its frame and the
/// distance along the ray.
pub fn pick_link(env: &Env, origin: Vec3, direction: Vec3) -> Option<Grab> {
    let ray = Ray::new(origin, direction.normalize());
    let state = env.physics();
    let mut best: Option<Grab> = None;
    for (link, info) in env.robot().links.iter().enumerate() {
        for &collider in state.bodies[info.body].colliders() {
            let shape = &state.colliders[collider];
            let Some(t) = shape.shape().cast_ray(shape.position(), &ray, f32::MAX, true) else { continue };
            if best.as_ref().is_none_or(|b| t < b.depth) {
                let local = link_pose(state, env.robot(), link).inverse_transform_point(ray.point_at(t));
                best = Some(Grab { link, local: local.to_array(), depth: t });
            }
        }
    }
    best
}

/// The spring force pulling `grab`'s point toward `target` (world frame), held for one step.
pub fn drag_push(env: &Env, grab: &Grab, target: Vec3) -> Push {
    let robot = env.robot();
    let mass: f32 = robot.links.iter().map(|l| env.physics().bodies[l.body].mass()).sum();
    let anchor = link_pose(env.physics(), robot, grab.link).transform_point(Vec3::from_array(grab.local));
    let force = (target - anchor) * DRAG_STIFFNESS_PER_KG * mass.max(0.1);
    Push { link: grab.link, force: force.to_array(), at: Some(grab.local), steps: 1 }
}

/// A push of `tool.size` newtons on the robot's base along `direction` (world, horizontal).
pub fn button_push(tool: &PushTool, direction: Vec3) -> Push {
    let force = direction.normalize_or_zero() * tool.size;
    Push { link: 0, force: force.to_array(), at: None, steps: tool.duration_steps.max(1) }
}

/// The panel section: size and duration sliders and four push buttons (along ±X, ±Z).
pub fn push_controls(ui: &mut egui::Ui, tool: &mut PushTool, experiment: &mut Experiment) -> WidgetRects {
    let mut rects = WidgetRects::new();
    named_slider(
        ui,
        &mut rects,
        "push_size",
        egui::Slider::new(&mut tool.size, 0.0..=300.0).text("push (N)"),
        "Force of a push on the robot's base.",
    );
    named_slider(
        ui,
        &mut rects,
        "push_steps",
        egui::Slider::new(&mut tool.duration_steps, 1..=20).text("for (steps)"),
        "Control steps a push lasts.",
    );
    ui.horizontal(|ui| {
        let buttons: [(&'static str, &str, Vec3); 4] = [
            ("push_back", "← back", Vec3::NEG_X),
            ("push_forward", "forward →", Vec3::X),
            ("push_left", "left", Vec3::NEG_Z),
            ("push_right", "right", Vec3::Z),
        ];
        for (name, label, direction) in buttons {
            let response = ui.button(label).on_hover_text("Push the robot's base (Ctrl + right-drag pulls any link).");
            rects.insert(name, response.rect);
            if response.clicked()
                && let Err(e) = experiment.push(button_push(tool, direction))
            {
                experiment.ui.message = Some(format!("push refused: {e}"));
            }
        }
    });
    rects
}

/// Ctrl + right-drag: grab the link under the cursor and pull it toward the cursor.
pub fn mouse_drag(
    keys: Res<ButtonInput<KeyCode>>,
    buttons: Res<ButtonInput<MouseButton>>,
    ray: Res<CursorRay>,
    mut tool: ResMut<PushTool>,
    mut experiment: ResMut<Experiment>,
) {
    let ctrl = keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]);
    let held = ctrl && buttons.pressed(MouseButton::Right);
    if !held {
        tool.grab = None;
        let _ = experiment.set_drag(None);
        return;
    }
    let Some(ray) = ray.0 else { return };
    if buttons.just_pressed(MouseButton::Right) {
        tool.grab = pick_link(&experiment.run.env, ray.origin, *ray.direction);
    }
    if let Some(grab) = tool.grab.clone() {
        let target = ray.origin + *ray.direction * grab.depth;
        let push = drag_push(&experiment.run.env, &grab, target);
        let _ = experiment.set_drag(Some(push));
    }
}

/// Arrows for the drag and for the pushes acting now, from the pushed point.
fn draw_pushes(experiment: Res<Experiment>, mut gizmos: Gizmos) {
    let env = &experiment.run.env;
    let pushes = experiment.run.drag.iter().chain(env.active_pushes());
    for push in pushes {
        let pose = link_pose(env.physics(), env.robot(), push.link);
        let from = match push.at {
            Some(at) => pose.transform_point(Vec3::from_array(at)),
            None => env.physics().bodies[env.robot().links[push.link].body].center_of_mass(),
        };
        let to = from + Vec3::from_array(push.force) * ARROW_METRES_PER_NEWTON;
        gizmos.arrow(from, to, Color::srgb(1.0, 0.25, 0.1));
    }
}
