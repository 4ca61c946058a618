//! Every shipped scene loads and simulates sanely; runs are deterministic; forks are exact.

use std::path::Path;

use demorl_studio::scene::{Actuator, load_scene, scene_files};
use demorl_studio::sim::{Env, EnvBatch, StepOutcome, measure};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn shipped_scenes() -> Vec<std::path::PathBuf> {
    let files = scene_files(Path::new("scenes")).expect("scenes folder");
    assert_eq!(files.len(), 7, "seven scenes ship (five hand-written, two imported robots): {files:?}");
    files
}

fn random_actions(rng: &mut ChaCha8Rng, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| rng.random_range(-1.0..=1.0)).collect()
}

#[test]
fn every_scene_runs_1000_random_steps_finite_and_within_joint_limits() {
    for path in shipped_scenes() {
        let scene = load_scene(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut env = Env::new(&scene);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        env.reset(1);
        let (mut episodes, mut worst_violation) = (0, 0.0f32);
        for _ in 0..1000 {
            let outcome = env.step(&random_actions(&mut rng, env.action_dim()));
            assert!(outcome.reward.is_finite(), "{}: reward {}", path.display(), outcome.reward);
            assert!(
                !matches!(outcome.reason, Some(demorl_studio::sim::EndReason::PhysicsBlowUp(_))),
                "{}: {:?}",
                path.display(),
                outcome.reason
            );
            let obs = env.observation();
            assert_eq!(obs.len(), env.obs_dim());
            assert!(obs.iter().all(|v| v.is_finite()), "{}: observation {obs:?}", path.display());
            for joint in &env.robot().joints {
                if let Some((lo, hi)) = joint.limits {
                    let angle = measure::joint_angle(env.physics(), env.robot(), joint);
                    worst_violation = worst_violation.max(lo - angle).max(angle - hi);
                }
            }
            if outcome.done() {
                episodes += 1;
                env.reset(100 + episodes);
            }
        }
        // Rapier's limits are soft constraints: allow a small overshoot, never a free joint. The
        // imported robots (real mass ratios, 12 joints, random full-range targets that make them
        // fall every ~10 steps) overshoot more on impact: measured 0.23 rad (Go1) and 0.25 rad
        // (Solo12) at 8 solver iterations; 16 iterations halve it at 1.8× the physics cost.
        let imported = scene.description.contains("imported from");
        let tolerance = if imported { 0.3 } else { 0.1 };
        assert!(worst_violation < tolerance, "{}: joint limit exceeded by {worst_violation} rad", path.display());
    }
}

#[test]
fn same_seed_and_actions_give_bit_identical_trajectories() {
    for path in shipped_scenes() {
        let scene = load_scene(&path).unwrap();
        let run = || {
            let mut env = Env::new(&scene);
            env.reset(42);
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let mut trace = Vec::new();
            for _ in 0..200 {
                let outcome = env.step(&random_actions(&mut rng, env.action_dim()));
                trace.extend(env.observation().iter().map(|v| v.to_bits()));
                trace.push(outcome.reward.to_bits());
                if outcome.done() {
                    env.reset(43);
                }
            }
            trace
        };
        assert_eq!(run(), run(), "{}", path.display());
    }
}

#[test]
fn different_seeds_give_different_starts() {
    let scene = load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    let mut env = Env::new(&scene);
    env.reset(1);
    let a = env.observation();
    env.reset(2);
    assert_ne!(a, env.observation());
}

#[test]
fn a_fork_stays_bit_identical_to_its_original_for_500_steps() {
    for path in shipped_scenes() {
        let scene = load_scene(&path).unwrap();
        let mut original = Env::new(&scene);
        original.reset(5);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // Fork mid-episode, with contacts and joint impulses warm.
        for _ in 0..20 {
            original.step(&random_actions(&mut rng, original.action_dim()));
        }
        let mut fork = original.fork();
        for step in 0..500 {
            let action = random_actions(&mut rng, original.action_dim());
            let (a, b) = (original.step(&action), fork.step(&action));
            assert_eq!(a, b, "{} step {step}", path.display());
            let bits = |env: &Env| env.observation().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&original), bits(&fork), "{} step {step}", path.display());
            if a.done() {
                break;
            }
        }
    }
}

