//! The physics debug layer (P): collision shapes, joint anchors and axes, and the live env's
//! contact points and normals, drawn from Rapier's own debug-render pipeline, so a user can see
//! why an imported robot misbehaves (a hull too big, an axis flipped, a foot not touching).

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use rapier3d::pipeline::{DebugRenderBackend, DebugRenderMode, DebugRenderObject, DebugRenderPipeline};
use rapier3d::prelude::{DebugColor, Vector};

use super::StudioSet;
use super::experiment::Experiment;
use crate::sim::Env;

/// What the layer shows; off until P (or the panel's checkbox) turns it on.
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct PhysicsDebug {
    pub shown: bool,
    pub shapes: bool,
    pub joints: bool,
    pub contacts: bool,
}

impl Default for PhysicsDebug {
    fn default() -> Self {
        PhysicsDebug { shown: false, shapes: true, joints: true, contacts: true }
    }
}

impl PhysicsDebug {
    fn mode(&self) -> DebugRenderMode {
        let mut mode = DebugRenderMode::empty();
        mode.set(DebugRenderMode::COLLIDER_SHAPES, self.shapes);
        mode.set(DebugRenderMode::IMPULSE_JOINTS, self.joints);
        mode.set(DebugRenderMode::CONTACTS, self.contacts);
        mode
    }
}

/// What a debug line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugPart {
    Shape,
    Joint,
    Contact,
    Other,
}

/// One line of the layer, in world coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct DebugLine {
    pub part: DebugPart,
    pub from: Vec3,
    pub to: Vec3,
    pub colour: Color,
}

/// Collects Rapier's debug lines instead of drawing them, so they can be tested and drawn
/// with Bevy's gizmos.
struct Collector {
    lines: Vec<DebugLine>,
    /// The ground plane's collider: its 1000 m outline would only clutter the view.
    ground: Option<rapier3d::prelude::ColliderHandle>,
}

impl DebugRenderBackend for Collector {
    fn filter_object(&self, object: DebugRenderObject) -> bool {
        !matches!(object, DebugRenderObject::Collider(handle, _) if Some(handle) == self.ground)
    }

    fn draw_line(&mut self, object: DebugRenderObject, a: Vector, b: Vector, [h, s, l, alpha]: DebugColor) {
        let part = match object {
            DebugRenderObject::Collider(..) => DebugPart::Shape,
            DebugRenderObject::ImpulseJoint(..) => DebugPart::Joint,
            DebugRenderObject::ContactPair(..) => DebugPart::Contact,
            _ => DebugPart::Other,
        };
        self.lines.push(DebugLine { part, from: a, to: b, colour: Color::hsla(h, s, l, alpha) });
    }
}

/// The debug lines of an env's physics under `settings`, drawn by `pipeline` (kept between
/// frames: it holds the shapes' outline meshes).
pub fn debug_lines(env: &Env, settings: &PhysicsDebug, pipeline: &mut DebugRenderPipeline) -> Vec<DebugLine> {
    pipeline.mode = settings.mode();
    let physics = env.physics();
    let mut collector = Collector { lines: Vec::new(), ground: env.robot().ground_collider };
    pipeline.render(
        &mut collector,
        &physics.bodies,
        &physics.colliders,
        &physics.impulse_joints,
        &physics.multibody_joints,
        &physics.narrow_phase,
    );
    collector.lines
}

/// The debug-render pipeline, made once.
#[derive(Resource, Default)]
struct DebugPipeline(DebugRenderPipeline);

pub struct PhysicsDebugPlugin;

impl Plugin for PhysicsDebugPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<PhysicsDebug>()
            .init_resource::<DebugPipeline>()
            .add_systems(Update, toggle.in_set(StudioSet::Input))
            .add_systems(Update, draw.in_set(StudioSet::View))
            // egui windows are drawn in egui's pass, as the panels are.
            .add_systems(EguiPrimaryContextPass, window);
    }
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, mut contexts: EguiContexts, mut debug: ResMut<PhysicsDebug>) {
    let typing = contexts.ctx_mut().is_ok_and(|ctx| ctx.egui_wants_keyboard_input());
    if !typing && keys.just_pressed(KeyCode::KeyP) {
        debug.shown = !debug.shown;
    }
}

