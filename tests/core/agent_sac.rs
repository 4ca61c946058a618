//! SAC mode end to end: learning on the pendulum, evaluation on a separate env, determinism.

use std::path::Path;

use demorl_studio::agent::{SacAgent, TrainAgent, Trainer, run_learning};
use demorl_studio::config::{RunConfig, RunMode, SacSettings, TrainSettings, read_run_config};
use demorl_studio::scene::load_scene;

fn pendulum() -> demorl_studio::scene::Scene {
    load_scene(Path::new("scenes/pendulum.ron")).expect("pendulum scene")
}

fn small_train(warmup: u64, eval_every: u64, eval_episodes: usize) -> TrainSettings {
    TrainSettings {
        warmup_steps: warmup,
        eval_every,
        eval_episodes,
        log_every: 50,
        sac: SacSettings { hidden: vec![64, 64], batch_size: 128, ..Default::default() },
        ..Default::default()
    }
}

fn config(steps: u64, train: TrainSettings, seed: u64) -> RunConfig {
    let scene = pendulum();
    RunConfig {
        scene: "scenes/pendulum.ron".into(),
        mode: RunMode::Sac,
        preset: "scene-default".into(),
        seed,
        steps,
        threads: 1,
        train,
        planner: scene.planner,
    }
}

#[test]
fn sac_improves_pendulum_eval_return() {
    let t = std::time::Instant::now();
    let cfg = config(
        4000,
        TrainSettings {
            sac: SacSettings { actor_lr: 1e-3, critic_lr: 1e-3, ..small_train(0, 0, 0).sac },
            ..small_train(500, 1000, 3)
        },
        1,
    );
    let out = run_learning(&cfg, &pendulum(), None, |_| {}, |_| {}).unwrap();
    let curve: Vec<f64> = out.evals.iter().map(|r| r.eval_return_mean).collect();
    println!(
        "sac pendulum: eval curve {curve:.1?} at steps {:?}; {:.1} s, {:.0} steps/s",
        out.evals.iter().map(|r| r.env_steps).collect::<Vec<_>>(),
        t.elapsed().as_secs_f64(),
        out.summary.steps_per_second
    );
    assert_eq!(out.evals.first().unwrap().env_steps, 0);
    assert_eq!(out.evals.last().unwrap().env_steps, 4000);
    let (first, last) = (curve[0], *curve.last().unwrap());
    assert!(last > first + 500.0 && last > -600.0, "no clear improvement: {curve:?}");
    // Losses are logged once updates start.
    let logged = out.rows.iter().filter(|r| r.updates > 0).count();
    assert!(
        logged > 0 && out.rows.iter().filter(|r| r.updates > 0).all(|r| r.critic_loss.is_finite() && r.alpha > 0.0)
    );
}

#[test]
fn evaluation_runs_on_a_separate_env_and_leaves_training_alone() {
    let scene = pendulum();
    let train = small_train(20, 1000, 2);
    let make = || {
        let agent = SacAgent::new(3, 1, train.clone(), 5);
        Trainer::new(&scene, agent, train.clone(), 5).unwrap()
    };
    let (mut a, mut b) = (make(), make());
    for _ in 0..150 {
        a.step();
        b.step();
    }
    let obs_before = a.train_env.observation();
    let steps_before = a.train_env.steps();
    let row = a.evaluate();
    assert_eq!((row.eval_length_mean, row.eval_falls), (200.0, Some(0)), "the pendulum cannot fall");
    // The training env did not move; the evaluation env did.
    assert_eq!(a.train_env.observation(), obs_before);
    assert_eq!(a.train_env.steps(), steps_before);
    assert_eq!(a.eval_env.steps(), 200);
    assert_eq!(a.agent.replay.len(), 150, "evaluation must not store transitions");
    // Training after an evaluation is exactly what it would have been without it.
    for _ in 0..60 {
        a.step();
        b.step();
    }
    assert_eq!(a.train_env.observation(), b.train_env.observation());
    assert_eq!(a.agent.replay.all(), b.agent.replay.all());
    assert_eq!(a.agent.sac.parameters(), b.agent.sac.parameters());
    assert_eq!(a.agent.eval_act(&[1.0, 0.0, 0.0]), b.agent.eval_act(&[1.0, 0.0, 0.0]));
}

