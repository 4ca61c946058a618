//! Orbit / pan / zoom camera with a follow mode; it ignores the mouse while egui uses it.

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy_egui::EguiContexts;

use super::StudioSet;
use super::experiment::Experiment;
use super::panels::FreeViewport;
use bevy::window::PrimaryWindow;

/// Where the camera looks from, as an orbit around `focus`.
#[derive(Resource, Clone, Debug)]
pub struct OrbitCamera {
    pub focus: Vec3,
    /// Radians around the vertical axis and above the horizon.
    pub yaw: f32,
    pub pitch: f32,
    pub distance: f32,
    /// Keep the focus on the robot's first moving link.
    pub follow: bool,
}

impl Default for OrbitCamera {
    fn default() -> Self {
        OrbitCamera { focus: Vec3::new(0.0, 0.8, 0.0), yaw: 0.0, pitch: 0.25, distance: 4.0, follow: true }
    }
}

impl OrbitCamera {
    /// A view that frames a scene's robot: focus on the links' centre, distance from their spread.
    pub fn framing(scene: &crate::scene::Scene) -> OrbitCamera {
        let positions: Vec<Vec3> = scene.robot.links.iter().map(|l| Vec3::from_array(l.position)).collect();
        let centre = positions.iter().copied().sum::<Vec3>() / positions.len().max(1) as f32;
        let spread = positions.iter().map(|p| p.distance(centre)).fold(0.0, f32::max);
        OrbitCamera { focus: centre, distance: 2.5 + 3.0 * (spread + 0.4), ..OrbitCamera::default() }
    }

    pub fn transform(&self) -> Transform {
        let offset = Vec3::new(self.yaw.sin() * self.pitch.cos(), self.pitch.sin(), self.yaw.cos() * self.pitch.cos())
            * self.distance;
        Transform::from_translation(self.focus + offset).looking_at(self.focus, Vec3::Y)
    }
}

pub struct CameraPlugin;

impl Plugin for CameraPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<OrbitCamera>()
            .add_systems(Startup, spawn_camera)
            .add_systems(Update, mouse_controls.in_set(StudioSet::Input))
            .add_systems(Update, (frame_new_scene, follow_robot, place_camera).chain().in_set(StudioSet::View));
    }
}

fn spawn_camera(mut commands: Commands, orbit: Res<OrbitCamera>) {
    // No multisampling: on a software renderer (llvmpipe) it costs more than it shows.
    commands.spawn((Camera3d::default(), Msaa::Off, orbit.transform()));
}

/// Re-frames the camera when a scene is opened.
fn frame_new_scene(
    experiment: Res<Experiment>,
    mut framed: Local<Option<std::path::PathBuf>>,
    mut orbit: ResMut<OrbitCamera>,
) {
    if framed.as_ref() != Some(&experiment.run.scene_path) {
        let follow = orbit.follow;
        *orbit = OrbitCamera { follow, ..OrbitCamera::framing(&experiment.run.scene) };
        *framed = Some(experiment.run.scene_path.clone());
    }
}

/// Left drag orbits, right (without Ctrl) or middle drag pans, the wheel zooms — only for gestures that start
/// over the free 3D area, never for ones that start on a panel widget.
#[allow(clippy::too_many_arguments)]
fn mouse_controls(
    mut contexts: EguiContexts,
    free: Res<FreeViewport>,
    windows: Query<&Window, With<PrimaryWindow>>,
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    mut orbit: ResMut<OrbitCamera>,
    mut drag_owned: Local<bool>,
) {
    let egui_busy = contexts.ctx_mut().is_ok_and(|ctx| ctx.egui_wants_pointer_input() || ctx.is_pointer_over_egui());
    let cursor = windows.single().ok().and_then(Window::cursor_position);
    let over_view = !egui_busy
        && match (cursor, free.0) {
            (Some(p), Some(rect)) => rect.contains(bevy_egui::egui::pos2(p.x, p.y)),
            (Some(_), None) => true,
            (None, _) => false,
        };
    let drag_buttons = [MouseButton::Left, MouseButton::Right, MouseButton::Middle];
    if buttons.any_just_pressed(drag_buttons) {
        *drag_owned = over_view;
    }
    if !buttons.any_pressed(drag_buttons) {
        *drag_owned = false;
    }
    let delta = motion.delta;
    if *drag_owned && buttons.pressed(MouseButton::Left) {
        orbit.yaw -= delta.x * 0.008;
        orbit.pitch = (orbit.pitch + delta.y * 0.008).clamp(-0.2, 1.5);
    }
    // Ctrl + right drag pushes the robot (the push tool), it does not pan.
    let ctrl = keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]);
    let pan = (buttons.pressed(MouseButton::Right) && !ctrl) || buttons.pressed(MouseButton::Middle);
    if *drag_owned && pan {
        let transform = orbit.transform();
        let scale = orbit.distance * 0.0015;
        let pan = (transform.right() * -delta.x + transform.up() * delta.y) * scale;
        orbit.focus += pan;
        orbit.follow = false;
    }
    let lines = match scroll.unit {
        MouseScrollUnit::Line => scroll.delta.y,
        MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
    };
    if over_view && lines != 0.0 {
        orbit.distance = (orbit.distance * (1.0 - 0.1 * lines)).clamp(0.5, 60.0);
    }
}

fn follow_robot(experiment: Res<Experiment>, mut orbit: ResMut<OrbitCamera>) {
    if !orbit.follow {
        return;
    }
    let robot = experiment.run.env.robot();
    if let Some(link) = robot.links.iter().find(|l| !l.fixed) {
        let x = experiment.run.env.physics().bodies[link.body].translation().x;
        orbit.focus.x += (x - orbit.focus.x) * 0.5;
    }
}

fn place_camera(orbit: Res<OrbitCamera>, mut cameras: Query<&mut Transform, With<Camera3d>>) {
    for mut transform in &mut cameras {
        *transform = orbit.transform();
    }
}
