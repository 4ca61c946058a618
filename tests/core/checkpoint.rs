//! Checkpoints: a saved and resumed run is bit-identical to an uninterrupted one; corrupt,
//! truncated, missing-file and other-version checkpoints are refused naming the file; nothing
//! on disk is changed by a refused load.

use crate::learning_common;

use std::path::{Path, PathBuf};

use demorl_studio::agent::{
    LearnedPlannerAgent, ModelFit, SacAgent, StepStats, TrainAgent, TrainEpisode, Trainer, list_checkpoints,
    read_checkpoint, restore_checkpoint, save_checkpoint,
};
use demorl_studio::config::{
    FallCaution, ModelDataSettings, PlannerSettings, RunConfig, RunMode, SacSettings, TerminalChoice, TrainSettings,
    preset,
};
use demorl_studio::learn::{ReplayBuffer, StepEnd};
use demorl_studio::scene::{Scene, load_scene};
use learning_common::small_ensemble;

const SEED: u64 = 11;

fn scene() -> Scene {
    load_scene(Path::new("scenes/pendulum.ron")).unwrap()
}

/// Small networks and a short schedule so the test takes seconds; pendulum episodes are 200 steps.
fn settings() -> TrainSettings {
    TrainSettings {
        warmup_steps: 100,
        replay_capacity: 5_000,
        eval_every: 200,
        eval_episodes: 1,
        log_every: 100,
        sac: SacSettings { hidden: vec![32, 32], batch_size: 32, ..SacSettings::default() },
        ..TrainSettings::default()
    }
}

fn config() -> RunConfig {
    RunConfig {
        scene: PathBuf::from("scenes/pendulum.ron"),
        mode: RunMode::Sac,
        preset: "scene-default".into(),
        seed: SEED,
        steps: 600,
        threads: 1,
        train: settings(),
        planner: preset("mppi").unwrap(),
    }
}

fn trainer(scene: &Scene) -> Trainer<SacAgent> {
    let env = demorl_studio::sim::Env::new(scene);
    let agent = SacAgent::new(env.obs_dim(), env.action_dim(), settings(), SEED);
    Trainer::new(scene, agent, settings(), SEED).unwrap()
}

/// Everything a run produced, with floats as bits so NaN compares equal to NaN.
fn fingerprint(t: &Trainer<SacAgent>) -> (String, Vec<u32>) {
    let metrics = format!("{:?} {:?} {:?} {}", t.state.evals, t.state.rows, t.state.episodes, t.state.env_steps);
    (metrics, t.agent.sac.parameters().iter().map(|v| v.to_bits()).collect())
}

/// A 400-step run saved to `dir`.
fn saved_run(dir: &Path) {
    saved_run_of(dir, 400);
}

fn saved_run_of(dir: &Path, steps: u64) {
    let mut first = trainer(&scene());
    first.run(steps, |_| {}, |_| {});
    save_checkpoint(dir, &config(), &first).unwrap();
}

/// An uninterrupted run of `total` steps, and a run of `saved` steps saved to a fresh folder.
fn whole_run_and_saved_part(total: u64, saved: u64) -> (Trainer<SacAgent>, tempfile::TempDir, PathBuf) {
    let mut whole = trainer(&scene());
    whole.run(total, |_| {}, |_| {});
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("run");
    saved_run_of(&dir, saved);
    (whole, folder, dir)
}

#[test]
fn resumed_run_is_bit_identical_to_an_uninterrupted_one() {
    // The figures: 2000 steps saved and resumed for 1000 more against 3000 in one go.
    let (whole, _folder, dir) = whole_run_and_saved_part(3000, 2000);
    let manifest = read_checkpoint(&dir).unwrap();
    assert_eq!(manifest.trainer.env_steps, 2000);
    assert!(manifest.files.iter().any(|f| f.path == "agent/replay.bin"), "{:?}", manifest.files);
    let mut resumed = trainer(&scene());
    restore_checkpoint(&dir, &manifest, &mut resumed).unwrap();
    resumed.run(1000, |_| {}, |_| {});

    let (whole_metrics, whole_weights) = fingerprint(&whole);
    let (resumed_metrics, resumed_weights) = fingerprint(&resumed);
    assert_eq!(resumed_metrics, whole_metrics);
    assert!(resumed_weights == whole_weights, "weights differ after resuming");
    assert!(whole.agent.sac.updates() > 2800, "SAC learned during the run");
}

#[test]
fn a_fresh_agent_differs_so_the_identity_above_is_not_trivial() {
    let (whole, _folder, dir) = whole_run_and_saved_part(600, 400);
    // Restoring only the trainer's counters (not the agent) must not reproduce the run.
    let manifest = read_checkpoint(&dir).unwrap();
    let mut partial = trainer(&scene());
    partial.restore(manifest.trainer.clone());
    partial.run(200, |_| {}, |_| {});
    assert_ne!(fingerprint(&partial).1, fingerprint(&whole).1);
}

/// Snapshot of every file's bytes under `dir`, to prove a refused load changed nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn refused(dir: &Path, damage: impl FnOnce(&Path), expected: &[&str]) {
    damage(dir);
    let before = snapshot(dir);
    let message = format!("{:#}", read_checkpoint(dir).expect_err("damaged checkpoint must be refused"));
    for part in expected {
        assert!(message.contains(part), "`{message}` lacks `{part}`");
    }
    assert!(snapshot(dir) == before, "a refused load changed files");
}

#[test]
fn damaged_checkpoints_are_refused_naming_the_file() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("run");
    saved_run(&dir);
    let pristine = snapshot(&dir);
    let restore = |dir: &Path| {
        for (path, bytes) in &pristine {
            std::fs::write(path, bytes).unwrap();
        }
        read_checkpoint(dir).unwrap();
    };
    let flip_middle_byte = |mut bytes: Vec<u8>| {
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        bytes
    };
    refused(&dir, |d| rewrite(&d.join("agent/sac/actor.bpk"), flip_middle_byte), &["actor.bpk", "checksum"]);
    restore(&dir);
    let cut_100 = |bytes: Vec<u8>| bytes[..bytes.len() - 100].to_vec();
    refused(&dir, |d| rewrite(&d.join("agent/replay.bin"), cut_100), &["replay.bin", "truncated"]);
    restore(&dir);
    refused(&dir, |d| std::fs::remove_file(d.join("eval.csv")).unwrap(), &["eval.csv", "missing"]);
    restore(&dir);
    let other_version = |bytes: Vec<u8>| {
        String::from_utf8(bytes).unwrap().replacen("format_version: 2", "format_version: 99", 1).into()
    };
    refused(&dir, |d| rewrite(&d.join("manifest.ron"), other_version), &["manifest.ron", "version 99"]);
    restore(&dir);
    let halve = |bytes: Vec<u8>| bytes[..bytes.len() / 2].to_vec();
    refused(&dir, |d| rewrite(&d.join("manifest.ron"), halve), &["manifest.ron"]);
}

