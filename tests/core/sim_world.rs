//! Domain randomisation in the simulator against known answers: the nominal world changes
//! nothing, masses and inertias scale exactly, friction scales, latency delays actions by exactly
//! L steps, motor strength is the same as a scaled action, observation noise is seeded and
//! standard, damping slows a free joint, a randomised env draws its world from the episode
//! seed, and bad ranges and worlds in a scene are refused with their field.

use std::path::Path;

use demorl_studio::scene::{Randomization, WorldShift, load_scene, parse_scene};
use demorl_studio::sim::{Env, RobotSummary, WorldChoice};

fn env(name: &str) -> Env {
    Env::new(&load_scene(Path::new(&format!("scenes/{name}.ron"))).unwrap())
}

fn shifted(name: &str, world: WorldShift, seed: u64) -> Env {
    let mut e = env(name);
    e.set_world(WorldChoice::Fixed(world));
    e.reset(seed);
    e
}

/// Observations and rewards of `steps` steps with actions from `action(t)`.
fn trajectory(e: &mut Env, steps: usize, action: impl Fn(usize) -> Vec<f32>) -> Vec<(Vec<f32>, f32)> {
    (0..steps)
        .map(|t| {
            let outcome = e.step(&action(t));
            (e.observation(), outcome.reward)
        })
        .collect()
}

fn wiggle(dim: usize) -> impl Fn(usize) -> Vec<f32> {
    move |t| (0..dim).map(|k| ((t * 7 + k * 3) as f32 * 0.37).sin()).collect()
}

#[test]
fn the_nominal_world_as_a_fixed_world_changes_nothing() {
    for name in ["cheetah", "go1"] {
        let mut plain = env(name);
        plain.reset(4);
        let mut fixed = shifted(name, WorldShift::default(), 4);
        let dim = plain.action_dim();
        assert_eq!(trajectory(&mut plain, 60, wiggle(dim)), trajectory(&mut fixed, 60, wiggle(dim)), "{name}");
    }
}

#[test]
fn mass_scale_multiplies_every_moving_links_mass_and_inertia() {
    for name in ["cheetah", "go1", "quadruped"] {
        let nominal = env(name);
        let heavy = shifted(name, WorldShift { mass_scale: 1.3, ..WorldShift::default() }, 0);
        let (m0, m1) = (RobotSummary::of(&nominal).mass, RobotSummary::of(&heavy).mass);
        assert!((m1 / m0 - 1.3).abs() < 1e-5, "{name}: {m0} kg → {m1} kg");
        for link in nominal.robot().links.iter().filter(|l| !l.fixed) {
            let a = nominal.physics().bodies[link.body].mass_properties().local_mprops;
            let b = heavy.physics().bodies[link.body].mass_properties().local_mprops;
            let ratio = a.principal_inertia() * 1.3 - b.principal_inertia();
            assert!(ratio.abs().max_element() < 1e-4 * a.principal_inertia().max_element(), "{name} {}", link.name);
            assert!((a.local_com - b.local_com).length() < 1e-6, "{name} {}: centre of mass moved", link.name);
        }
    }
}

#[test]
fn friction_scale_multiplies_every_colliders_friction() {
    let nominal = env("cheetah");
    let slippery = shifted("cheetah", WorldShift { friction_scale: 0.5, ..WorldShift::default() }, 0);
    let colliders = nominal.physics().colliders.iter().zip(slippery.physics().colliders.iter());
    for ((_, a), (_, b)) in colliders {
        assert_eq!(b.friction(), a.friction() * 0.5);
    }
}

#[test]
fn latency_applies_each_action_exactly_l_steps_later() {
    for (name, latency) in [("cheetah", 2), ("go1", 1)] {
        let mut nominal = env(name);
        nominal.reset(9);
        let home = nominal.robot().scene.robot.home_action();
        let mut late = shifted(name, WorldShift { latency_steps: latency, ..WorldShift::default() }, 9);
        let dim = nominal.action_dim();
        let act = wiggle(dim);
        let l = latency as usize;
        let delayed = |t: usize| if t < l { home.clone() } else { act(t - l) };
        assert_eq!(trajectory(&mut late, 50, &act), trajectory(&mut nominal, 50, delayed), "{name}");
    }
}

#[test]
fn half_strength_torque_motors_equal_half_the_action() {
    // The pendulum's motor gives 2 N·m: scaling by 0.5 or halving the action is exact in floats.
    let mut weak = shifted("pendulum", WorldShift { strength_scale: 0.5, ..WorldShift::default() }, 1);
    let mut nominal = env("pendulum");
    nominal.reset(1);
    let act = wiggle(1);
    let half = |t: usize| act(t).iter().map(|a| a * 0.5).collect();
    assert_eq!(trajectory(&mut weak, 100, &act), trajectory(&mut nominal, 100, half));
    assert_eq!(weak.effort(), nominal.effort());
}

