//! The planner with the forked simulator as its model, on the shipped scenes.

use std::path::Path;

use demorl_studio::agent::{MpcAgent, episode_seed, run_episode};
use demorl_studio::plan::{ActionMode, Model, RolloutBatch, SequenceBatch, SimulatorModel};
use demorl_studio::scene::{PlanningPhysics, Scene, load_scene};
use demorl_studio::sim::{Env, PhysicsResolution};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn scene(stem: &str) -> Scene {
    load_scene(Path::new(&format!("scenes/{stem}.ron"))).unwrap()
}

/// Mean return of `episodes` episodes of a fixed policy (`None` = zero actions, `Some` = uniform random).
fn baseline_return(scene: &Scene, episodes: u64, random: Option<u64>) -> f64 {
    let mut env = Env::new(scene);
    let mut rng = ChaCha8Rng::seed_from_u64(random.unwrap_or(0));
    let mut total = 0.0;
    for k in 0..episodes {
        env.reset(episode_seed(0, k));
        loop {
            let action: Vec<f32> = (0..env.action_dim())
                .map(|_| if random.is_some() { rng.random_range(-1.0..=1.0) } else { 0.0 })
                .collect();
            let outcome = env.step(&action);
            total += f64::from(outcome.reward);
            if outcome.done() {
                break;
            }
        }
    }
    total / episodes as f64
}

fn mpc_return(scene: &Scene, episodes: u64) -> f64 {
    let mut env = Env::new(scene);
    let mut agent = MpcAgent::new(&env, scene.planner.clone(), 0, 2).unwrap();
    let total: f64 = (0..episodes)
        .map(|k| {
            run_episode(&mut env, &mut agent, episode_seed(0, k), ActionMode::Evaluation, |_, _| {}).episode_return
        })
        .sum();
    total / episodes as f64
}

#[test]
fn pendulum_swing_up_reaches_minus_200_over_10_episodes() {
    let mean = mpc_return(&scene("pendulum"), 10);
    assert!(mean >= -200.0, "mean return {mean}");
    // A swing-up at all: zero torque from a random start scores far worse.
    assert!(mean > baseline_return(&scene("pendulum"), 10, None) + 300.0);
}

/// MPC with the simulator beats zero and uniform random actions by `margin`, averaged over
/// `episodes` episodes of `steps` steps. Short episodes keep CI fast (docs/RESULTS.md has full
/// ones); one test per scene so the test threads share the work.
fn mpc_beats_zero_and_random_actions(stem: &str, steps: u32, episodes: u64, margin: f64) {
    let mut scene = scene(stem);
    scene.task.episode_steps = steps;
    let mpc = mpc_return(&scene, episodes);
    let zero = baseline_return(&scene, episodes, None);
    let random = baseline_return(&scene, episodes, Some(1));
    let figures = format!("{stem}: mpc {mpc:.2}, zero {zero:.2}, random {random:.2}");
    println!("{figures}");
    assert!(mpc > zero + margin && mpc > random + margin, "{figures}");
}

#[test]
fn mpc_beats_zero_and_random_actions_on_leg2r() {
    mpc_beats_zero_and_random_actions("leg2r", 100, 2, 10.0);
}

#[test]
fn mpc_beats_zero_and_random_actions_on_hopper() {
    mpc_beats_zero_and_random_actions("hopper", 100, 2, 10.0);
}

#[test]
fn mpc_beats_zero_and_random_actions_on_cheetah() {
    mpc_beats_zero_and_random_actions("cheetah", 60, 2, 5.0);
}

/// Standing still earns 1.4 per step on the quadruped; walking its trot earns about 2.5 once
/// under way (100 steps: MPC 249.6, zero 140.0, random −245.3). One episode: its starts differ
/// little (two episodes averaged 249.5, 140.4, −219.3) and each costs ~40 CPU-seconds of planning.
#[test]
fn mpc_beats_zero_and_random_actions_on_quadruped() {
    mpc_beats_zero_and_random_actions("quadruped", 100, 1, 75.0);
}