/// Replaces a file's bytes by `change` of them.
fn rewrite(path: &Path, change: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, change(bytes)).unwrap();
}

#[test]
fn saving_again_replaces_the_checkpoint_whole_and_ignores_leftovers() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("run");
    saved_run(&dir);
    // A crash during an earlier save leaves a hidden partial folder: it must not be listed, and
    // the next save clears it.
    let partial = folder.path().join(".run.partial");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join("junk"), b"half a save").unwrap();
    let listed = list_checkpoints(folder.path());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].manifest.as_ref().unwrap().trainer.env_steps, 400);

    let scene = scene();
    let mut longer = trainer(&scene);
    longer.run(600, |_| {}, |_| {});
    save_checkpoint(&dir, &config(), &longer).unwrap();
    assert_eq!(read_checkpoint(&dir).unwrap().trainer.env_steps, 600);
    let names: Vec<_> = std::fs::read_dir(folder.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("run")], "no partial or previous folders remain");
}

#[test]
fn mid_episode_save_is_refused_without_writing() {
    let scene = scene();
    let mut t = trainer(&scene);
    t.run(150, |_| {}, |_| {});
    let folder = tempfile::tempdir().unwrap();
    let error = save_checkpoint(&folder.path().join("run"), &config(), &t).unwrap_err();
    assert!(error.to_string().contains("episode"), "{error}");
    assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0);
}

#[test]
fn replay_file_round_trips_and_keeps_sampling_identical() {
    let mut original = ReplayBuffer::new(3, 2, 7, 5);
    for i in 0..10 {
        let x = i as f32;
        let end = if i == 4 { StepEnd::Terminated } else { StepEnd::Continues };
        original.push(&[x, x + 0.5, -x], &[0.1 * x, -0.2], x * x, &[x + 1.0, 0.0, 1.0], end);
    }
    original.sample(3);
    let mut bytes = Vec::new();
    original.write_to(&mut bytes).unwrap();
    let mut copy = ReplayBuffer::read_from(bytes.as_slice()).unwrap();
    assert_eq!(copy.all(), original.all());
    assert_eq!(copy.capacity(), 7);
    assert_eq!(copy.sample(20), original.sample(20));
    copy.push(&[9.0; 3], &[0.0; 2], 1.0, &[9.0; 3], StepEnd::Continues);
    original.push(&[9.0; 3], &[0.0; 2], 1.0, &[9.0; 3], StepEnd::Continues);
    assert_eq!(copy.all(), original.all(), "the oldest row is overwritten in both");

    let mut wrong_version = bytes.clone();
    wrong_version[8] = 2;
    let error = ReplayBuffer::read_from(wrong_version.as_slice()).unwrap_err().to_string();
    assert!(error.contains("version 2"), "{error}");
    let error = ReplayBuffer::read_from(&b"PNG\x89 not a replay"[..]).unwrap_err().to_string();
    assert!(error.contains("not a replay"), "{error}");
    let mut flipped = bytes.clone();
    flipped[40] ^= 1;
    let error = ReplayBuffer::read_from(flipped.as_slice()).unwrap_err().to_string();
    assert!(error.contains("checksum"), "{error}");
}

#[test]
fn cli_resume_continues_a_saved_run_to_the_same_files() {
    use demorl_studio::cli::{Mode, ModelKind, ScheduleArgs, TrainArgs, train};
    let folder = tempfile::tempdir().unwrap();
    let args = |steps: u64, out: &str| TrainArgs {
        scene: Some("scenes/pendulum.ron".into()),
        mode: Mode::Sac,
        model: ModelKind::Simulator,
        preset: None,
        episodes: 1,
        seed: Some(4),
        threads: None,
        out: Some(folder.path().join(out)),
        steps: Some(steps),
        schedule: ScheduleArgs { eval_every: Some(200), eval_episodes: Some(1), warmup: Some(100) },
        settings: None,
        save_every: None,
        save_to: None,
        save_final: None,
        randomize: false,
        eval_world: None,
        resume: None,
        set: Vec::new(),
    };
    train(&args(600, "whole")).unwrap();
    let save = folder.path().join("saves/run");
    train(&TrainArgs { save_every: Some(400), save_to: Some(save.clone()), ..args(400, "first") }).unwrap();
    assert_eq!(read_checkpoint(&save).unwrap().trainer.env_steps, 400);
    let resume = TrainArgs {
        resume: Some(save.clone()),
        schedule: ScheduleArgs { eval_every: None, eval_episodes: None, warmup: None },
        ..args(600, "resumed")
    };
    train(&resume).unwrap();
    // The scene may be left out: the checkpoint names it (`train --resume DIR`).
    use clap::Parser;
    let words = ["demorl-studio", "train", "--resume", "saves/run"];
    assert!(demorl_studio::cli::Cli::try_parse_from(words).is_ok(), "--resume without a scene refused");
    let error = demorl_studio::cli::Cli::try_parse_from(["demorl-studio", "train"]).unwrap_err().to_string();
    assert!(error.contains("SCENE"), "{error}");
    let error = format!("{:#}", train(&TrainArgs { scene: None, ..args(600, "no-scene") }).unwrap_err());
    assert!(error.contains("needs a scene file"), "{error}");
    let bare = TrainArgs {
        scene: None,
        resume: Some(save.clone()),
        schedule: ScheduleArgs { eval_every: None, eval_episodes: None, warmup: None },
        ..args(600, "resumed-bare")
    };
    train(&bare).unwrap();
    for file in ["eval.csv", "train.csv", "train_episodes.csv"] {
        let read = |run: &str| std::fs::read_to_string(folder.path().join(run).join(file)).unwrap();
        assert_eq!(read("resumed"), read("whole"), "{file}");
        assert_eq!(read("resumed-bare"), read("whole"), "{file}");
    }
    // The two episodes the checkpoint held and the one after it (header, then 200, 400, 600).
    let episodes = std::fs::read_to_string(folder.path().join("resumed/train_episodes.csv")).unwrap();
    let ends: Vec<&str> = episodes.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(ends, ["200", "400", "600"]);
    // The resumed part's speed counts the 200 steps it took, not all 600.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.path().join("resumed/summary.json")).unwrap()).unwrap();
    let (rate, wall) = (summary["steps_per_second"].as_f64().unwrap(), summary["wall_seconds"].as_f64().unwrap());
    assert!((rate * wall - 200.0).abs() < 1e-6, "{rate} steps/s over {wall} s");
    // Resuming on another scene than the save's is refused, naming both.
    let other_scene = TrainArgs {
        scene: Some("scenes/leg2r.ron".into()),
        ..TrainArgs { resume: Some(save.clone()), ..args(600, "x") }
    };
    let error = format!("{:#}", train(&other_scene).unwrap_err());
    assert!(error.contains("scenes/leg2r.ron") && error.contains("scenes/pendulum.ron"), "{error}");
    // Changing the seed or the schedule of a resumed run is refused.
    let other_seed = TrainArgs { seed: Some(5), ..resume };
    let error = train(&other_seed).unwrap_err();
    assert!(error.to_string().contains("--seed 5 cannot change a resumed run's seed (4)"), "{error}");
    let error = train(&TrainArgs { resume: Some(save), ..args(600, "refused") }).unwrap_err();
    assert!(error.to_string().contains("resumed"), "{error}");
}

