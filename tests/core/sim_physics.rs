//! Physics against closed forms, and reward terms against values computed by hand.

use std::f32::consts::PI;
use std::path::Path;

use demorl_studio::scene::{Reward, load_scene};
use demorl_studio::sim::task::{StepContext, foot_path, reward_term};
use demorl_studio::sim::{Env, measure};
use rapier3d::prelude::{Rotation, Vector};

fn env(stem: &str) -> Env {
    Env::new(&load_scene(Path::new(&format!("scenes/{stem}.ron"))).unwrap())
}

fn ctx<'a>(action: &'a [f32], effort: &'a [f32], x_before: &'a [f32], phase: f32) -> StepContext<'a> {
    StepContext { action, effort, x_before, dt: 0.05, phase }
}

/// Moment of inertia of the pendulum's box rod (1 m × 5 cm, 1 kg) about its end.
const ROD_INERTIA: f32 = (1.0 + 0.05 * 0.05) / 12.0 + 0.25;
const G: f32 = 10.0;

#[test]
fn pendulum_small_swing_period_matches_the_compound_pendulum_formula() {
    let mut env = env("pendulum");
    env.reset(0);
    let amplitude = 0.1;
    env.set_joint_state(&[PI - amplitude], &[0.0]); // hanging down, displaced
    let joint = env.robot().joints[0].clone();
    let dt = 0.05;
    let mut last_velocity = 0.0f32;
    let mut crossings = Vec::new();
    for step in 0..200 {
        env.step(&[0.0]);
        let velocity = measure::joint_velocity(env.physics(), env.robot(), &joint);
        if step > 0 && last_velocity.signum() != velocity.signum() {
            // Interpolate the turning point inside the step.
            let fraction = last_velocity / (last_velocity - velocity);
            crossings.push((step as f32 + fraction) * dt);
        }
        last_velocity = velocity;
    }
    assert!(crossings.len() >= 6, "pendulum should oscillate: {crossings:?}");
    let period = 2.0 * (crossings[crossings.len() - 1] - crossings[0]) / (crossings.len() - 1) as f32;
    // T = 2π √(I / (m g d)), d = 0.5 m, with the finite-amplitude correction (1 + θ₀²/16).
    let expected = 2.0 * PI * (ROD_INERTIA / (1.0 * G * 0.5)).sqrt() * (1.0 + amplitude * amplitude / 16.0);
    let error = (period - expected).abs() / expected;
    assert!(error < 0.015, "period {period:.4} s vs {expected:.4} s ({:.2}%)", 100.0 * error);
}

#[test]
fn pendulum_conserves_energy_without_torque() {
    let mut env = env("pendulum");
    env.reset(0);
    env.set_joint_state(&[2.0], &[0.0]);
    let joint = env.robot().joints[0].clone();
    let energy = |env: &Env| {
        let angle = measure::joint_angle(env.physics(), env.robot(), &joint);
        let velocity = measure::joint_velocity(env.physics(), env.robot(), &joint);
        0.5 * ROD_INERTIA * velocity * velocity + 1.0 * G * 0.5 * angle.cos()
    };
    let start = energy(&env);
    let swing = G * 0.5 * 2.0; // energy range between top and bottom, for a relative measure
    let mut worst: f32 = 0.0;
    for _ in 0..200 {
        env.step(&[0.0]);
        worst = worst.max((energy(&env) - start).abs());
    }
    assert!(worst / swing < 0.03, "energy drifted by {worst} J of a {swing} J swing");
}

#[test]
fn pendulum_torque_accelerates_as_tau_over_inertia() {
    let mut env = env("pendulum");
    env.reset(0);
    env.set_joint_state(&[PI], &[0.0]); // hanging straight down: gravity exerts no torque
    let joint = env.robot().joints[0].clone();
    env.step(&[1.0]); // 2 N·m for 0.05 s
    let velocity = measure::joint_velocity(env.physics(), env.robot(), &joint);
    let expected = 2.0 / ROD_INERTIA * 0.05;
    // Gravity starts to oppose as the rod turns; within 3% over one short step.
    assert!((velocity - expected).abs() / expected < 0.03, "θ̇ {velocity} vs {expected}");
    assert_eq!(env.effort(), &[2.0]);
}

