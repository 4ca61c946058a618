//! Wrapped-angle observations in the learned model: which dimensions a scene wraps, and an
//! ensemble that learns a rotation through ±π from short-way targets and rolls it out on the circle.

use std::f32::consts::PI;
use std::path::Path;

use demorl_studio::agent::LearnedPlannerAgent;
use demorl_studio::config::{EnsembleSettings, TrainSettings, preset};
use demorl_studio::learn::{EnsembleModel, ModelNoise, ProbabilisticEnsemble, ReplayBuffer, StateDelta, StepEnd};
use demorl_studio::plan::{Model, RolloutBatch, SequenceBatch};
use demorl_studio::scene::load_scene;
use demorl_studio::sim::Env;
use demorl_studio::sim::measure::wrap_angle;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn env(scene: &str) -> Env {
    Env::new(&load_scene(Path::new(scene)).unwrap())
}

#[test]
fn scenes_list_their_wrapped_angle_dimensions() {
    // Cheetah: height, pitch, 6 joint angles, planar velocity, 6 joint velocities.
    assert_eq!(env("scenes/cheetah.ron").wrapped_angle_dims(), (1..8).collect::<Vec<_>>());
    // Pendulum observes cos/sin, which never jump.
    assert!(env("scenes/pendulum.ron").wrapped_angle_dims().is_empty());
    // Quadruped: height, roll/pitch/yaw (roll and yaw wrap; pitch is within ±π/2), linear and
    // angular velocity, then the joint angles.
    let quad = env("scenes/quadruped.ron");
    let joints = quad.robot().joints.len();
    let expected: Vec<usize> = [1, 3].into_iter().chain(10..10 + joints).collect();
    assert_eq!(quad.wrapped_angle_dims(), expected);
}

#[test]
fn learned_planner_agents_declare_their_scenes_wrapped_angles() {
    let cheetah = env("scenes/cheetah.ron");
    let planner = preset("reference").unwrap();
    let agent = LearnedPlannerAgent::for_env(&cheetah, TrainSettings::default(), planner.clone(), true, 0).unwrap();
    assert_eq!(agent.model.state_delta().wrapped(), cheetah.wrapped_angle_dims());
    assert!(!agent.model.state_delta().wrapped().is_empty());
    let plain = LearnedPlannerAgent::new(17, 6, TrainSettings::default(), planner, true, 0).unwrap();
    assert_eq!(plain.model.state_delta(), &StateDelta::plain());
}

/// θ turns by 0.3 + 0.2·a rad per step and is observed in (−π, π]; the reward is cos θ.
fn turn(theta: f32, a: f32) -> f32 {
    wrap_angle(theta + 0.3 + 0.2 * a)
}

fn rotation_buffer() -> ReplayBuffer {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut buf = ReplayBuffer::new(1, 1, 2000, 0);
    for _ in 0..1500 {
        let theta = rng.random_range(-PI..PI);
        let a = rng.random_range(-1.0f32..1.0);
        buf.push(&[theta], &[a], theta.cos(), &[turn(theta, a)], StepEnd::Continues);
    }
    buf
}

fn fitted(buf: &ReplayBuffer, step: &StateDelta) -> ProbabilisticEnsemble {
    let settings = EnsembleSettings {
        members: 4,
        elites: 3,
        hidden_layers: 2,
        hidden_width: 48,
        max_epochs: 40,
        batch_size: 64,
        ..Default::default()
    };
    let mut ens = ProbabilisticEnsemble::new(2, 2, settings, 7);
    let (x, y) = buf.model_dataset(step, 0.0);
    ens.fit(&x, &y);
    ens
}

/// Mean circular error (rad) of the elites' one-step prediction θ + Δθ near the crossing,
/// θ ∈ [2.6, π), over the whole action range.
fn crossing_error(ens: &ProbabilisticEnsemble) -> f32 {
    let grid: Vec<(f32, f32)> =
        (0..40).flat_map(|i| (0..9).map(move |j| (2.6 + 0.0135 * i as f32, -1.0 + 0.25 * j as f32))).collect();
    let inputs: Vec<f32> = grid.iter().flat_map(|&(t, a)| [t, a]).collect();
    let pred = ens.predict(&inputs);
    let rows = grid.len();
    let mut total = 0.0;
    for &m in ens.elites() {
        for (r, &(t, a)) in grid.iter().enumerate() {
            let delta = pred.mean[(m * rows + r) * 2 + 1];
            total += wrap_angle(t + delta - turn(t, a)).abs();
        }
    }
    total / (rows * ens.elites().len()) as f32
}

#[test]
fn short_way_targets_make_a_rotation_through_pi_learnable() {
    let buf = rotation_buffer();
    let (wrapped, plain) = (StateDelta::with_wrapped_angles(vec![0]), StateDelta::plain());
    let (_, y_wrapped) = buf.model_dataset(&wrapped, 0.0);
    let (_, y_plain) = buf.model_dataset(&plain, 0.0);
    let largest = |y: &[f32]| y.chunks_exact(2).map(|r| r[1].abs()).fold(0.0f32, f32::max);
    assert!(largest(&y_wrapped) <= 0.5 + 1e-5, "every short-way Δθ is 0.3 + 0.2a: {}", largest(&y_wrapped));
    assert!(largest(&y_plain) > 5.0, "plain differences jump by 2π at the crossing");

    let ens = fitted(&buf, &wrapped);
    let (good, bad) = (crossing_error(&ens), crossing_error(&fitted(&buf, &plain)));
    println!("mean one-step circular error near ±π: short-way targets {good:.4} rad, plain {bad:.4} rad");
    assert!(good < 0.02, "{good}");
    assert!(bad > 5.0 * good, "plain {bad} vs short-way {good}");

    // Rolled out, the model follows the rotation through ±π and stays in (−π, π].
    let mut model = EnsembleModel::new(1, 1, ModelNoise::Mean, 1);
    model.set_members(ens.fast_elites());
    model.set_state_delta(wrapped);
    let start = 2.9f32;
    model.set_start(&[start]);
    let horizon = 6;
    let batch = SequenceBatch::new(1, horizon, 1); // zero actions: 0.3 rad per step
    let mut out = RolloutBatch::default();
    model.rollout(&batch, 3, &mut out);
    let truth = (0..horizon - 1).fold(start, |t, _| turn(t, 0.0));
    for p in 0..3 {
        let got = out.final_obs_of(0, p)[0];
        assert!(got > -PI && got <= PI, "particle {p}: {got} left (−π, π]");
        assert!(wrap_angle(got - truth).abs() < 0.1, "particle {p}: {got} vs {truth}");
    }
}