/// DeMoRL at toy sizes: ensemble refits every 100 steps, a 2-iteration planner with the critic
/// and the actor prior.
fn demorl_settings() -> TrainSettings {
    TrainSettings { model_train_every: 100, ensemble: small_ensemble(), ..settings() }
}

fn demorl_trainer(scene: &Scene, settings: &TrainSettings) -> Trainer<LearnedPlannerAgent> {
    let planner = PlannerSettings { horizon: 5, samples: 16, iterations: 2, ..preset("reference").unwrap() };
    let env = demorl_studio::sim::Env::new(scene);
    let agent =
        LearnedPlannerAgent::new(env.obs_dim(), env.action_dim(), settings.clone(), planner, true, SEED).unwrap();
    Trainer::new(scene, agent, settings.clone(), SEED).unwrap()
}

/// Runs 400 DeMoRL steps of pendulum whole, and 200 + checkpoint + resume + 200, and asserts
/// both end the same; returns the checkpoint (its folder guard and path) and its manifest's
/// file list.
fn assert_demorl_resume_is_bit_identical(settings: &TrainSettings) -> (tempfile::TempDir, PathBuf, Vec<String>) {
    assert_demorl_resume_in_scene_is_bit_identical(&scene(), settings)
}

/// As above in `scene`: the checkpoint is taken at the first episode start from step 200 on.
fn assert_demorl_resume_in_scene_is_bit_identical(
    scene: &Scene,
    settings: &TrainSettings,
) -> (tempfile::TempDir, PathBuf, Vec<String>) {
    let fingerprint = |t: &Trainer<LearnedPlannerAgent>| {
        let sac: Vec<u32> = t.agent.sac.as_ref().unwrap().parameters().iter().map(|v| v.to_bits()).collect();
        (format!("{:?} {:?} {:?}", t.state.evals, t.state.rows, t.state.episodes), sac, t.agent.planner.state())
    };
    let mut whole = demorl_trainer(scene, settings);
    whole.run(400, |_| {}, |_| {});

    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("demorl");
    let mut first = demorl_trainer(scene, settings);
    first.run(200, |_| {}, |_| {});
    while !first.at_episode_start() {
        first.step();
    }
    let saved_at = first.state.env_steps;
    assert!(saved_at < 400, "no episode start between steps 200 and 400");
    let config = RunConfig { mode: RunMode::Demorl, train: settings.clone(), ..config() };
    save_checkpoint(&dir, &config, &first).unwrap();
    drop(first);
    let manifest = read_checkpoint(&dir).unwrap();
    let mut resumed = demorl_trainer(scene, settings);
    restore_checkpoint(&dir, &manifest, &mut resumed).unwrap();
    resumed.run(400 - saved_at, |_| {}, |_| {});
    assert!(whole.agent.plan_ms() > 0.0, "the planner ran");
    assert!(fingerprint(&resumed) == fingerprint(&whole), "resumed DeMoRL run differs");
    (folder, dir, manifest.files.iter().map(|f| f.path.clone()).collect())
}

#[test]
fn resumed_demorl_run_is_bit_identical_to_an_uninterrupted_one() {
    let scene = scene();
    let (_folder, dir, files) = assert_demorl_resume_is_bit_identical(&demorl_settings());
    for file in ["agent/ensemble/ensemble.bpk", "agent/ensemble/ensemble_optim.bpk", "agent/sac/critic.bpk"] {
        assert!(files.iter().any(|f| f == file), "{file} missing from {files:?}");
    }
    let manifest = read_checkpoint(&dir).unwrap();

    // A PETS agent (no SAC) cannot load a DeMoRL checkpoint: refused, naming the folder.
    let planner = preset("reference").unwrap();
    let pets = LearnedPlannerAgent::new(3, 1, demorl_settings(), planner, false, SEED).unwrap();
    let mut wrong = Trainer::new(&scene, pets, demorl_settings(), SEED).unwrap();
    let error = format!("{:#}", restore_checkpoint(&dir, &manifest, &mut wrong).unwrap_err());
    assert!(error.contains("SAC"), "{error}");
}

#[test]
fn resumed_demorl_run_with_model_data_is_bit_identical() {
    let settings = TrainSettings {
        model_data: ModelDataSettings { per_step: 20, keep_steps: 50, ..Default::default() },
        ..demorl_settings()
    };
    let (_folder, _dir, files) = assert_demorl_resume_is_bit_identical(&settings);
    assert!(files.iter().any(|f| f == "agent/model_replay.bin"), "generated transitions not saved: {files:?}");
}

/// A DeMoRL run whose ensemble trains on the host backend resumes bit for bit too: its Adam
/// state is its own file in the checkpoint.
#[test]
fn resumed_demorl_run_on_the_host_backend_is_bit_identical() {
    let mut settings = demorl_settings();
    settings.ensemble.backend = demorl_studio::config::EnsembleBackend::Host;
    let (_folder, _dir, files) = assert_demorl_resume_is_bit_identical(&settings);
    assert!(files.iter().any(|f| f == "agent/ensemble/ensemble_host_adam.bin"), "host Adam state not saved: {files:?}");
    assert!(!files.iter().any(|f| f == "agent/ensemble/ensemble_optim.bpk"), "burn's Adam state saved too: {files:?}");
}