#[test]
fn pendulum_reward_terms_match_hand_computation() {
    let mut env = env("pendulum");
    env.reset(0);
    env.set_joint_state(&[0.5], &[2.0]);
    let (robot, physics) = (env.robot().clone(), env.physics().clone());
    let c = ctx(&[0.75], &[1.5], &[0.0, 0.0], 0.0);
    let term = |t: Reward| reward_term(&t, &physics, &robot, &c);
    assert!((term(Reward::JointAngleSquared("hinge".into())) - 0.25).abs() < 1e-5);
    assert!((term(Reward::JointVelocitySquared("hinge".into())) - 4.0).abs() < 1e-4);
    assert!((term(Reward::EffortSquared) - 2.25).abs() < 1e-6);
    assert!((term(Reward::ActionSquared) - 0.5625).abs() < 1e-6);
    // Angles wrap to [-π, π]: 3.5 rad is -2.783 rad from upright.
    env.set_joint_state(&[3.5], &[0.0]);
    let wrapped = reward_term(&Reward::JointAngleSquared("hinge".into()), env.physics(), &robot, &c);
    assert!((wrapped - (3.5 - 2.0 * PI).powi(2)).abs() < 1e-4, "{wrapped}");
}

#[test]
fn pendulum_step_reward_is_the_weighted_sum_of_its_terms() {
    let mut env = env("pendulum");
    env.reset(3);
    let outcome = env.step(&[0.5]);
    let terms = env.reward_terms().to_vec();
    let expected = -terms[0] - 0.1 * terms[1] - 0.001 * terms[2];
    assert!((outcome.reward - expected).abs() < 1e-6);
    assert!((terms[2] - 1.0).abs() < 1e-6, "effort² of 0.5 × 2 N·m = 1");
}

#[test]
fn leg_foot_follows_forward_kinematics_and_path_reward() {
    let mut env = env("leg2r");
    env.reset(0);
    let robot = env.robot().clone();
    let foot = robot.site_index("foot").unwrap();
    let (l1, l2) = (0.3f32, 0.3f32);
    for (q1, q2) in [(0.0f32, 0.0f32), (0.4, -0.9), (-0.7, 1.2)] {
        env.set_joint_state(&[q1, q2], &[0.0, 0.0]);
        let p = measure::site_position(env.physics(), &robot, foot);
        // Angles about +Z: a positive hip angle swings the foot forward (+X).
        let x = l1 * q1.sin() + l2 * (q1 + q2).sin();
        let y = 1.0 - l1 * q1.cos() - l2 * (q1 + q2).cos();
        assert!((p.x - x).abs() < 1e-4 && (p.y - y).abs() < 1e-4, "q=({q1},{q2}): {p:?} vs ({x},{y})");
    }
    // Zero configuration, φ = 0: foot 0.6 m below the hip, target (0.16, -0.44).
    env.set_joint_state(&[0.0, 0.0], &[0.0, 0.0]);
    let c = ctx(&[0.0, 0.0], &[0.0, 0.0], &[0.0; 3], 0.0);
    let term = Reward::FootPath {
        site: "foot".into(),
        origin: [0.0, 1.0, 0.0],
        half_width: 0.16,
        height: -0.44,
        lift: 0.1,
        sharpness: 10.0,
    };
    let value = reward_term(&term, env.physics(), &robot, &c);
    let error = (0.16f32 * 0.16 + 0.16 * 0.16).sqrt();
    assert!((value - (-10.0 * error).exp()).abs() < 1e-5, "{value}");
}

#[test]
fn foot_path_matches_the_papers_formula() {
    let p = foot_path(0.0, 0.16, -0.44, 0.1);
    assert_eq!(p, [0.16, -0.44]);
    let p = foot_path(PI / 2.0, 0.16, -0.44, 0.1);
    assert!((p[0]).abs() < 1e-6 && (p[1] + 0.44).abs() < 1e-6);
    let p = foot_path(1.5 * PI, 0.16, -0.44, 0.1);
    assert!(p[0].abs() < 1e-6 && (p[1] - (-0.44 + 0.1)).abs() < 1e-6, "swing apex {p:?}");
}

#[test]
fn quadruped_posture_terms_at_the_zero_configuration() {
    let mut env = env("quadruped");
    env.reset(0);
    env.set_joint_state(&[0.0; 8], &[0.0; 8]);
    let (robot, physics) = (env.robot().clone(), env.physics().clone());
    let c = ctx(&[0.0; 8], &[0.0; 8], &[0.0; 9], 0.0);
    let term = |t: Reward| reward_term(&t, &physics, &robot, &c);
    assert!((term(Reward::Upright("torso".into())) - 1.0).abs() < 1e-6);
    // The torso sits at 0.253 m in the crouched zero configuration.
    assert!((term(Reward::HeightError { link: "torso".into(), target: 0.24 }) - 0.013f32.powi(2)).abs() < 1e-6);
    assert!(term(Reward::YawRate("torso".into())).abs() < 1e-9);
    assert!(
        (term(Reward::VelocityTracking { link: "torso".into(), target: 0.4, width: 0.2 }) - (-4.0f32).exp()).abs()
            < 1e-6
    );
}