#[test]
fn observation_noise_is_seeded_standard_and_forked() {
    let sigma = 0.05;
    let mut noisy = shifted("cheetah", WorldShift { obs_noise: sigma, ..WorldShift::default() }, 3);
    let mut clean = env("cheetah");
    clean.reset(3);
    let mut errors = Vec::new();
    for t in 0..200 {
        let action = wiggle(6)(t);
        noisy.step(&action);
        clean.step(&action);
        assert_eq!(noisy.observation(), noisy.observation(), "reading twice changed the noise");
        let fork = noisy.fork();
        assert_eq!(fork.observation(), noisy.observation());
        errors.extend(noisy.observation().iter().zip(clean.observation()).map(|(a, b)| f64::from(a - b)));
    }
    let n = errors.len() as f64;
    let mean = errors.iter().sum::<f64>() / n;
    let std = (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(mean.abs() < 0.005 && (std / f64::from(sigma) - 1.0).abs() < 0.05, "noise mean {mean}, std {std}");
}

#[test]
fn joint_damping_slows_a_spinning_pendulum() {
    let spin = |world: WorldShift| {
        let mut e = shifted("pendulum", world, 0);
        e.set_joint_state(&[0.0], &[5.0]);
        for _ in 0..20 {
            e.step(&[0.0]);
        }
        e.joint_state().1[0].abs()
    };
    let free = spin(WorldShift::default());
    let damped = spin(WorldShift { joint_damping: 0.2, ..WorldShift::default() });
    assert!(damped < free * 0.9, "damped {damped} rad/s vs free {free} rad/s");
}

#[test]
fn a_randomised_env_draws_its_world_from_each_episode_seed() {
    let ranges = Randomization { mass_scale: (0.8, 1.2), friction_scale: (0.5, 1.0), ..Randomization::default() };
    let mut e = env("cheetah");
    e.set_world(WorldChoice::Randomized(ranges.clone()));
    e.reset(1);
    let first = e.world().clone();
    let mass = RobotSummary::of(&e).mass;
    e.reset(2);
    assert_ne!(e.world(), &first);
    e.reset(1);
    assert_eq!(e.world(), &first);
    assert_eq!(RobotSummary::of(&e).mass, mass);
    assert!((0.8..=1.2).contains(&first.mass_scale) && (0.5..=1.0).contains(&first.friction_scale));
    // The initial state does not depend on the world stream: same reset noise as nominal.
    let mut nominal = env("cheetah");
    nominal.reset(1);
    assert_eq!(nominal.joint_state(), e.joint_state());
}

#[test]
fn bad_ranges_and_worlds_are_refused_with_their_field() {
    let text = std::fs::read_to_string("scenes/cheetah.ron").unwrap();
    let with = |extra: &str| text.replacen("episode_steps:", &format!("{extra} episode_steps:"), 1);
    let error = |extra: &str| parse_scene(&with(extra), Path::new("cheetah.ron")).unwrap_err().to_string();
    let e = error("randomize: Some((mass_scale: (1.2, 0.8))),");
    assert!(e.contains("task.randomize.mass_scale") && e.contains("low ≤ high"), "{e}");
    let e = error("randomize: Some((friction_scale: (0.0, 1.0))),");
    assert!(e.contains("task.randomize.friction_scale") && e.contains("above 0"), "{e}");
    let e = error("worlds: { \"heavy\": (mass_scale: -1.3) },");
    assert!(e.contains("task.worlds.heavy.mass_scale"), "{e}");
    let e = error("worlds: { \"heavy\": (latency_steps: 500) },");
    assert!(e.contains("task.worlds.heavy.latency_steps") && e.contains("at most 50"), "{e}");
    let e = error("worlds: { \"heavy\": (mass_scal: 1.3) },");
    assert!(e.contains("mass_scal"), "{e}");
    let ok = parse_scene(
        &with("worlds: { \"heavy\": (mass_scale: 1.3) }, randomize: Some((latency_steps: (0, 2))),"),
        Path::new("c.ron"),
    );
    let scene = ok.unwrap();
    assert_eq!(scene.task.worlds["heavy"].mass_scale, 1.3);
    assert_eq!(scene.task.randomize.unwrap().latency_steps, (0, 2));
}

/// The pendulum with a heavy world and mass randomisation, and a small SAC run's settings on it.
fn pendulum_with_worlds() -> (demorl_studio::scene::Scene, demorl_studio::config::RunConfig) {
    let text = std::fs::read_to_string("scenes/pendulum.ron").unwrap().replacen(
        "episode_steps:",
        "worlds: { \"heavy\": (mass_scale: 3.0) }, randomize: Some((mass_scale: (0.5, 2.0))), episode_steps:",
        1,
    );
    let scene = parse_scene(&text, Path::new("scenes/pendulum.ron")).unwrap();
    let config = small_sac("scenes/pendulum.ron", &scene);
    (scene, config)
}

/// A SAC run on `scene` (loaded from `path`) with its defaults, a small network and one
/// evaluation episode.
fn small_sac(path: &str, scene: &demorl_studio::scene::Scene) -> demorl_studio::config::RunConfig {
    let mode = demorl_studio::config::RunMode::Sac;
    let mut config = demorl_studio::agent::learning_config(Path::new(path), scene, mode, None, 1, 1).unwrap();
    config.train.sac.hidden = vec![16, 16];
    config.train.eval_episodes = 1;
    config
}

fn trainer(
    scene: &demorl_studio::scene::Scene,
    config: &demorl_studio::config::RunConfig,
) -> anyhow::Result<demorl_studio::agent::Trainer<Box<dyn demorl_studio::agent::TrainAgent + Send>>> {
    let agent = demorl_studio::agent::learning_agent(config, &Env::new(scene))?;
    demorl_studio::agent::Trainer::new(scene, agent, config.train.clone(), config.seed)
}

#[test]
fn training_randomises_its_episodes_and_evaluates_in_the_named_world() {
    let (scene, mut config) = pendulum_with_worlds();
    config.train.randomize = true;
    config.train.eval_world = Some("heavy".into());
    let mut t = trainer(&scene, &config).unwrap();
    let mut masses = Vec::new();
    for _ in 0..3 {
        masses.push(t.train_env.world().mass_scale);
        t.run(200, |_| {}, |_| {});
    }
    assert!(masses.iter().all(|m| (0.5..=2.0).contains(m)) && masses[0] != masses[1], "{masses:?}");
    let heavy_row = t.evaluate();
    assert_eq!(t.eval_env.world().mass_scale, 3.0);
    // The same agent evaluated in the nominal world scores differently.
    let (_, mut nominal_config) = pendulum_with_worlds();
    nominal_config.train.eval_world = None;
    let mut nominal = trainer(&scene, &nominal_config).unwrap();
    assert_eq!(nominal.train_env.world(), &WorldShift::default());
    let fresh_heavy = trainer(&scene, &config).unwrap().evaluate();
    assert_ne!(nominal.evaluate().eval_return_mean, fresh_heavy.eval_return_mean);
    assert!(heavy_row.eval_return_mean.is_finite());
}

#[test]
fn an_unknown_world_or_missing_ranges_are_refused_naming_the_setting() {
    let (scene, mut config) = pendulum_with_worlds();
    config.train.eval_world = Some("icy".into());
    let e = trainer(&scene, &config).err().expect("refused").to_string();
    assert!(e.contains("train.eval_world `icy`") && e.contains("heavy"), "{e}");
    let plain = load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    let (_, mut config) = pendulum_with_worlds();
    config.train.randomize = true;
    let e = trainer(&plain, &config).err().expect("refused").to_string();
    assert!(e.contains("train.randomize") && e.contains("task.randomize"), "{e}");
}

#[test]
fn episode_runs_play_every_episode_in_the_named_world() {
    use clap::Parser;
    use demorl_studio::cli::{Cli, Command, train};
    let folder = tempfile::tempdir().unwrap();
    let run = |world: Option<&str>| -> anyhow::Result<f64> {
        let out = folder.path().join(world.unwrap_or("nominal"));
        let mut words = vec!["demorl-studio", "train", "scenes/quadruped.ron", "--mode", "nominal", "--episodes", "1"];
        words.extend(["--out", out.to_str().unwrap()]);
        if let Some(w) = world {
            words.extend(["--eval-world", w]);
        }
        let Some(Command::Train(args)) = Cli::try_parse_from(words).unwrap().command else { panic!("not train") };
        train(&args)?;
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        Ok(summary["eval_return_mean"].as_f64().unwrap())
    };
    let nominal = run(None).unwrap();
    let heavy = run(Some("heavy")).unwrap();
    assert!(heavy < nominal * 0.97, "heavy {heavy} vs nominal {nominal}");
    let e = run(Some("icy")).unwrap_err().to_string();
    assert!(e.contains("`icy`") && e.contains("heavy, laggy, nudged, pushed, slippery, weak"), "{e}");
}

#[test]
fn a_residual_gait_executes_the_gait_plus_the_scaled_action() {
    use demorl_studio::sim::ResidualGait;
    use std::sync::Arc;
    let scene = load_scene(Path::new("scenes/quadruped.ron")).unwrap();
    let gait = Arc::new(scene.planner.nominal.clone().expect("the quadruped plans around a trot"));
    let mut residual = Env::new(&scene);
    residual.set_gait(Some(ResidualGait { gait: gait.clone(), scale: 0.3 }));
    let mut whole = Env::new(&scene);
    for e in [&mut residual, &mut whole] {
        e.reset(5);
    }
    let small = wiggle(8);
    let by_residual = trajectory(&mut residual, 40, &small);
    // The same run with whole actions: gait(t) + 0.3 · a(t), clipped (the wiggle's ±1 with a
    // hip amplitude of 0.1 never clips here, so clipping is checked below with a large scale).
    let by_whole =
        trajectory(&mut whole, 40, |t| (0..8).map(|d| gait.value(t as u64, d) + 0.3 * small(t)[d]).collect());
    assert_eq!(by_residual, by_whole);
    // Zero residuals play the gait open loop: the `nominal` baseline's actions, bit for bit.
    residual.reset(6);
    whole.reset(6);
    let zero = trajectory(&mut residual, 30, |_| vec![0.0; 8]);
    assert_eq!(zero, trajectory(&mut whole, 30, |t| (0..8).map(|d| gait.value(t as u64, d)).collect()));
    // Forks keep the gait; the sum is clipped to the action range.
    residual.set_gait(Some(ResidualGait { gait: gait.clone(), scale: 2.0 }));
    residual.reset(7);
    whole.reset(7);
    let mut fork = residual.fork();
    let big = trajectory(&mut residual, 10, |_| vec![1.0; 8]);
    assert_eq!(big, trajectory(&mut fork, 10, |_| vec![1.0; 8]));
    assert_eq!(big, trajectory(&mut whole, 10, |_| vec![1.0; 8]));
}

#[test]
fn a_residual_gait_needs_the_scenes_gait_and_a_sane_scale() {
    let (scene, mut config) = pendulum_with_worlds();
    config.train.gait_residual = Some(0.3);
    let e = trainer(&scene, &config).err().expect("refused").to_string();
    assert!(e.contains("train.gait_residual") && e.contains("planner.nominal"), "{e}");
    config.train.gait_residual = Some(0.0);
    let problems = demorl_studio::config::train_settings_problems(&config.train);
    assert!(problems.iter().any(|p| p.starts_with("train.gait_residual = Some(0)")), "{problems:?}");
    // A gait whose phase the task does not observe, or observes on another period, is refused.
    let text = std::fs::read_to_string("scenes/quadruped.ron").unwrap();
    let mut config = small_sac("scenes/quadruped.ron", &parse_scene(&text, Path::new("scenes/quadruped.ron")).unwrap());
    config.train.gait_residual = Some(0.1);
    for (from, to) in [(", Phase],", "],"), ("phase: Some((period_steps: 8)),", "phase: Some((period_steps: 9)),")] {
        assert_eq!(text.matches(from).count(), 1, "{from}");
        let blind = parse_scene(&text.replace(from, to), Path::new("scenes/quadruped.ron")).unwrap();
        let e = trainer(&blind, &config).err().expect("refused").to_string();
        assert!(e.contains("train.gait_residual") && e.contains("Phase") && e.contains("period_steps: 8"), "{e}");
    }
    let scene = parse_scene(&text, Path::new("scenes/quadruped.ron")).unwrap();
    assert!(trainer(&scene, &config).is_ok());
}

#[test]
fn a_residual_learning_run_starts_from_the_gait() {
    // With zero residuals from an untrained actor's mean the quadruped trots: the first
    // evaluation of a residual SAC run scores near the open-loop trot, a whole-action one falls.
    let scene = load_scene(Path::new("scenes/quadruped.ron")).unwrap();
    let mut config = small_sac("scenes/quadruped.ron", &scene);
    config.train.gait_residual = None;
    let whole = trainer(&scene, &config).unwrap().evaluate().eval_return_mean;
    config.train.gait_residual = Some(0.3);
    let mut t = trainer(&scene, &config).unwrap();
    let residual = t.evaluate().eval_return_mean;
    assert!(residual > 2000.0 && whole < 1500.0, "residual {residual}, whole {whole}");
}

#[test]
fn a_trainer_refuses_a_world_or_gait_its_scene_lacks_instead_of_running_nominal() {
    let (scene, config) = pendulum_with_worlds();
    let agent = || demorl_studio::agent::SacAgent::new(3, 1, config.train.clone(), 1);
    let new = |train: demorl_studio::config::TrainSettings| {
        demorl_studio::agent::Trainer::new(&scene, agent(), train, 1).map(|_| ()).unwrap_err().to_string()
    };
    let icy = new(demorl_studio::config::TrainSettings { eval_world: Some("icy".into()), ..config.train.clone() });
    assert!(icy.contains("`icy`") && icy.contains("heavy"), "{icy}");
    let gait = new(demorl_studio::config::TrainSettings { gait_residual: Some(0.1), ..config.train.clone() });
    assert!(gait.contains("gait_residual") && gait.contains("nominal"), "{gait}");
}