/// κ that follows the training falls (`train.fall_caution`), on the hopper (its early episodes
/// fall): each episode's record holds the κ its plans used, each one the rule's step from the
/// episode before (falls beyond one per 1000 steps raise it, up to 3); both planners end with the
/// next κ, and a checkpoint keeps it so the run resumes bit for bit.
#[test]
fn kappa_that_follows_the_falls_steps_by_its_rule_and_resumes_bit_identically() {
    let hopper = load_scene(Path::new("scenes/hopper.ron")).unwrap();
    let caution = FallCaution { from_step: 150, ..FallCaution::default() };
    let settings = TrainSettings { fall_caution: Some(caution.clone()), ..demorl_settings() };
    assert_demorl_resume_in_scene_is_bit_identical(&hopper, &settings);

    let mut run = demorl_trainer(&hopper, &settings);
    run.run(400, |_| {}, |_| {});
    let floor = run.agent.planner.settings().disagreement_penalty;
    let kappa = assert_kappa_follows_the_rule(&run.state.episodes, &caution, floor);
    let episodes = &run.state.episodes;
    assert!(episodes.iter().any(|e| e.env_steps < caution.from_step && e.fell), "an early fall, not counted");
    let highest = episodes.iter().filter_map(|e| e.disagreement_penalty).fold(floor, f32::max);
    assert!(highest > floor + 1.0, "later falls raised κ from {floor} to {highest} only");
    assert_eq!(run.agent.planner.adapted_penalty(), Some(kappa));
    assert_eq!(run.agent.eval_planner.adapted_penalty(), Some(kappa), "evaluation plans follow");

    // Without the option the records leave κ empty and the planner keeps the settings' κ.
    let mut plain = demorl_trainer(&hopper, &demorl_settings());
    plain.run(200, |_| {}, |_| {});
    assert!(plain.state.episodes.iter().all(|e| e.disagreement_penalty.is_none()));
    assert_eq!(plain.agent.planner.adapted_penalty(), None);
}

/// A cautious start (`start_penalty`): the first plans score with that κ, and episodes that fall
/// less than tolerated (here one fall per 5 steps, so nearly every early hopper episode) bring
/// it down step by step to the planner's κ.
#[test]
fn kappa_that_starts_cautious_eases_down_to_the_planners() {
    let hopper = load_scene(Path::new("scenes/hopper.ron")).unwrap();
    let caution =
        FallCaution { from_step: 150, falls_per_1000_steps: 200.0, start_penalty: Some(2.5), ..FallCaution::default() };
    let settings = TrainSettings { fall_caution: Some(caution.clone()), ..demorl_settings() };
    let mut run = demorl_trainer(&hopper, &settings);
    assert_eq!(run.agent.eval_planner.adapted_penalty(), Some(2.5), "evaluation plans start cautious too");
    run.run(400, |_| {}, |_| {});
    let floor = run.agent.planner.settings().disagreement_penalty;
    let kappa = assert_kappa_follows_the_rule(&run.state.episodes, &caution, floor);
    let episodes = &run.state.episodes;
    assert_eq!(episodes[0].disagreement_penalty, Some(2.5), "the first plans' κ");
    assert_eq!(kappa, floor, "eased down to the planner's κ: {episodes:?}");
    assert_eq!(run.agent.eval_planner.adapted_penalty(), Some(kappa));
}

/// Replays the fall-caution rule over `episodes` from its start (the caution's `start_penalty`,
/// else `floor`): each record holds the κ its plans used; blow-ups move nothing. Returns the κ
/// after the last one.
fn assert_kappa_follows_the_rule(episodes: &[TrainEpisode], caution: &FallCaution, floor: f32) -> f32 {
    let mut kappa = caution.start_penalty.unwrap_or(floor);
    for episode in episodes {
        assert_eq!(episode.disagreement_penalty, Some(kappa), "{episode:?}");
        if episode.env_steps >= caution.from_step && (episode.fell || episode.reached_time_limit()) {
            let tolerated = caution.falls_per_1000_steps * episode.length as f32 / 1000.0;
            let excess = f32::from(u8::from(episode.fell)) - tolerated;
            kappa = (kappa + caution.step_size * excess).clamp(floor, caution.max_penalty);
        }
    }
    kappa
}

/// The planner's start and the last fit's error are part of the saved run: with a limit the
/// first fit (step 100) just meets, the planner starts at step 100 and the run saved at step 200
/// (just after the second fit) restores both and resumes bit for bit.
#[test]
fn resumed_demorl_run_with_a_planner_start_gate_is_bit_identical() {
    let mut settings = demorl_settings();
    let mut paper = demorl_trainer(&scene(), &settings);
    let fits: Vec<f32> = (0..200).filter_map(|_| paper.step().stats.model_fit.map(|f| f.holdout_mse)).collect();
    settings.planner_start = demorl_studio::config::PlannerStart::ModelError(fits[0] * 1.001);
    let (_folder, dir, _) = assert_demorl_resume_is_bit_identical(&settings);
    let mut restored = demorl_trainer(&scene(), &settings);
    restore_checkpoint(&dir, &read_checkpoint(&dir).unwrap(), &mut restored).unwrap();
    assert_eq!(restored.agent.planning_since(), Some(100));
    assert_eq!(restored.agent.ensemble.elite_holdout_mse(), Some(fits[1]), "the second fit's error: {fits:?}");
    assert_ne!(fits[0], fits[1]);
}

/// SAC whose step statistics the test rewrites (`tamper(env_steps, stats)`): a stand-in for a
/// diverging learner or for rejected model refits, so the test controls exactly when they happen.
struct TamperedAgent {
    inner: SacAgent,
    tamper: fn(u64, &mut StepStats),
}

impl TrainAgent for TamperedAgent {
    fn act(&mut self, obs: &[f32], env_steps: u64) -> Vec<f32> {
        self.inner.act(obs, env_steps)
    }
    fn observe(&mut self, t: demorl_studio::agent::Transition<'_>, env_steps: u64) -> StepStats {
        let mut stats = self.inner.observe(t, env_steps);
        (self.tamper)(env_steps, &mut stats);
        stats
    }
    fn episode_start(&mut self) {
        self.inner.episode_start()
    }
    fn eval_act(&mut self, obs: &[f32]) -> Vec<f32> {
        self.inner.eval_act(obs)
    }
    fn eval_episode_start(&mut self, env_steps: u64) {
        self.inner.eval_episode_start(env_steps)
    }
    fn save_state(&self, dir: &Path) -> anyhow::Result<()> {
        self.inner.save_state(dir)
    }
    fn load_state(&mut self, dir: &Path) -> anyhow::Result<()> {
        self.inner.load_state(dir)
    }
}