#[test]
fn batched_stepping_matches_single_envs_for_any_thread_count() {
    let scene = load_scene(Path::new("scenes/cheetah.ron")).unwrap();
    let make = || {
        (0..4).map(|k| {
            let mut e = Env::new(&scene);
            e.reset(k);
            e
        })
    };
    let mut one = EnvBatch::new(make().collect(), 1).unwrap();
    let mut two = EnvBatch::new(make().collect(), 2).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut out1, mut out2): (Vec<StepOutcome>, Vec<StepOutcome>) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        let actions = random_actions(&mut rng, 4 * 6);
        one.step(&actions, &mut out1);
        two.step(&actions, &mut out2);
        assert_eq!(out1, out2);
    }
    for (a, b) in one.envs.iter().zip(&two.envs) {
        assert_eq!(a.observation(), b.observation());
    }
}

#[test]
fn actions_are_clipped_and_nan_actions_end_the_episode_cleanly() {
    let scene = load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    let mut a = Env::new(&scene);
    let mut b = Env::new(&scene);
    a.step(&[5.0]);
    b.step(&[1.0]);
    assert_eq!(a.observation(), b.observation(), "out-of-range actions clip to the bound");
    let outcome = a.step(&[f32::NAN]);
    assert!(outcome.terminated);
    assert!(matches!(outcome.reason, Some(demorl_studio::sim::EndReason::InvalidAction(_))));
    assert!(a.observation().iter().all(|v| v.is_finite()), "physics untouched by the NaN");
    a.reset(0);
    assert!(!a.step(&[0.0]).done(), "reset recovers");
}

#[test]
fn actuators_map_to_action_dimensions() {
    let scene = load_scene(Path::new("scenes/quadruped.ron")).unwrap();
    let env = Env::new(&scene);
    let actuated = scene.robot.joints.iter().filter(|j| !matches!(j.actuator, Actuator::None)).count();
    assert_eq!(env.action_dim(), actuated);
    assert_eq!(env.action_dim(), 8);
    assert_eq!(env.obs_dim(), 28, "26 measurements and the trot's phase (cos, sin)");
    let cheetah = Env::new(&load_scene(Path::new("scenes/cheetah.ron")).unwrap());
    assert_eq!((cheetah.obs_dim(), cheetah.action_dim()), (17, 6));
    let hopper = Env::new(&load_scene(Path::new("scenes/hopper.ron")).unwrap());
    assert_eq!((hopper.obs_dim(), hopper.action_dim()), (11, 3));
}

#[test]
fn planar_robots_stay_in_their_plane() {
    for stem in ["hopper", "cheetah", "leg2r"] {
        let scene = load_scene(Path::new(&format!("scenes/{stem}.ron"))).unwrap();
        let mut env = Env::new(&scene);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..300 {
            if env.step(&random_actions(&mut rng, env.action_dim())).done() {
                env.reset(rng.random());
            }
            for link in &env.robot().links {
                let pose = env.physics().bodies[link.body].position();
                assert!(
                    (pose.translation.z - link.zero_pose.translation.z).abs() < 1e-4,
                    "{stem}/{} left the plane",
                    link.name
                );
                let tilt = (pose.rotation * link.zero_pose.rotation.inverse()) * rapier3d::prelude::Vector::Z;
                assert!(tilt.z > 0.9999, "{stem}/{} rotated out of the plane", link.name);
            }
        }
    }
}

#[test]
fn drawn_points_follow_from_the_observation_where_it_fixes_them() {
    use demorl_studio::plan::{ObservationKinematics, ObservationPoints, RootTrack};
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for name in ["pendulum", "leg2r"] {
        let scene = load_scene(Path::new(&format!("scenes/{name}.ron"))).unwrap();
        let mut env = Env::new(&scene);
        env.reset(4);
        let decoder = ObservationKinematics::new(env.robot().clone()).expect("fixed base, joint angles observed");
        let mut drawn = Vec::new();
        let mut decoded = vec![[0.0; 3]; decoder.point_count()];
        for _ in 0..100 {
            env.step(&random_actions(&mut rng, env.action_dim()));
            drawn.clear();
            env.drawn_points_into(&mut drawn);
            decoder.points_into(&env.observation(), &mut RootTrack::default(), &mut decoded);
            assert_eq!(drawn.len(), decoded.len());
            for (a, b) in drawn.iter().zip(&decoded) {
                // Rapier's joints are soft by a hair, so the bodies sit within ~1 mm of exact kinematics.
                assert!((0..3).all(|k| (a[k] - b[k]).abs() < 2e-3), "{name}: {a:?} vs {b:?}");
            }
        }
    }
    let leg = load_scene(Path::new("scenes/leg2r.ron")).unwrap();
    let decoder = ObservationKinematics::new(Env::new(&leg).robot().clone()).unwrap();
    assert_eq!(decoder.floating_root(), None, "a fixed base has no floating root");
}

