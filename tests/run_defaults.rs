//! Defaults that work: every mode's defaults come from one place (`Scene::defaults`), the shipped
//! scenes' learning defaults are the recorded settings of docs/RESULTS.md, `train SCENE --mode M`
//! with no other flag runs them, and run modes keep their on-disk names.

use std::path::{Path, PathBuf};

use clap::Parser;
use demorl_studio::agent::learning_config;
use demorl_studio::cli::{Cli, Command, train};
use demorl_studio::config::{
    PlannerSettings, RunConfig, RunMode, TerminalChoice, TrainSettings, preset, read_run_config, write_run_config,
};
use demorl_studio::scene::{load_scene, parse_scene};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("demorl-defaults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The recorded settings file of a result, with the evaluation schedule and length of its
/// recorded command (docs/RESULTS.md).
fn recorded(file: &str, steps: u64, eval_every: u64, eval_episodes: usize) -> (u64, TrainSettings, RunConfig) {
    let config = read_run_config(&Path::new("docs/settings").join(file)).unwrap();
    let train = TrainSettings { eval_every, eval_episodes, ..config.train.clone() };
    (steps, train, config)
}

#[test]
fn shipped_scenes_default_to_their_recorded_learning_settings() {
    let cases = [
        ("pendulum", RunMode::Demorl, recorded("pendulum-demorl-cem15-refit100-patience20.ron", 1000, 250, 3)),
        ("pendulum", RunMode::Sac, recorded("pendulum-sac-lr1e-3.ron", 4000, 250, 5)),
        ("leg2r", RunMode::Demorl, recorded("pendulum-demorl-cem15-refit100-patience20.ron", 5000, 500, 2)),
        (
            "cheetah",
            RunMode::Demorl,
            recorded("cheetah-demorl-lambda0.1-modeldata400-real0.5-utd10-nllbeta0.5.ron", 10000, 2000, 3),
        ),
        ("quadruped", RunMode::Sac, recorded("quadruped-sac-residual0.1-alpha0.1.ron", 30000, 2000, 3)),
        ("quadruped", RunMode::Demorl, recorded("quadruped-demorl-residual0.1-cem-h10.ron", 10000, 2000, 2)),
        ("hopper", RunMode::Demorl, recorded("hopper-demorl-knowntermination-cem-h25.ron", 10000, 1000, 3)),
    ];
    for (name, mode, (steps, train, file)) in cases {
        let path = PathBuf::from(format!("scenes/{name}.ron"));
        let scene = load_scene(&path).unwrap();
        let defaults = scene.defaults(mode);
        assert_eq!((defaults.steps, &defaults.train), (steps, &train), "{name} {mode}: learning settings");
        if mode.plans() {
            assert_eq!(defaults.planner, file.planner, "{name} {mode}: planner");
        }
        // `train SCENE --mode M` (no preset) runs exactly these.
        let config = learning_config(&path, &scene, mode, None, 1, 1).unwrap();
        assert_eq!((config.mode, config.steps, config.train, config.planner), (mode, steps, train, defaults.planner));
    }
    // SAC's defaults on the leg and the cheetah: SAC's own defaults, the recorded length and schedule.
    for (name, steps, eval_every, eval_episodes) in [("leg2r", 15000, 500, 2), ("cheetah", 30000, 2000, 1)] {
        let scene = load_scene(Path::new(&format!("scenes/{name}.ron"))).unwrap();
        let sac = scene.defaults(RunMode::Sac);
        let expected = TrainSettings { warmup_steps: 1000, eval_every, eval_episodes, ..TrainSettings::default() };
        assert_eq!((sac.steps, sac.train), (steps, expected), "{name} sac");
    }
}

#[test]
fn a_scene_without_learning_defaults_gets_each_modes_generic_ones() {
    let scene = load_scene(Path::new("scenes/go1.ron")).unwrap();
    assert!(scene.learning.entries().next().is_none());
    let learned = preset("demorl-h15").unwrap();
    let demorl = scene.defaults(RunMode::Demorl);
    assert_eq!((demorl.steps, demorl.train.warmup_steps, &demorl.planner), (10_000, 250, &learned));
    let pets = scene.defaults(RunMode::MpcLearned);
    assert_eq!((pets.planner.policy_fraction, pets.train.warmup_steps), (0.0, 250));
    assert_eq!(pets.planner.horizon, learned.horizon);
    let sac = scene.defaults(RunMode::Sac);
    assert_eq!(sac.train.warmup_steps, 1000);
    assert_eq!(scene.defaults(RunMode::MpcSimulator).planner, scene.planner);
    // The scene's defaults are the modes' generic ones when it records none.
    for mode in RunMode::ALL {
        assert_eq!(scene.defaults(mode), mode.generic_defaults(&scene.planner), "{mode}");
    }
}

#[test]
fn a_bad_value_in_a_scenes_learning_section_is_named_with_its_position() {
    let text = std::fs::read_to_string("scenes/pendulum.ron").unwrap();
    assert_eq!(text.matches("patience: 20,").count(), 1);
    let bad = text.replace("patience: 20,", "patience: 0,");
    let err = parse_scene(&bad, Path::new("scenes/bad.ron")).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("learning.demorl.train.ensemble.patience"), "{err}");
    let line = bad.lines().position(|l| l.contains("patience: 0,")).unwrap() + 1;
    assert_eq!(err.line, Some(line), "{err}");
    assert!(err.to_string().contains("is 0: must be at least 1"), "{err}");

    let bad = text.replacen("eval_every: 250,", "eval_every: 0,", 1);
    let err = parse_scene(&bad, Path::new("scenes/bad.ron")).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("learning.sac.train.eval_every"), "{err}");
    let bad = text.replace("horizon: 15,", "horizon: 0,");
    let err = parse_scene(&bad, Path::new("scenes/bad.ron")).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("learning.demorl.planner.horizon"), "{err}");
}