#[test]
fn nan_loss_stops_learning_with_a_message_and_keeps_the_last_checkpoint() {
    let scene = scene();
    let tamper: fn(u64, &mut StepStats) = |step, stats| {
        if step >= 321 {
            stats.sac.iter_mut().for_each(|l| l.critic = f32::NAN);
        }
    };
    let agent = TamperedAgent { inner: SacAgent::new(3, 1, settings(), SEED), tamper };
    let mut trainer = Trainer::new(&scene, agent, settings(), SEED).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("run");
    let error = trainer
        .run_with(
            1000,
            |_| {},
            |_| {},
            |t| {
                if t.at_episode_start() && t.state.env_steps > 0 {
                    save_checkpoint(&dir, &config(), t)?;
                }
                Ok(())
            },
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("critic loss is NaN") && error.contains("step 321"), "{error}");
    assert_eq!(trainer.state.env_steps, 321, "learning stopped at the bad step");
    assert!(trainer.diverged().is_some());
    // Further steps do nothing.
    let idle = trainer.step();
    assert!(idle.divergence.is_some() && idle.action.is_empty());
    assert_eq!(trainer.state.env_steps, 321);
    // The checkpoint from step 200 (the last episode start before the NaN) is intact.
    assert_eq!(read_checkpoint(&dir).unwrap().trainer.env_steps, 200);
}

#[test]
fn a_real_divergence_from_an_absurd_learning_rate_is_caught() {
    let scene = scene();
    let wild = TrainSettings { sac: SacSettings { critic_lr: 1e30, actor_lr: 1e30, ..settings().sac }, ..settings() };
    let mut trainer = Trainer::new(&scene, SacAgent::new(3, 1, wild.clone(), SEED), wild, SEED).unwrap();
    trainer.run(2000, |_| {}, |_| {});
    let message = trainer.diverged().expect("NaN or infinity must be detected");
    assert!(message.contains("SAC") || message.contains("observation"), "{message}");
    assert!(trainer.state.env_steps < 2000, "stopped early");
}

#[test]
fn model_refits_are_reported_in_train_rows_and_checkpoints() {
    // A refit every 100 steps; the refit guard rejects the ones at multiples of 300.
    let tamper: fn(u64, &mut StepStats) = |step, stats| {
        if step.is_multiple_of(100) {
            let kept_previous = step.is_multiple_of(300);
            let holdout_mse_per_output = vec![0.05, 0.125];
            let (holdout_mean_logvar, epochs) = (-1.5, step as usize / 100);
            let restarted = step.is_multiple_of(500);
            let stalled = step.is_multiple_of(200);
            let fit = ModelFit {
                holdout_mse: 0.1,
                epochs,
                kept_previous,
                holdout_mse_per_output,
                holdout_mean_logvar,
                stalled,
                restarted,
            };
            stats.model_fit = Some(fit);
        }
    };
    let scene = scene();
    let agent = TamperedAgent { inner: SacAgent::new(3, 1, settings(), SEED), tamper };
    let mut trainer = Trainer::new(&scene, agent, settings(), SEED).unwrap();
    trainer.run(1000, |_| {}, |_| {});
    let counts: Vec<(u64, usize, usize)> =
        trainer.state.rows.iter().map(|r| (r.env_steps, r.model_fits, r.model_fits_rejected)).collect();
    assert_eq!(counts[2], (300, 3, 1));
    assert_eq!(*counts.last().unwrap(), (1000, 10, 3));

    let folder = tempfile::tempdir().unwrap();
    let csv = folder.path().join("train.csv");
    demorl_studio::agent::write_train_csv(&csv, &trainer.state.rows).unwrap();
    let header = std::fs::read_to_string(&csv).unwrap().lines().next().unwrap().to_string();
    let columns = ",model_fits,model_fits_rejected,model_holdout_mse_per_output,model_holdout_logvar,model_fit_epochs,\
                   model_fits_restarted,model_fits_stalled,";
    assert!(header.contains(columns), "{header}");
    let last = trainer.state.rows.last().unwrap();
    assert_eq!((last.model_holdout_logvar, last.model_fit_epochs, last.model_fits_restarted), (-1.5, 10, 2));
    assert_eq!(last.model_fits_stalled, 5, "steps 200, 400, … 1000");
    assert_eq!(trainer.state.rows.last().unwrap().model_holdout_mse_per_output, "0.0500;0.1250");
    assert_eq!(
        trainer.state.rows[0].model_holdout_mse_per_output, "0.0500;0.1250",
        "the fit at step 100 is in its row"
    );

    let state = trainer.state.clone();
    assert_eq!((state.model.count, state.model.rejected, state.model.restarted, state.model.stalled), (10, 3, 2, 5));
    let agent = TamperedAgent { inner: SacAgent::new(3, 1, settings(), SEED), tamper };
    let mut resumed = Trainer::new(&scene, agent, settings(), SEED).unwrap();
    resumed.restore(state);
    let restored = resumed.state.model.clone();
    let last = restored.last.as_ref().expect("the last fit is restored");
    assert_eq!((last.holdout_mean_logvar, last.epochs, restored.restarted, restored.stalled), (-1.5, 10, 2, 5));
    resumed.run(200, |_| {}, |_| {});
    assert_eq!(resumed.state.rows.last().unwrap().model_fits_rejected, 4, "1200 is a multiple of 300");
}

/// A checkpoint written by format version 1 (commit 0997c3b, before `TrainerState` held the
/// model fits as one value): a small pendulum DeMoRL run saved at 200 env steps, made with
/// `train scenes/pendulum.ron --settings tests/fixtures/checkpoint-v1-demorl.settings.ron
/// --save-every 200 --save-to tests/fixtures/checkpoint-v1-demorl` by that commit's binary.
const V1_SAVE: &str = "tests/fixtures/checkpoint-v1-demorl";