#[test]
fn a_floating_robot_is_placed_from_observed_height_orientation_and_dead_reckoned_velocity() {
    use demorl_studio::plan::{ObservationKinematics, ObservationPoints, RootTrack};
    use demorl_studio::sim::measure::link_pose;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (name, steps) in [("quadruped", 100), ("cheetah", 200), ("hopper", 60)] {
        let scene = load_scene(Path::new(&format!("scenes/{name}.ron"))).unwrap();
        let mut env = Env::new(&scene);
        env.reset(2);
        let decoder =
            ObservationKinematics::new(env.robot().clone()).expect("height, orientation and velocity observed");
        let torso = env.robot().links.iter().position(|l| l.name == "torso").unwrap();
        assert_eq!(decoder.floating_root(), Some(torso), "{name}");
        let start = link_pose(env.physics(), env.robot(), torso).translation;
        // One track along the trajectory, as the learned model's rollouts use it.
        let mut track = RootTrack::default();
        let (mut drawn, mut decoded) = (Vec::new(), vec![[0.0; 3]; decoder.point_count()]);
        let mut worst_horizontal = 0.0f32;
        for step in 0..=steps {
            if step > 0 && env.step(&random_actions(&mut rng, env.action_dim())).done() {
                break;
            }
            drawn.clear();
            env.drawn_points_into(&mut drawn);
            decoder.points_into(&env.observation(), &mut track, &mut decoded);
            for (a, b) in drawn.iter().zip(&decoded) {
                let b = [b[0] + start.x, b[1], b[2] + start.z];
                // Height and orientation are observed: exact up to Rapier's soft joints.
                assert!((a[1] - b[1]).abs() < 3e-3, "{name} step {step}: {a:?} vs {b:?}");
                let horizontal = (a[0] - b[0]).hypot(a[2] - b[2]);
                if step == 0 {
                    assert!(horizontal < 3e-3, "{name}: the start is exact, {a:?} vs {b:?}");
                }
                worst_horizontal = worst_horizontal.max(horizontal);
            }
        }
        // Dead reckoning drifts by a small fraction of the distance travelled (measured: the
        // cheetah 2.4 cm over 55 cm in 10 s; without it the error would be the whole distance).
        let moved = link_pose(env.physics(), env.robot(), torso).translation - start;
        let moved = moved.x.hypot(moved.z);
        assert!(worst_horizontal < 0.015 + 0.1 * moved, "{name}: drift {worst_horizontal} m over {moved} m");
        if name == "cheetah" {
            assert!(moved > 0.3, "the cheetah must travel for this check to mean something: {moved} m");
        }
    }
}

#[test]
fn observed_termination_agrees_with_the_simulator_on_every_scene_that_terminates() {
    let mut checked = 0;
    for path in shipped_scenes() {
        let scene = load_scene(&path).unwrap_or_else(|e| panic!("{e}"));
        if scene.task.termination.is_empty() {
            continue;
        }
        let mut env = Env::new(&scene);
        let termination = env.observed_termination().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(termination.penalty(), scene.task.termination_penalty);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut steps, mut ends, mut episode) = (0, 0, 0);
        env.reset(episode);
        // Random actions make the robots fall: every step's verdict on the observation must
        // be the simulator's verdict on the physics state.
        while ends < 5 && steps < 4000 {
            let action: Vec<f32> = random_actions(&mut rng, env.action_dim());
            let outcome = env.step(&action);
            let reads_as_ended = termination.ends(&env.observation());
            let condition = outcome.reason.as_ref().is_some_and(demorl_studio::sim::EndReason::is_fall);
            assert_eq!(reads_as_ended, condition, "{} step {steps}: {:?}", path.display(), outcome.reason);
            steps += 1;
            if outcome.done() {
                ends += usize::from(condition);
                episode += 1;
                env.reset(episode);
            }
        }
        assert!(ends >= 1, "{}: random actions never ended an episode in {steps} steps", path.display());
        checked += 1;
    }
    assert!(checked >= 4, "hopper, quadruped, go1 and solo12 terminate");
}

#[test]
fn observed_termination_names_a_condition_the_task_does_not_observe() {
    let mut scene = load_scene(Path::new("scenes/hopper.ron")).unwrap();
    scene.task.observation.retain(|o| !matches!(o, demorl_studio::scene::Observation::LinkHeight(_)));
    let err = Env::new(&scene).observed_termination().unwrap_err();
    assert!(err.contains("task.termination[0]") && err.contains("LinkHeight(\"torso\")"), "{err}");
}