#[test]
fn trace_scores_match_replaying_the_sequences_in_the_simulator() {
    let scene = scene("cheetah");
    let mut env = Env::new(&scene);
    env.reset(4);
    for _ in 0..5 {
        env.step(&[0.3, -0.2, 0.1, 0.0, 0.5, -0.5]);
    }
    let mut agent = MpcAgent::new(&env, scene.planner.clone(), 3, 1).unwrap();
    let output = agent.plan(&env, ActionMode::Evaluation);
    let trace = &output.trace;
    let discount = scene.planner.discount;
    for n in 0..trace.sequence_count() {
        let mut replay = env.fork();
        replay.set_time_limit(false);
        let mut score = 0.0f32;
        for (h, action) in trace.sequence(n).chunks(trace.action_dim).enumerate() {
            let outcome = replay.step(action);
            score += discount.powi(h as i32) * outcome.reward;
            if outcome.terminated {
                break;
            }
        }
        assert!(
            (score - trace.scores[n]).abs() <= 1e-4 * score.abs().max(1.0),
            "sequence {n}: {score} vs {}",
            trace.scores[n]
        );
    }
}

#[test]
fn simulator_rollouts_do_not_depend_on_thread_count() {
    let scene = scene("hopper");
    let mut env = Env::new(&scene);
    env.reset(2);
    let mut batch = SequenceBatch::new(8, 6, env.action_dim());
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    batch.actions.iter_mut().for_each(|a| *a = rng.random_range(-1.0..=1.0));
    let run = |threads| {
        let mut model = SimulatorModel::new(&env, threads).unwrap();
        let mut out = RolloutBatch::default();
        model.rollout(&batch, 1, &mut out);
        out
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one, two);
    assert!(one.is_consistent());
    assert_eq!(one.points.len(), 8 * 7 * 2, "torso and toe for 7 time points");
}

#[test]
fn same_seed_gives_the_same_mpc_episode() {
    let mut scene = scene("leg2r");
    scene.task.episode_steps = 30;
    let run = || {
        let mut env = Env::new(&scene);
        let mut agent = MpcAgent::new(&env, scene.planner.clone(), 9, 2).unwrap();
        let mut actions = Vec::new();
        run_episode(&mut env, &mut agent, 1, ActionMode::Training, |_, out| {
            actions.extend(out.action.iter().map(|a| a.to_bits()))
        });
        actions
    };
    assert_eq!(run(), run());
}

/// `train --mode nominal` plays the scene's gait open loop: on the quadruped it walks (beats
/// standing still by far) and writes its summary; on a scene without a gait it is refused
/// with a message that says what to add.
#[test]
fn nominal_baseline_walks_the_quadruped_and_needs_a_schedule() {
    use clap::Parser;
    use demorl_studio::cli::{Cli, Command, train};
    let args = |scene: &str, out: &str| {
        let cli = Cli::try_parse_from([
            "demorl-studio",
            "train",
            scene,
            "--mode",
            "nominal",
            "--episodes",
            "1",
            "--seed",
            "2",
            "--out",
            out,
        ])
        .unwrap();
        match cli.command {
            Some(Command::Train(args)) => args,
            other => panic!("parsed {other:?}"),
        }
    };
    let out = "/tmp/demorl-nominal-baseline";
    let mut walking = scene("quadruped");
    walking.task.episode_steps = 200;
    let path = Path::new("/tmp/demorl-nominal-quadruped.ron");
    std::fs::write(path, ron::ser::to_string(&walking).unwrap()).unwrap();
    train(&args(path.to_str().unwrap(), out)).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(out).join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["mode"], "nominal");
    let gait = summary["eval_return_mean"].as_f64().unwrap();
    let zero = baseline_return(&walking, 1, None);
    assert!(gait > zero + 100.0, "gait {gait}, standing {zero}");

    let error = train(&args("scenes/pendulum.ron", "/tmp/demorl-nominal-none")).unwrap_err().to_string();
    assert!(error.contains("--mode nominal needs a nominal schedule") && error.contains("nominal: Some(("), "{error}");
}