#[test]
fn a_version_1_checkpoint_loads_and_resumes_exactly() {
    use demorl_studio::agent::{CheckpointOptions, run_learning_with};
    let v1 = Path::new(V1_SAVE);
    let manifest = read_checkpoint(v1).unwrap();
    assert_eq!(manifest.format_version, 1);
    let model = &manifest.trainer.model;
    assert!(model.count >= 1, "the fixture has model fits: {model:?}");
    let last = model.last.as_ref().unwrap();
    // The per-output errors come back as numbers and train.csv writes them as version 1 did,
    // with the later column of stalled refits (none counted before it existed) after the restarts.
    assert_eq!(last.holdout_mse_per_output.len(), 1 + 3, "reward and three observation deltas");
    let saved_csv = std::fs::read_to_string(v1.join("train.csv")).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let rewritten = folder.path().join("train.csv");
    demorl_studio::agent::write_train_csv(&rewritten, &manifest.trainer.rows).unwrap();
    assert_eq!(
        std::fs::read_to_string(&rewritten).unwrap(),
        with_column_after(&saved_csv, "model_fits_restarted", "model_fits_stalled", "0")
    );
    assert_eq!(
        manifest.trainer.rows.last().unwrap().model_holdout_mse_per_output,
        model.last_per_output_text(),
        "the last row shows the last fit"
    );

    // Resumed from version 1, and from the same state saved again as version 2: the same run.
    let copy = |name: &str| {
        let dir = folder.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in walk(v1) {
            let to = dir.join(entry.strip_prefix(v1).unwrap());
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&entry, to).unwrap();
        }
        dir
    };
    let scene = load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    let config = RunConfig { steps: 300, ..manifest.config.clone() };
    let resume = |dir: &Path, out: &str| {
        let options = CheckpointOptions { resume: Some(dir.to_path_buf()), ..Default::default() };
        let out = folder.path().join(out);
        run_learning_with(&config, &scene, Some(&out), &options, |_| {}, |_| {}).unwrap();
        ["eval.csv", "train.csv"].map(|f| std::fs::read_to_string(out.join(f)).unwrap())
    };
    let from_v1 = resume(&copy("v1"), "from-v1");
    let v2 = folder.path().join("v2");
    let env = demorl_studio::sim::Env::new(&scene);
    let agent = demorl_studio::agent::learning_agent(&manifest.config, &env).unwrap();
    let mut trainer = Trainer::new(&scene, agent, manifest.config.train.clone(), manifest.config.seed).unwrap();
    restore_checkpoint(&copy("v1-for-v2"), &manifest, &mut trainer).unwrap();
    save_checkpoint(&v2, &manifest.config, &trainer).unwrap();
    let resaved = read_checkpoint(&v2).unwrap();
    assert_eq!(resaved.format_version, 2);
    // NaN fields (no train return before the first episode) compare equal through their Debug text.
    assert_eq!(format!("{:?}", resaved.trainer), format!("{:?}", manifest.trainer), "version 2 keeps the whole state");
    assert_eq!(resume(&v2, "from-v2"), from_v1);
    assert!(from_v1[0].lines().count() > manifest.trainer.evals.len() + 1, "the resumed run went on");
}