#[test]
fn same_seed_same_run_files_and_settings_rerun() {
    let scene = pendulum();
    let cfg = config(300, small_train(100, 100, 1), 3);
    let dirs = ["/tmp/demorl-agent-sac-a", "/tmp/demorl-agent-sac-b", "/tmp/demorl-agent-sac-c"].map(Path::new);
    let read = |dir: &Path, f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    run_learning(&cfg, &scene, Some(dirs[0]), |_| {}, |_| {}).unwrap();
    run_learning(&cfg, &scene, Some(dirs[1]), |_| {}, |_| {}).unwrap();
    // Rerun from the written settings.ron.
    let reread = read_run_config(&dirs[0].join("settings.ron")).unwrap();
    assert_eq!(reread, cfg);
    run_learning(&reread, &scene, Some(dirs[2]), |_| {}, |_| {}).unwrap();
    for f in ["eval.csv", "train.csv"] {
        assert_eq!(read(dirs[0], f), read(dirs[1], f), "{f} differs between identical runs");
        assert_eq!(read(dirs[0], f), read(dirs[2], f), "{f} differs after a rerun from settings.ron");
    }
    let eval = read(dirs[0], "eval.csv");
    assert!(eval.starts_with("env_steps,eval_return_mean,eval_return_std,"), "{eval}");
    assert_eq!(eval.lines().count(), 1 + 4, "evaluations at 0, 100, 200, 300");
    assert!(read(dirs[0], "train.csv").starts_with("env_steps,updates,critic_loss,actor_loss,alpha,entropy,"));
    // A different seed gives a different run.
    let other = run_learning(&config(300, small_train(100, 100, 1), 4), &scene, None, |_| {}, |_| {}).unwrap();
    assert_ne!(
        format!("{:?}", other.rows),
        format!("{:?}", run_learning(&cfg, &scene, None, |_| {}, |_| {}).unwrap().rows)
    );
}

#[test]
fn cli_train_sac_writes_the_five_files_and_reruns_from_settings() {
    use demorl_studio::cli::{Mode, ModelKind, ScheduleArgs, TrainArgs, train};
    let out = Path::new("/tmp/demorl-agent-sac-cli");
    let rerun = Path::new("/tmp/demorl-agent-sac-cli-rerun");
    let args = |out: &Path, settings: Option<std::path::PathBuf>| TrainArgs {
        scene: Some("scenes/pendulum.ron".into()),
        mode: Mode::Sac,
        model: ModelKind::Simulator,
        preset: None,
        episodes: 1,
        seed: Some(9),
        threads: None,
        out: Some(out.to_path_buf()),
        steps: Some(250),
        schedule: ScheduleArgs { eval_every: Some(125), eval_episodes: Some(1), warmup: Some(50) },
        settings,
        save_every: None,
        save_to: None,
        save_final: None,
        randomize: false,
        eval_world: None,
        resume: None,
        set: Vec::new(),
    };
    train(&args(out, None)).unwrap();
    for f in ["eval.csv", "train.csv", "train_episodes.csv", "summary.json", "settings.ron"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let cfg = read_run_config(&out.join("settings.ron")).unwrap();
    assert_eq!((cfg.mode, cfg.steps, cfg.seed), (RunMode::Sac, 250, 9));
    assert_eq!((cfg.train.warmup_steps, cfg.train.eval_every, cfg.train.eval_episodes), (50, 125, 1));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["env_steps"], 250);
    assert_eq!(summary["mode"], "sac");
    // The pendulum's one finished episode: its 200 steps, ended by the time limit, with the
    // return eval.csv reports as the last training return.
    let episodes = std::fs::read_to_string(out.join("train_episodes.csv")).unwrap();
    let lines: Vec<&str> = episodes.lines().collect();
    assert_eq!(lines[0], demorl_studio::agent::TRAIN_EPISODES_HEADER);
    let fields: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        (lines.len(), fields[0], fields[2], fields[3], fields[4]),
        (2, "200", "200", "false", "time limit"),
        "{episodes}"
    );
    let eval = std::fs::read_to_string(out.join("eval.csv")).unwrap();
    let last_train_return = eval.lines().last().unwrap().split(',').nth(7).unwrap().to_string();
    let recorded: f64 = fields[1].parse().unwrap();
    assert!((recorded - last_train_return.parse::<f64>().unwrap()).abs() < 1e-9, "{recorded} vs {last_train_return}");
    // The recorded seed and threads apply when none are given.
    train(&TrainArgs { seed: None, ..args(rerun, Some(out.join("settings.ron"))) }).unwrap();
    for f in ["eval.csv", "train.csv", "train_episodes.csv", "settings.ron"] {
        assert_eq!(
            std::fs::read_to_string(out.join(f)).unwrap(),
            std::fs::read_to_string(rerun.join(f)).unwrap(),
            "{f}"
        );
    }
    // A seed or thread count given with --settings applies: the same settings, another run.
    let reseeded = Path::new("/tmp/demorl-agent-sac-cli-reseeded");
    train(&TrainArgs { seed: Some(10), threads: Some(2), ..args(reseeded, Some(out.join("settings.ron"))) }).unwrap();
    let cfg10 = read_run_config(&reseeded.join("settings.ron")).unwrap();
    assert_eq!((cfg10.seed, cfg10.threads), (10, 2));
    assert_eq!((cfg10.mode, cfg10.steps, cfg10.train.eval_every), (RunMode::Sac, 250, 125));
    assert_ne!(
        std::fs::read_to_string(out.join("eval.csv")).unwrap(),
        std::fs::read_to_string(reseeded.join("eval.csv")).unwrap(),
        "another seed gives another run"
    );
}