#[test]
fn run_modes_keep_their_names_in_settings_files() {
    let dir = scratch("names");
    let scene = load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    for (mode, names) in [
        (RunMode::Sac, ("sac", "none")),
        (RunMode::MpcLearned, ("mpc", "learned")),
        (RunMode::Demorl, ("demorl", "learned")),
    ] {
        assert_eq!((mode.mode_name(), mode.model_name()), names);
        assert_eq!(RunMode::from_names(names.0, names.1), Some(mode));
        let config = learning_config(Path::new("scenes/pendulum.ron"), &scene, mode, None, 3, 1).unwrap();
        let path = dir.join(format!("{}.ron", names.0));
        write_run_config(&path, &config).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&format!("mode: \"{}\"", names.0)) && text.contains(&format!("model: \"{}\"", names.1)));
        assert_eq!(read_run_config(&path).unwrap(), config, "round trip");
    }
    assert_eq!(RunMode::from_names("mpc", "simulator"), Some(RunMode::MpcSimulator));
    assert_eq!(RunMode::learning_from_name("mpc"), Some(RunMode::MpcLearned));
    assert_eq!(RunMode::learning_from_name("zero"), None);
    // A settings file with a mode that is not a run is refused with its position and names.
    let text = std::fs::read_to_string(dir.join("sac.ron")).unwrap().replace("mode: \"sac\"", "mode: \"nominal\"");
    let path = dir.join("bad.ron");
    std::fs::write(&path, text).unwrap();
    let err = format!("{:#}", read_run_config(&path).unwrap_err());
    assert!(err.contains("bad.ron:") && err.contains("`nominal`"), "{err}");
}

fn train_args(words: &[&str]) -> demorl_studio::cli::TrainArgs {
    let mut argv = vec!["demorl-studio", "train"];
    argv.extend_from_slice(words);
    match Cli::try_parse_from(argv).unwrap().command {
        Some(Command::Train(args)) => args,
        other => panic!("parsed {other:?}"),
    }
}

#[test]
fn train_with_only_a_mode_records_the_scenes_defaults() {
    let out = scratch("train");
    let out_text = out.to_str().unwrap();
    // One env step is enough to see what the run is (the warm-up acts at random).
    train(&train_args(&["scenes/pendulum.ron", "--mode", "demorl", "--steps", "1", "--out", out_text])).unwrap();
    let written = read_run_config(&out.join("settings.ron")).unwrap();
    let scene = load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    let defaults = scene.defaults(RunMode::Demorl);
    assert_eq!((written.mode, written.train, written.planner), (RunMode::Demorl, defaults.train, defaults.planner));
    assert_eq!((written.steps, written.seed, written.preset.as_str()), (1, 0, "scene-default"));
}

#[test]
fn a_recorded_run_on_another_scene_is_refused() {
    let file = "docs/settings/pendulum-demorl-cem15.ron";
    let err = train(&train_args(&["scenes/leg2r.ron", "--settings", file, "--steps", "1"])).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("scenes/pendulum.ron") && text.contains("scenes/leg2r.ron"), "{text}");
}

#[test]
fn a_zero_evaluation_interval_is_named_wherever_it_comes_from() {
    let problems =
        demorl_studio::config::train_settings_problems(&TrainSettings { eval_every: 0, ..Default::default() });
    assert_eq!(problems, ["train.eval_every = 0: must be at least 1"]);
    let err = train(&train_args(&["scenes/pendulum.ron", "--mode", "sac", "--eval-every", "0"])).unwrap_err();
    assert!(format!("{err:#}").contains("--eval-every"), "{err:#}");
}