fn draw(
    experiment: Res<Experiment>,
    debug: Res<PhysicsDebug>,
    mut pipeline: ResMut<DebugPipeline>,
    mut gizmos: Gizmos,
) {
    if !debug.shown {
        return;
    }
    for line in debug_lines(&experiment.run.env, &debug, &mut pipeline.0) {
        gizmos.line(line.from, line.to, line.colour);
    }
}

/// A small window with the layer's parts and the live contact count.
fn window(mut contexts: EguiContexts, experiment: Res<Experiment>, mut debug: ResMut<PhysicsDebug>) {
    if !debug.shown {
        return;
    }
    let Ok(ctx) = contexts.ctx_mut() else { return };
    let contacts = experiment
        .run
        .env
        .physics()
        .narrow_phase
        .contact_pairs()
        .filter(|pair| pair.has_any_active_contact())
        .map(|pair| pair.manifolds.iter().map(|m| m.points.len()).sum::<usize>())
        .sum::<usize>();
    let mut open = true;
    // Over the 3D view's top-left corner, clear of the left panel.
    let window = egui::Window::new("Physics debug (P)").open(&mut open).default_width(180.0);
    window.default_pos(egui::pos2(340.0, 40.0)).show(ctx, |ui| {
        ui.checkbox(&mut debug.shapes, "collision shapes");
        ui.checkbox(&mut debug.joints, "joint anchors and axes");
        ui.checkbox(&mut debug.contacts, format!("contacts ({contacts} points)"));
    });
    if !open {
        debug.shown = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::load_scene;
    use crate::sim::Env;

    fn quadruped_after(steps: usize) -> Env {
        let scene = load_scene(std::path::Path::new("scenes/quadruped.ron")).unwrap();
        let mut env = Env::new(&scene);
        for _ in 0..steps {
            env.step(&vec![0.0; env.action_dim()]);
        }
        env
    }

    #[test]
    fn each_part_is_drawn_only_when_chosen() {
        let env = quadruped_after(10);
        let mut pipeline = DebugRenderPipeline::default();
        let all = debug_lines(&env, &PhysicsDebug { shown: true, ..Default::default() }, &mut pipeline);
        for part in [DebugPart::Shape, DebugPart::Joint, DebugPart::Contact] {
            assert!(all.iter().any(|l| l.part == part), "no {part:?} lines");
            let mut only = PhysicsDebug { shown: true, shapes: false, joints: false, contacts: false };
            match part {
                DebugPart::Shape => only.shapes = true,
                DebugPart::Joint => only.joints = true,
                _ => only.contacts = true,
            }
            let lines = debug_lines(&env, &only, &mut pipeline);
            assert!(!lines.is_empty() && lines.iter().all(|l| l.part == part), "{part:?} alone");
        }
    }

    #[test]
    fn contacts_are_at_the_feet_on_the_ground_and_shapes_around_the_links() {
        let env = quadruped_after(10);
        let settings = PhysicsDebug { shown: true, ..Default::default() };
        let lines = debug_lines(&env, &settings, &mut DebugRenderPipeline::default());
        // A standing robot touches the ground (y = 0) with its feet only; the ground's own
        // outline (a 1000 m box) is left out.
        let contacts: Vec<_> = lines.iter().filter(|l| l.part == DebugPart::Contact).collect();
        assert!(contacts.iter().all(|l| l.from.y.abs() < 0.03 || l.to.y.abs() < 0.03), "{contacts:?}");
        let shapes: Vec<_> = lines.iter().filter(|l| l.part == DebugPart::Shape).collect();
        assert!(shapes.iter().all(|l| l.from.length() < 1.0), "a shape line far from the robot: the ground?");
        let torso = env.physics().bodies[env.robot().links[0].body].translation();
        assert!(shapes.iter().any(|l| (l.from - torso).length() < 0.3), "the torso's box is drawn");
    }
}