#[test]
fn physics_blow_ups_end_episodes_without_reaching_the_replay_buffer() {
    // A 1 mg pole on a 1 MN·m motor blows up whenever a random action pushes hard.
    let text = std::fs::read_to_string("scenes/pendulum.ron")
        .unwrap()
        .replacen("mass: Some(1.0), position: (0.0, 2.0, 0.0)", "mass: Some(0.000001), position: (0.0, 2.0, 0.0)", 1)
        .replacen("Torque(max_torque: 2.0)", "Torque(max_torque: 1000000.0)", 1);
    let scene = demorl_studio::scene::parse_scene(&text, Path::new("wild.ron")).unwrap();
    let train = small_train(1000, 1000, 1);
    let mut trainer = Trainer::new(&scene, SacAgent::new(3, 1, train.clone(), 2), train, 2).unwrap();
    let mut blow_ups = 0;
    for _ in 0..60 {
        let step = trainer.step();
        assert!(step.divergence.is_none(), "{:?}", step.divergence);
        blow_ups += usize::from(step.episode_end.is_some());
    }
    assert!(blow_ups > 0, "the scene blew up");
    let ends: Vec<&str> = trainer.state.episodes.iter().map(|e| e.end.as_str()).collect();
    assert!(ends.iter().all(|end| end.starts_with("physics blow-up: ")), "{ends:?}");
    assert!(trainer.state.episodes.iter().all(|e| !e.fell), "a blow-up is not a fall");
    assert_eq!(trainer.diverged(), None, "a blow-up is not a learning divergence");
    assert_eq!(
        trainer.agent.replay.len() + blow_ups,
        60,
        "every step but the blown-up ones was stored (episodes here end only by blowing up)"
    );
}

#[test]
fn cli_refuses_mode_model_or_preset_beside_a_recorded_run() {
    use clap::Parser;
    use demorl_studio::cli::{Cli, Command};
    let parse = |extra: &[&str]| {
        let mut args = vec!["demorl-studio", "train", "scenes/pendulum.ron"];
        args.extend_from_slice(extra);
        Cli::try_parse_from(args)
    };
    for recorded in [["--settings", "runs/x/settings.ron"], ["--resume", "saves/x"]] {
        for given in [["--mode", "sac"], ["--model", "learned"], ["--preset", "reference"]] {
            let error = parse(&[recorded[0], recorded[1], given[0], given[1]]).unwrap_err();
            assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict, "{given:?} with {recorded:?}");
        }
        // The options a recorded run does not fix still parse, and the defaults do not conflict.
        let ok = parse(&[recorded[0], recorded[1], "--seed", "3", "--threads", "2", "--out", "o"]).unwrap();
        match ok.command {
            Some(Command::Train(args)) => assert_eq!((args.seed, args.threads), (Some(3), Some(2))),
            other => panic!("parsed {other:?}"),
        }
    }
}

#[test]
fn every_training_episode_is_recorded_with_when_and_how_it_ended() {
    // Under SAC's uniform warm-up actions the hopper falls within a few dozen steps.
    let scene = load_scene(Path::new("scenes/hopper.ron")).unwrap();
    let env = demorl_studio::sim::Env::new(&scene);
    let train = small_train(1000, 1000, 1);
    let agent = SacAgent::new(env.obs_dim(), env.action_dim(), train.clone(), 3);
    let mut trainer = Trainer::new(&scene, agent, train, 3).unwrap();
    // What the steps themselves report: (env steps at the end, return, length) per episode.
    let mut seen = Vec::new();
    let (mut total, mut length) = (0.0f64, 0u32);
    for env_steps in 1..=300u64 {
        let step = trainer.step();
        total += f64::from(step.reward);
        length += 1;
        if let Some(episode) = step.episode_end {
            assert_eq!(Some(&episode), trainer.state.episodes.last(), "the step hands on the trainer's record");
            seen.push((env_steps, total, length));
            (total, length) = (0.0, 0);
        }
    }
    assert!(seen.len() >= 3, "the hopper fell: {seen:?}");
    let recorded: Vec<_> = trainer.state.episodes.iter().map(|e| (e.env_steps, e.episode_return, e.length)).collect();
    assert_eq!(recorded, seen);
    for episode in &trainer.state.episodes {
        assert!(episode.fell && episode.end.starts_with("terminated: "), "a fall, its condition named: {episode:?}");
    }
    // The untrained actor's evaluation episode falls too, and the evaluation counts it.
    let row = trainer.evaluate();
    assert!(row.eval_length_mean < f64::from(scene.task.episode_steps), "{row:?}");
    assert_eq!(row.eval_falls, Some(1), "{row:?}");
    assert!(row.return_text().ends_with("; 1 episode fell"), "{}", row.return_text());
}