#[test]
fn episode_runs_write_episodes_csv_and_learning_runs_eval_csv() {
    // Two formats, two names: `compare` reads only the learning runs' eval.csv.
    let episodes = scratch("episodes");
    train(&train_args(&[
        "scenes/pendulum.ron",
        "--mode",
        "zero",
        "--episodes",
        "2",
        "--out",
        episodes.to_str().unwrap(),
    ]))
    .unwrap();
    let text = std::fs::read_to_string(episodes.join("episodes.csv")).unwrap();
    assert!(text.starts_with("env_steps,eval_return_mean,eval_return_std,episodes,episode_return"), "{text}");
    assert_eq!(text.lines().count(), 3, "a header and one row per episode");
    assert!(!episodes.join("eval.csv").exists());
    let learning = scratch("learning");
    let out = learning.to_str().unwrap();
    train(&train_args(&["scenes/pendulum.ron", "--mode", "sac", "--steps", "2", "--eval-episodes", "1", "--out", out]))
        .unwrap();
    assert!(learning.join("eval.csv").exists() && !learning.join("episodes.csv").exists());
}

#[test]
fn train_set_changes_one_field_and_records_it() {
    // A learning run: the changed fields are recorded, everything else is the scene's defaults.
    let out = scratch("set-learning");
    train(&train_args(&[
        "scenes/pendulum.ron",
        "--mode",
        "demorl",
        "--steps",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "planner.horizon=7",
        "--set",
        "train.model_train_every=125",
        "--set",
        "planner.terminal_value=None",
    ]))
    .unwrap();
    let written = read_run_config(&out.join("settings.ron")).unwrap();
    let defaults = load_scene(Path::new("scenes/pendulum.ron")).unwrap().defaults(RunMode::Demorl);
    let planner = PlannerSettings { horizon: 7, terminal_value: TerminalChoice::None, ..defaults.planner.clone() };
    assert_ne!(planner, defaults.planner, "the test must change something");
    assert_eq!(written.planner, planner);
    assert_eq!(written.train, TrainSettings { model_train_every: 125, ..defaults.train });

    // An episode run plans exactly as with a preset file holding the same change.
    let changed = PlannerSettings { horizon: 5, ..load_scene(Path::new("scenes/pendulum.ron")).unwrap().planner };
    let dir = scratch("set-episodes");
    let preset = dir.join("h5.ron");
    std::fs::write(&preset, ron::ser::to_string(&changed).unwrap()).unwrap();
    let episodes = |name: &str, extra: &[&str]| {
        let out = dir.join(name);
        let mut words = vec!["scenes/pendulum.ron", "--mode", "mpc", "--episodes", "1", "--out", out.to_str().unwrap()];
        words.extend_from_slice(extra);
        train(&train_args(&words)).unwrap();
        // Every column but the planning time, which the clock decides.
        let text = std::fs::read_to_string(out.join("episodes.csv")).unwrap();
        let rows = text.lines().map(|line| line.split(',').enumerate().filter(|(k, _)| *k != 6).map(|(_, c)| c));
        rows.map(|row| row.collect::<Vec<_>>().join(",")).collect::<Vec<_>>()
    };
    let with_set = episodes("set", &["--set", "planner.horizon=5"]);
    assert!(with_set[0].ends_with("episode_length,end"), "{with_set:?}");
    assert_eq!(with_set, episodes("preset", &["--preset", preset.to_str().unwrap()]));
    assert_ne!(with_set, episodes("scene", &[]), "horizon 5 must plan differently from the scene's");
}

#[test]
fn train_set_refuses_what_it_cannot_change_naming_the_field() {
    let refused = |words: &[&str]| format!("{:#}", train(&train_args(words)).unwrap_err());
    let text = refused(&["scenes/pendulum.ron", "--mode", "mpc", "--set", "train.warmup_steps=5"]);
    assert!(text.contains("--set train.warmup_steps") && text.contains("only planner fields"), "{text}");
    let text = refused(&["scenes/pendulum.ron", "--mode", "demorl", "--steps", "1", "--set", "planner.horizon=0"]);
    assert!(text.contains("--set planner.horizon=0") && text.contains("horizon"), "{text}");
    let text = refused(&["scenes/pendulum.ron", "--mode", "demorl", "--steps", "1", "--set", "train.no_such=1"]);
    assert!(text.contains("no field `no_such`"), "{text}");
    let text = refused(&["scenes/pendulum.ron", "--mode", "sac", "--steps", "1", "--set", "planner.horizon=5"]);
    assert!(text.contains("--set planner.horizon") && text.contains("does not use it"), "{text}");
    let text = refused(&["scenes/pendulum.ron", "--mode", "sac", "--set", "train.fall_caution.max_penalty=2.0"]);
    assert!(text.contains("--set train.fall_caution.max_penalty") && text.contains("does not use it"), "{text}");
    let text = refused(&["scenes/pendulum.ron", "--mode", "mpc", "--set", "planner.horizon"]);
    assert!(text.contains("FIELD=VALUE"), "{text}");
    // A resumed run continues its own settings.
    let parsed = Cli::try_parse_from(["demorl-studio", "train", "--resume", "saves/x", "--set", "planner.horizon=5"]);
    assert!(parsed.unwrap_err().to_string().contains("--resume"));
}
