//! Times one physics step of a quadruped-like tree (a floating trunk, four legs of two hinges
//! with PD position motors following a moving target, feet on the ground) with Rapier's impulse
//! joints and with its multibody (reduced-coordinate) joints, at 8, 4 and 2 solver iterations:
//! the screen behind "multibody joints for the planner's copies" in docs/BENCHMARKS.md.
//!
//! `cargo run --release --example joint_solver_screen`

use rapier3d::prelude::*;
use std::time::Instant;

struct World {
    bodies: RigidBodySet,
    colliders: ColliderSet,
    impulse: ImpulseJointSet,
    multibody: MultibodyJointSet,
    params: IntegrationParameters,
    pipeline: PhysicsPipeline,
    islands: IslandManager,
    broad: DefaultBroadPhase,
    narrow: NarrowPhase,
    ccd: CCDSolver,
}

/// The tree with its joints in the impulse set or in one multibody rooted at the trunk. Bodies
/// never sleep: a settled multibody would otherwise cost nothing and the comparison would lie.
fn build(multibody: bool, iterations: usize) -> World {
    let mut bodies = RigidBodySet::new();
    let mut colliders = ColliderSet::new();
    let mut impulse = ImpulseJointSet::new();
    let mut mb = MultibodyJointSet::new();
    let ground = bodies.insert(RigidBodyBuilder::fixed());
    colliders.insert_with_parent(
        ColliderBuilder::cuboid(50.0, 0.1, 50.0).translation(Vector::new(0.0, -0.1, 0.0)),
        ground,
        &mut bodies,
    );
    let trunk = bodies.insert(RigidBodyBuilder::dynamic().can_sleep(false).translation(Vector::new(0.0, 0.3, 0.0)));
    colliders.insert_with_parent(ColliderBuilder::cuboid(0.2, 0.05, 0.1).density(500.0), trunk, &mut bodies);
    for (i, (x, z)) in [(0.18, 0.1), (0.18, -0.1), (-0.18, 0.1), (-0.18, -0.1)].into_iter().enumerate() {
        let thigh = bodies.insert(RigidBodyBuilder::dynamic().can_sleep(false).translation(Vector::new(x, 0.2, z)));
        colliders.insert_with_parent(ColliderBuilder::capsule_y(0.05, 0.02).density(500.0), thigh, &mut bodies);
        let shin = bodies.insert(RigidBodyBuilder::dynamic().can_sleep(false).translation(Vector::new(x, 0.075, z)));
        colliders.insert_with_parent(ColliderBuilder::capsule_y(0.05, 0.02).density(500.0), shin, &mut bodies);
        let hip = RevoluteJointBuilder::new(Vector::Z)
            .local_anchor1(Vector::new(x, -0.05, z))
            .local_anchor2(Vector::new(0.0, 0.05, 0.0))
            .motor_position(0.2 * (i as f32 - 1.5), 20.0, 0.5)
            .motor_max_force(5.0);
        let knee = RevoluteJointBuilder::new(Vector::Z)
            .local_anchor1(Vector::new(0.0, -0.075, 0.0))
            .local_anchor2(Vector::new(0.0, 0.05, 0.0))
            .motor_position(-0.3, 20.0, 0.5)
            .motor_max_force(5.0);
        if multibody {
            mb.insert(trunk, thigh, hip, true).unwrap();
            mb.insert(thigh, shin, knee, true).unwrap();
        } else {
            impulse.insert(trunk, thigh, hip, true);
            impulse.insert(thigh, shin, knee, true);
        }
    }
    let params = IntegrationParameters { dt: 1.0 / 200.0, num_solver_iterations: iterations, ..Default::default() };
    World {
        bodies,
        colliders,
        impulse,
        multibody: mb,
        params,
        pipeline: PhysicsPipeline::new(),
        islands: IslandManager::new(),
        broad: DefaultBroadPhase::new(),
        narrow: NarrowPhase::new(),
        ccd: CCDSolver::new(),
    }
}

impl World {
    fn step(&mut self) {
        self.pipeline.step(
            Vector::new(0.0, -9.81, 0.0),
            &self.params,
            &mut self.islands,
            &mut self.broad,
            &mut self.narrow,
            &mut self.bodies,
            &mut self.colliders,
            &mut self.impulse,
            &mut self.multibody,
            &mut self.ccd,
            &(),
            &(),
        );
    }
}

fn main() {
    for iterations in [8, 4, 2] {
        for multibody in [false, true] {
            let mut w = build(multibody, iterations);
            // Two seconds to land and settle before timing.
            for _ in 0..400 {
                w.step();
            }
            let n = 4000;
            let t = Instant::now();
            for k in 0..n {
                // A moving target, as a controller would give, so nothing settles.
                let target = 0.3 * ((k as f32) * 0.05).sin();
                for (_, j) in w.impulse.iter_mut() {
                    j.data.set_motor_position(JointAxis::AngX, target, 20.0, 0.5);
                }
                let handles: Vec<_> = w.multibody.iter().map(|(h, ..)| h).collect();
                for h in handles {
                    if let Some((mb, link)) = w.multibody.get_mut(h) {
                        mb.link_mut(link).unwrap().joint.data.set_motor_position(JointAxis::AngX, target, 20.0, 0.5);
                    }
                }
                w.step();
            }
            let per = t.elapsed().as_secs_f64() / n as f64 * 1e6;
            // The trunk's height says whether the solver still holds the legs together.
            let h = w.bodies.iter().find(|(_, b)| b.is_dynamic()).map(|(_, b)| b.translation().y).unwrap();
            println!(
                "iterations {iterations} {}: {per:.1} µs per step, trunk height {h:.3}",
                if multibody { "multibody" } else { "impulse  " }
            );
        }
    }
}