/// `csv` with a column `name` of `value`s inserted after the column `after`.
fn with_column_after(csv: &str, after: &str, name: &str, value: &str) -> String {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|c| *c == after).unwrap() + 1;
    let insert = |cells: Vec<&str>, cell: &str| {
        let mut cells: Vec<String> = cells.into_iter().map(str::to_string).collect();
        cells.insert(at, cell.to_string());
        cells.join(",") + "\n"
    };
    std::iter::once(insert(header, name)).chain(lines.map(|l| insert(l.split(',').collect(), value))).collect()
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn evaluate_plays_the_saved_policy_in_each_world_on_the_runs_evaluation_seeds() {
    use demorl_studio::agent::{evaluate_checkpoint, learning_agent, named_world, write_world_evals_csv};
    let path = PathBuf::from("scenes/hopper.ron");
    let scene = load_scene(&path).unwrap();
    let train = TrainSettings { eval_episodes: 2, ..settings() };
    let config = RunConfig { scene: path, train: train.clone(), steps: 300, ..config() };
    let env = demorl_studio::sim::Env::new(&scene);
    let mut trainer = Trainer::new(&scene, learning_agent(&config, &env).unwrap(), train, config.seed).unwrap();
    trainer.run(300, |_| {}, |_| {});
    while !trainer.at_episode_start() {
        trainer.step();
    }
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("run");
    save_checkpoint(&dir, &config, &trainer).unwrap();
    // What the trained policy does in each world, evaluated in memory.
    let nominal = trainer.evaluate();
    trainer.eval_env.set_world(named_world(&scene, "heavy").unwrap());
    let heavy = trainer.evaluate();
    assert_ne!(nominal.eval_return_mean, heavy.eval_return_mean, "the heavy world changes the episodes");

    let worlds = ["nominal".to_string(), "heavy".to_string()];
    let manifest = read_checkpoint(&dir).unwrap();
    assert_eq!(manifest.config.seed, config.seed);
    let evals = evaluate_checkpoint(&dir, &manifest, &scene, &worlds, 2, None).unwrap();
    let row = |w: usize| (evals[w].world.as_str(), evals[w].row.eval_return_mean, evals[w].row.eval_length_mean);
    assert_eq!(row(0), ("nominal", nominal.eval_return_mean, nominal.eval_length_mean));
    assert_eq!(row(1), ("heavy", heavy.eval_return_mean, heavy.eval_length_mean));
    assert_eq!(evals[1].row.env_steps, trainer.state.env_steps);

    let csv = folder.path().join("worlds.csv");
    write_world_evals_csv(&csv, &[(dir.as_path(), evals.as_slice())]).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let heavy_line = text.lines().nth(2).unwrap();
    assert!(heavy_line.starts_with(&format!("{},heavy,", dir.display())), "{text}");
    let share: f64 = heavy_line.rsplit(',').next().unwrap().parse().unwrap();
    assert!((share - heavy.eval_return_mean / nominal.eval_return_mean).abs() < 1e-12, "{text}");
    assert!(text.lines().nth(1).unwrap().ends_with(",1"), "{text}");
    let falls: usize = heavy_line.split(',').nth(7).unwrap().parse().unwrap();
    assert_eq!(Some(falls), heavy.eval_falls, "{text}");

    // Through the command, two runs (the same one twice, so the summary's figures are known): a
    // row per run and world, and the summary with no spread over identical runs.
    let (out, summary_out) = (folder.path().join("runs.csv"), folder.path().join("summary.csv"));
    let args = demorl_studio::cli::EvaluateArgs {
        checkpoints: vec![dir.clone(), dir.clone()],
        worlds: worlds.to_vec(),
        episodes: Some(2),
        scene: None,
        out: Some(out.clone()),
        summary_out: Some(summary_out.clone()),
        jobs: 2,
        set: vec![],
    };
    demorl_studio::cli::evaluate(&args).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 1 + 2 * 2);
    let summary = std::fs::read_to_string(&summary_out).unwrap();
    let heavy_row: Vec<&str> = summary.lines().nth(2).unwrap().split(',').collect();
    assert_eq!(&heavy_row[..2], &["heavy", "2"], "{summary}");
    assert_eq!(heavy_row[2].parse::<f64>().unwrap(), heavy.eval_return_mean, "{summary}");
    assert_eq!(heavy_row[3].parse::<f64>().unwrap(), 0.0, "{summary}");
    let share_of_nominal: f64 = heavy_row[6].parse().unwrap();
    assert!((share_of_nominal - heavy.eval_return_mean / nominal.eval_return_mean).abs() < 1e-12, "{summary}");

    // Runs of different scenes are not summarised together: refused naming both, before any episode.
    let other = folder.path().join("other");
    std::fs::create_dir(&other).unwrap();
    for file in walk(&dir) {
        let target = other.join(file.strip_prefix(&dir).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
    let manifest_text = std::fs::read_to_string(other.join("manifest.ron")).unwrap();
    assert!(manifest_text.contains("\"scenes/hopper.ron\""));
    std::fs::write(other.join("manifest.ron"), manifest_text.replace("scenes/hopper.ron", "scenes/leg2r.ron")).unwrap();
    let args = demorl_studio::cli::EvaluateArgs {
        checkpoints: vec![dir.clone(), other],
        out: None,
        summary_out: None,
        ..args
    };
    let error = demorl_studio::cli::evaluate(&args).unwrap_err().to_string();
    assert!(error.contains("scenes/hopper.ron") && error.contains("scenes/leg2r.ron"), "{error}");

    // An unknown world is refused with the scene's world names, before any episode.
    let error = evaluate_checkpoint(&dir, &manifest, &scene, &["nominal".into(), "icy".into()], 2, None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("`icy`") && error.contains("heavy") && error.contains("slippery"), "{error}");
}

/// `evaluate` gives each world the figures it would have alone, whatever was evaluated before
/// it: every world starts from the saved agent, its evaluation noise where the run's last
/// evaluation began. Without that, a planner's noise runs on from one
/// world's episodes into the next (checked below: two evaluations in a row differ).
#[test]
fn each_world_is_evaluated_from_the_saved_agent_whatever_the_order() {
    use demorl_studio::agent::evaluate_checkpoint;
    let mut scene = scene();
    let settings = demorl_settings();
    let mut trainer = demorl_trainer(&scene, &settings);
    trainer.run(200, |_| {}, |_| {});
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("demorl");
    save_checkpoint(&dir, &RunConfig { mode: RunMode::Demorl, train: settings, ..config() }, &trainer).unwrap();
    let ran = trainer.state.evals.last().unwrap().eval_return_mean;
    let (first, again) = (trainer.evaluate(), trainer.evaluate());
    assert_ne!(first.eval_return_mean, again.eval_return_mean, "the planner's noise runs on between evaluations");

    let heavy = demorl_studio::scene::WorldShift { mass_scale: 1.5, ..Default::default() };
    scene.task.worlds.insert("heavy".into(), heavy);
    let manifest = read_checkpoint(&dir).unwrap();
    let evaluate = |worlds: &[&str]| {
        let worlds: Vec<String> = worlds.iter().map(|w| w.to_string()).collect();
        let evals = evaluate_checkpoint(&dir, &manifest, &scene, &worlds, 1, None).unwrap();
        evals.into_iter().map(|e| (e.world, e.row.eval_return_mean, e.row.eval_length_mean)).collect::<Vec<_>>()
    };
    let both = evaluate(&["nominal", "heavy"]);
    assert_eq!(both, [evaluate(&["nominal"]), evaluate(&["heavy"])].concat());
    assert_eq!(evaluate(&["heavy", "nominal"]), vec![both[1].clone(), both[0].clone()]);
    assert_eq!(both[0].1, ran, "the nominal world replays the run's own last evaluation (at step 200)");
}

/// `evaluate --set planner.FIELD=VALUE`: the saved agent plans with the changed settings, all else
/// as saved. Its own settings again change nothing; without the critic's terminal value it plays
/// what the in-memory agent plays after the same change; fields outside the planner, unknown
/// fields, values out of range and runs that do not plan are refused, naming what is wrong.
#[test]
fn evaluate_can_change_how_the_saved_agent_plans() {
    use demorl_studio::agent::evaluate_checkpoint;
    let scene = scene();
    let settings = demorl_settings();
    let mut trainer = demorl_trainer(&scene, &settings);
    trainer.run(200, |_| {}, |_| {});
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("demorl");
    let planner = trainer.agent.planner.settings().clone();
    let demorl = RunConfig { mode: RunMode::Demorl, train: settings, planner: planner.clone(), ..config() };
    save_checkpoint(&dir, &demorl, &trainer).unwrap();
    let manifest = read_checkpoint(&dir).unwrap();
    let nominal = ["nominal".to_string()];
    let play = |changed: Option<&PlannerSettings>| {
        let evals = evaluate_checkpoint(&dir, &manifest, &scene, &nominal, 1, changed).unwrap();
        evals[0].row.eval_return_mean
    };
    let saved = play(None);
    let last = trainer.state.evals.last().unwrap();
    assert_eq!((last.env_steps, saved), (200, last.eval_return_mean), "the save replays the run's last evaluation");
    assert_eq!(play(Some(&planner)), saved, "the run's own settings again: the same episode");
    let no_critic = PlannerSettings { terminal_value: TerminalChoice::None, ..planner.clone() };
    let without = play(Some(&no_critic));
    assert_ne!(without, saved, "without the critic's terminal value the plans change");
    trainer.agent.replay_evaluation_at(200).unwrap();
    trainer.agent.set_planner_settings(no_critic).unwrap();
    assert_eq!(without, trainer.evaluate().eval_return_mean, "the in-memory agent under the same change");

    // Through the command: the change as text, the same figure in the CSV.
    let csv = folder.path().join("changed.csv");
    let args = |checkpoint: &Path, set: &[&str]| demorl_studio::cli::EvaluateArgs {
        checkpoints: vec![checkpoint.to_path_buf()],
        worlds: nominal.to_vec(),
        episodes: Some(1),
        scene: None,
        out: Some(csv.clone()),
        summary_out: None,
        jobs: 1,
        set: set.iter().map(|s| s.to_string()).collect(),
    };
    demorl_studio::cli::evaluate(&args(&dir, &["planner.terminal_value=None"])).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let return_mean: f64 = text.lines().nth(1).unwrap().split(',').nth(2).unwrap().parse().unwrap();
    assert_eq!(return_mean, without, "{text}");

    let refused = |checkpoint: &Path, set: &[&str]| {
        format!("{:#}", demorl_studio::cli::evaluate(&args(checkpoint, set)).unwrap_err())
    };
    let error = refused(&dir, &["train.sac.actor_lr=0.1"]);
    assert!(error.contains("train.sac.actor_lr") && error.contains("planner.FIELD=VALUE"), "{error}");
    let error = refused(&dir, &["planner.horizn=3"]);
    assert!(error.contains("horizn") && error.contains("horizon"), "{error}");
    let error = refused(&dir, &["planner.samples=0"]);
    assert!(error.contains("samples"), "{error}");
    let error = refused(&dir, &["planner.horizon"]);
    assert!(error.contains("FIELD=VALUE"), "{error}");
    // SAC alone does not plan.
    let sac_config = config();
    let env = demorl_studio::sim::Env::new(&scene);
    let agent = demorl_studio::agent::learning_agent(&sac_config, &env).unwrap();
    let mut sac = Trainer::new(&scene, agent, sac_config.train.clone(), SEED).unwrap();
    sac.run(200, |_| {}, |_| {});
    let sac_dir = folder.path().join("sac");
    save_checkpoint(&sac_dir, &sac_config, &sac).unwrap();
    let error = refused(&sac_dir, &["planner.horizon=3"]);
    assert!(error.contains("does not plan") && error.contains(&sac_dir.display().to_string()), "{error}");
}

/// Checkpoints are taken at episode starts only (pendulum episodes are 200 steps): a run that
/// ends mid-episode reports, and leaves, its last periodic checkpoint; one that ends at an
/// episode start is saved at its end.
#[test]
fn a_run_reports_the_step_of_the_checkpoint_it_leaves() {
    use demorl_studio::agent::{CheckpointOptions, run_learning_with};
    let folder = tempfile::tempdir().unwrap();
    let scene = scene();
    let run = |steps: u64, name: &str| {
        let dir = folder.path().join(name);
        let options = CheckpointOptions { save_every: Some(150), save_to: Some(dir.clone()), ..Default::default() };
        let config = RunConfig { steps, ..config() };
        let out = run_learning_with(&config, &scene, None, &options, |_| {}, |_| {}).unwrap();
        (out.saved_at, read_checkpoint(&dir).unwrap().trainer.env_steps)
    };
    // Saves at the first episode starts on or after 150 and 300: 200 and 400; 450 is mid-episode.
    assert_eq!(run(450, "mid"), (Some(400), 400));
    assert_eq!(run(400, "end"), (Some(400), 400));
    // Nothing on the schedule before the end: nothing written.
    let options =
        CheckpointOptions { save_every: Some(150), save_to: Some(folder.path().join("none")), ..Default::default() };
    let out = run_learning_with(&RunConfig { steps: 120, ..config() }, &scene, None, &options, |_| {}, |_| {}).unwrap();
    assert_eq!(out.saved_at, None);
}

/// `--save-final`: the agent a run ends with, saved even mid-episode (pendulum episodes are 200
/// steps, so 450 ends 50 steps into one). Evaluating it reproduces the run's own last
/// evaluation; continuing from it is refused (its episode's physics state is not saved), and
/// the periodic checkpoint beside it stays resumable.
#[test]
fn the_final_agent_is_saved_mid_episode_for_evaluation_not_for_resuming() {
    use demorl_studio::agent::{CheckpointOptions, evaluate_checkpoint, run_learning_with};
    let folder = tempfile::tempdir().unwrap();
    let scene = scene();
    let (periodic, last) = (folder.path().join("periodic"), folder.path().join("final"));
    let options = CheckpointOptions {
        save_every: Some(150),
        save_to: Some(periodic.clone()),
        save_final: Some(last.clone()),
        ..Default::default()
    };
    let config = RunConfig { steps: 450, ..config() };
    let out = run_learning_with(&config, &scene, None, &options, |_| {}, |_| {}).unwrap();
    assert_eq!((out.saved_at, out.final_mid_episode), (Some(400), Some(true)));
    let manifest = read_checkpoint(&last).unwrap();
    assert!(manifest.mid_episode && manifest.trainer.env_steps == 450, "{:?}", manifest.trainer.env_steps);
    assert!(!read_checkpoint(&periodic).unwrap().mid_episode);

    // SAC's evaluation action is its actor's mean: the saved agent earns exactly the run's last row.
    let evals = evaluate_checkpoint(&last, &manifest, &scene, &["nominal".to_string()], 1, None).unwrap();
    let ran = out.evals.last().unwrap();
    assert_eq!(ran.env_steps, 450);
    assert_eq!((evals[0].row.env_steps, evals[0].row.eval_return_mean), (450, ran.eval_return_mean));

    let mut fresh = trainer(&scene);
    let error = format!("{:#}", restore_checkpoint(&last, &manifest, &mut fresh).unwrap_err());
    assert!(error.contains("mid-episode") && error.contains("final"), "{error}");
    let resume = CheckpointOptions { resume: Some(last.clone()), ..Default::default() };
    let error = run_learning_with(&RunConfig { steps: 600, ..config.clone() }, &scene, None, &resume, |_| {}, |_| {})
        .unwrap_err();
    assert!(format!("{error:#}").contains("cannot continue"), "{error:#}");
    let resume = CheckpointOptions { resume: Some(periodic.clone()), ..Default::default() };
    run_learning_with(&RunConfig { steps: 600, ..config.clone() }, &scene, None, &resume, |_| {}, |_| {}).unwrap();

    // A run that ends at an episode start leaves an ordinary, resumable checkpoint.
    let at_start = CheckpointOptions { save_final: Some(folder.path().join("at-start")), ..Default::default() };
    let out = run_learning_with(&RunConfig { steps: 400, ..config.clone() }, &scene, None, &at_start, |_| {}, |_| {})
        .unwrap();
    assert_eq!(out.final_mid_episode, Some(false));
    assert!(!read_checkpoint(&folder.path().join("at-start")).unwrap().mid_episode);

    // The final save never replaces the periodic checkpoints, however the folder is written.
    std::fs::create_dir(folder.path().join("sub")).unwrap();
    let same_folder = folder.path().join("sub/../periodic");
    let clash = CheckpointOptions { save_final: Some(same_folder), ..options };
    let error = run_learning_with(&config, &scene, None, &clash, |_| {}, |_| {}).unwrap_err();
    assert!(error.to_string().contains("--save-final"), "{error}");
}