#[test]
fn planning_physics_steps_the_planners_copies_coarser_and_leaves_the_executed_env_alone() {
    let mut scene = scene("quadruped");
    let coarse = PhysicsResolution { substeps: 4, solver_iterations: 8 };
    scene.physics.planning = Some(PlanningPhysics { substeps: coarse.substeps, solver_iterations: 8 });
    let mut env = Env::new(&scene);
    env.reset(3);
    for _ in 0..10 {
        env.step(&[0.1; 8]);
    }
    let mut batch = SequenceBatch::new(4, 8, env.action_dim());
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    batch.actions.iter_mut().for_each(|a| *a = rng.random_range(-1.0..=1.0));
    let mut model = SimulatorModel::new(&env, 1).unwrap();
    let mut out = RolloutBatch::default();
    model.rollout(&batch, 1, &mut out);
    // Each sequence's rewards are exactly those of a planning fork (coarse) stepped alike...
    assert_eq!(env.planning_fork().physics_resolution(), coarse);
    fn replay(mut copy: Env, batch: &SequenceBatch, n: usize) -> Vec<f32> {
        copy.set_time_limit(false);
        copy.set_disturbances(false);
        batch.actions[n * 8 * 8..(n + 1) * 8 * 8].chunks(8).map(|a| copy.step(a).reward).collect()
    }
    for n in 0..4 {
        assert_eq!(out.rewards_of(n, 0), replay(env.planning_fork(), &batch, n).as_slice(), "sequence {n}");
        // ... which differ from the exact physics' (so the setting reaches the copies).
        assert_ne!(out.rewards_of(n, 0), replay(env.fork(), &batch, n).as_slice(), "sequence {n}");
    }
    // A new start keeps the copies coarse; the executed env still runs the scene's resolution.
    env.step(&[0.0; 8]);
    model.set_start(&env);
    model.rollout(&batch, 1, &mut out);
    assert_eq!(out.rewards_of(2, 0), replay(env.planning_fork(), &batch, 2).as_slice());
    let exact = PhysicsResolution { substeps: 8, solver_iterations: 8 };
    assert_eq!(env.physics_resolution(), exact);
    assert_eq!(env.physics().parameters.dt, 1.0 / 25.0 / 8.0);
}

#[test]
fn a_physics_resolution_survives_resets_and_copies_and_the_scenes_own_changes_nothing() {
    let scene = scene("hopper");
    let mut exact = Env::new(&scene);
    let mut same = Env::new(&scene);
    same.set_physics_resolution(same.physics_resolution());
    let mut coarse = Env::new(&scene);
    let two = PhysicsResolution { substeps: 2, solver_iterations: 2 };
    coarse.set_physics_resolution(two);
    let control_dt = 1.0 / 125.0;
    for env in [&mut exact, &mut same, &mut coarse] {
        env.reset(7);
    }
    assert_eq!(coarse.physics().parameters.dt, control_dt / 2.0, "kept across a reset");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..30 {
        let a: Vec<f32> = (0..3).map(|_| rng.random_range(-1.0..=1.0)).collect();
        assert_eq!(exact.step(&a), same.step(&a), "the scene's own resolution is a no-op");
        coarse.step(&a);
    }
    assert_eq!(exact.observation(), same.observation());
    assert_ne!(exact.observation(), coarse.observation());
    coarse.copy_from(&exact);
    assert_eq!((coarse.physics_resolution(), coarse.physics().parameters.num_solver_iterations), (two, 2));
    assert_eq!(coarse.physics().parameters.dt, control_dt / 2.0, "copy_from takes the state, not the resolution");
    assert_eq!(coarse.observation(), exact.observation());
    assert_eq!(coarse.fork().physics_resolution(), two, "forks inherit it");
    // Without `physics.planning` the planner's copies are exact forks.
    assert_eq!(exact.planning_fork().physics_resolution(), exact.physics_resolution());
}
