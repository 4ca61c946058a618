//! Domain randomisation in the simulator: which world an env's episodes run in
//! ([`WorldChoice`]), drawing a [`WorldShift`] from a [`Randomization`] with the episode's seed,
//! and the parts applied to a freshly reset world (masses, inertias, friction). The per-step
//! parts (motor strength and gains, joint damping, latency, observation noise) are read by
//! `Env::step` and `Env::observe_into`.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapier3d::prelude::*;

use super::robot::{PhysicsState, Robot, mass_properties};
use crate::scene::{Randomization, WorldShift};

/// Which world an env's episodes run in.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum WorldChoice {
    /// The scene as written.
    #[default]
    Nominal,
    /// One fixed shifted world (a named world of the task, or any other).
    Fixed(WorldShift),
    /// A new world per episode, drawn from these ranges with the episode's seed.
    Randomized(Randomization),
}

impl WorldChoice {
    /// The world of the episode started from `seed`.
    pub fn world_for(&self, seed: u64) -> WorldShift {
        match self {
            WorldChoice::Nominal => WorldShift::default(),
            WorldChoice::Fixed(world) => world.clone(),
            WorldChoice::Randomized(ranges) => draw_world(ranges, seed),
        }
    }
}

/// Separates the world's random stream from the reset noise's (same episode seed), so turning
/// randomisation on does not change the episodes' initial states.
const WORLD_STREAM: u64 = 0x5EED_0FD0_4A1E;

/// Every field uniform in its range (both ends included), from `seed`.
pub fn draw_world(ranges: &Randomization, seed: u64) -> WorldShift {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ WORLD_STREAM);
    let mut uniform = |(lo, hi): (f32, f32)| if hi > lo { rng.random_range(lo..=hi) } else { lo };
    let mass_scale = uniform(ranges.mass_scale);
    let friction_scale = uniform(ranges.friction_scale);
    let strength_scale = uniform(ranges.strength_scale);
    let gain_scale = uniform(ranges.gain_scale);
    let joint_damping = uniform(ranges.joint_damping);
    let obs_noise = uniform(ranges.obs_noise);
    let (lo, hi) = ranges.latency_steps;
    let latency_steps = if hi > lo { rng.random_range(lo..=hi) } else { lo };
    let push = ranges.push.clone();
    WorldShift { mass_scale, friction_scale, strength_scale, gain_scale, joint_damping, latency_steps, obs_noise, push }
}

/// Scales every dynamic link's mass and inertia and every collider's friction in a world just
/// copied from the robot's template.
pub fn apply_to_physics(state: &mut PhysicsState, robot: &Robot, world: &WorldShift) {
    if world.mass_scale != 1.0 {
        for (link, info) in robot.scene.robot.links.iter().zip(&robot.links) {
            if info.fixed {
                continue;
            }
            let colliders: Vec<ColliderHandle> = state.bodies[info.body].colliders().to_vec();
            for handle in colliders {
                let collider = &mut state.colliders[handle];
                collider.set_mass_properties(scaled(collider.mass_properties(), world.mass_scale));
            }
            let body = &mut state.bodies[info.body];
            if let Some(inertia) = &link.inertia {
                body.set_additional_mass_properties(scaled(mass_properties(inertia), world.mass_scale), false);
            }
            body.recompute_mass_properties_from_colliders(&state.colliders);
        }
    }
    if world.friction_scale != 1.0 {
        for (_, collider) in state.colliders.iter_mut() {
            collider.set_friction(collider.friction() * world.friction_scale);
        }
    }
}

/// Mass and rotational inertia times `factor` (same centre of mass and principal axes).
fn scaled(props: MassProperties, factor: f32) -> MassProperties {
    MassProperties {
        inv_mass: props.inv_mass / factor,
        inv_principal_inertia: props.inv_principal_inertia / factor,
        ..props
    }
}

/// A standard normal value that depends only on `(seed, step, index)`: observation noise that a
/// fork reproduces and that reading the observation twice does not change.
pub fn hashed_normal(seed: u64, step: u32, index: usize) -> f32 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let a = mix(seed ^ mix(u64::from(step) << 32 | index as u64));
    let b = mix(a.wrapping_add(0x9E37_79B9_7F4A_7C15));
    // Box–Muller on two uniforms in (0, 1].
    let u1 = ((a >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let u2 = (b >> 11) as f64 / (1u64 << 53) as f64;
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_in_their_ranges_and_follow_the_seed() {
        let ranges = Randomization { mass_scale: (0.8, 1.2), latency_steps: (0, 3), ..Randomization::default() };
        let worlds: Vec<WorldShift> = (0..200).map(|s| draw_world(&ranges, s)).collect();
        assert!(worlds.iter().all(|w| (0.8..=1.2).contains(&w.mass_scale) && w.latency_steps <= 3));
        assert!(worlds.iter().all(|w| w.friction_scale == 1.0 && w.obs_noise == 0.0));
        assert_eq!(draw_world(&ranges, 7), draw_world(&ranges, 7));
        assert_ne!(draw_world(&ranges, 7), draw_world(&ranges, 8));
        for latency in 0..=3 {
            assert!(worlds.iter().any(|w| w.latency_steps == latency), "latency {latency} never drawn");
        }
        let mean = worlds.iter().map(|w| f64::from(w.mass_scale)).sum::<f64>() / 200.0;
        assert!((mean - 1.0).abs() < 0.03, "mean mass scale {mean}");
    }

    #[test]
    fn hashed_noise_is_standard_normal_and_repeatable() {
        let values: Vec<f64> = (0..20_000).map(|k| f64::from(hashed_normal(3, k / 10, k as usize % 10))).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean}, variance {var}");
        assert_eq!(hashed_normal(3, 5, 2), hashed_normal(3, 5, 2));
        assert_ne!(hashed_normal(3, 5, 2), hashed_normal(4, 5, 2));
    }
}