#[test]
fn level_term_is_the_stoch_posture_kernel_on_roll_and_pitch() {
    let mut env = env("quadruped");
    env.reset(0);
    env.set_joint_state(&[0.0; 8], &[0.0; 8]);
    let robot = env.robot().clone();
    let torso = robot.links[robot.link_index("torso").unwrap()].body;
    let c = ctx(&[0.0; 8], &[0.0; 8], &[0.0; 9], 0.0);
    let level = Reward::Level { link: "torso".into(), sharpness: 45.0 };
    assert!((reward_term(&level, env.physics(), &robot, &c) - 1.0).abs() < 1e-6);
    // Pitch (about Z) and roll (about X) of 0.3 rad: one kernel drops to exp(-45 · 0.09).
    for axis in [Vector::Z, Vector::X] {
        let mut physics = env.physics().clone();
        physics.bodies[torso].set_rotation(Rotation::from_axis_angle(axis, 0.3), false);
        let value = reward_term(&level, &physics, &robot, &c);
        let expected = 0.5 * (1.0 + (-45.0f32 * 0.09).exp());
        assert!((value - expected).abs() < 1e-4, "{axis:?}: {value} vs {expected}");
        // Much steeper than the cosine: Upright still gives 0.955 here.
        let upright = reward_term(&Reward::Upright("torso".into()), &physics, &robot, &c);
        assert!((upright - 0.3f32.cos()).abs() < 1e-4 && value < 0.51, "{upright} {value}");
    }
}

#[test]
fn termination_penalty_lands_on_the_terminating_step_only() {
    let mut scene = load_scene(Path::new("scenes/hopper.ron")).unwrap();
    scene.task.termination_penalty = 0.0;
    let mut plain = Env::new(&scene);
    scene.task.termination_penalty = 7.0;
    let mut penalised = Env::new(&scene);
    plain.reset(0);
    penalised.reset(0);
    for step in 0.. {
        let (a, b) = (plain.step(&[0.0; 3]), penalised.step(&[0.0; 3]));
        assert_eq!(a.terminated, b.terminated);
        if a.terminated {
            assert!(step > 0, "the passive hopper stands for a while first");
            assert!((a.reward - 7.0 - b.reward).abs() < 1e-6, "{} vs {}", a.reward, b.reward);
            break;
        }
        assert_eq!(a.reward, b.reward, "step {step}");
    }
    // A time limit is not a failure: no penalty on truncation.
    scene.task.episode_steps = 3;
    let mut short = Env::new(&scene);
    short.reset(0);
    let last = (0..3).map(|_| short.step(&[0.0; 3])).last().unwrap();
    assert!(last.truncated && !last.terminated);
    plain.reset(0);
    let reference = (0..3).map(|_| plain.step(&[0.0; 3])).last().unwrap();
    assert_eq!(last.reward, reference.reward);
}

#[test]
fn forward_velocity_is_displacement_over_the_step() {
    let mut env = env("cheetah");
    env.reset(0);
    let robot = env.robot().clone();
    let torso = robot.link_index("torso").unwrap();
    let x_now = env.physics().bodies[robot.links[torso].body].translation().x;
    let mut x_before = vec![0.0; robot.links.len()];
    x_before[torso] = x_now - 0.1;
    let c = ctx(&[0.0; 6], &[0.0; 6], &x_before, 0.0);
    let v = reward_term(&Reward::ForwardVelocity("torso".into()), env.physics(), &robot, &c);
    assert!((v - 0.1 / 0.05).abs() < 1e-4, "{v}");
}

#[test]
fn hopper_terminates_when_it_falls() {
    let mut env = env("hopper");
    env.reset(0);
    let mut ended = None;
    for _ in 0..1000 {
        let outcome = env.step(&[0.0, 0.0, 0.0]);
        if outcome.done() {
            ended = Some(outcome);
            break;
        }
    }
    let outcome = ended.expect("a passive hopper falls over");
    assert!(outcome.terminated && !outcome.truncated, "{outcome:?}");
    let reason = outcome.reason.unwrap().to_string();
    assert!(reason.contains("torso"), "{reason}");
}

#[test]
fn cheetah_truncates_at_the_time_limit_without_terminating() {
    let mut env = env("cheetah");
    env.reset(0);
    let mut last = None;
    for _ in 0..1000 {
        last = Some(env.step(&[0.0; 6]));
    }
    let last = last.unwrap();
    assert!(last.truncated && !last.terminated, "{last:?}");
    assert_eq!(env.steps(), 1000);
}
