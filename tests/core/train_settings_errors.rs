//! Bad learning settings (a hand-edited `settings.ron`) are refused with every offending field
//! named, by the settings check, by `read_run_config` (naming the file) and by `train`, instead
//! of panicking inside the ensemble or SAC.

use demorl_studio::config::{
    EnsembleSettings, FallCaution, PlannerStart, SacSettings, TrainSettings, read_run_config, train_settings_problems,
};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("demorl-settings-errors-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The recorded DeMoRL settings file with `from` replaced by `to` (exactly once).
fn edited_settings(dir: &Path, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string("docs/settings/pendulum-demorl-cem15-refit100.ron").unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from} is not unique in the settings file");
    let path = dir.join("settings.ron");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    path
}

#[test]
fn defaults_and_recorded_settings_files_have_no_problems() {
    assert!(train_settings_problems(&TrainSettings::default()).is_empty());
    for entry in std::fs::read_dir("docs/settings").unwrap() {
        let path = entry.unwrap().path();
        read_run_config(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
    }
}

#[test]
fn every_bad_field_is_named_with_its_value() {
    let settings = TrainSettings {
        model_train_every: 0,
        sac: SacSettings { discount: 1.5, hidden: vec![64, 0], actor_lr: f64::NAN, ..Default::default() },
        ensemble: EnsembleSettings {
            elites: 9,
            holdout_fraction: 1.0,
            patience: 0,
            min_logvar: 1.0,
            refit_guard: Some(0.5),
            nll_beta: 1.5,
            ..Default::default()
        },
        planner_start: PlannerStart::ModelError(-0.1),
        fall_caution: Some(FallCaution {
            max_penalty: -1.0,
            step_size: 0.0,
            falls_per_1000_steps: f32::NAN,
            start_penalty: Some(f32::INFINITY),
            ..Default::default()
        }),
        ..Default::default()
    };
    let problems = train_settings_problems(&settings);
    println!("{problems:#?}");
    let expected = [
        "train.model_train_every = 0",
        "train.sac.hidden = [64, 0]",
        "train.sac.discount = 1.5",
        "train.sac.actor_lr = NaN",
        "train.ensemble.elites = 9: must be between 1 and train.ensemble.members (7)",
        "train.ensemble.holdout_fraction = 1",
        "train.ensemble.patience = 0",
        "train.ensemble.min_logvar = 1: must be below max_logvar",
        "train.ensemble.refit_guard = 0.5",
        "train.ensemble.nll_beta = 1.5: must be between 0 (plain NLL) and 1",
        "train.planner_start = ModelError(-0.1): the error must be a finite number above 0",
        "train.fall_caution.max_penalty = -1",
        "train.fall_caution.step_size = 0",
        "train.fall_caution.falls_per_1000_steps = NaN",
        "train.fall_caution.start_penalty = Some(inf): the starting κ must be a number from 0 to max_penalty (-1)",
    ];
    for field in expected {
        assert!(problems.iter().any(|p| p.starts_with(field)), "no problem starting with {field:?}");
    }
    assert_eq!(problems.len(), expected.len(), "unexpected extra problems");
}

#[test]
fn reading_a_bad_settings_file_names_the_file_and_the_field() {
    let dir = scratch("read");
    let path = edited_settings(&dir, "elites: 5,", "elites: 9,");
    let error = format!("{:#}", read_run_config(&path).unwrap_err());
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("train.ensemble.elites = 9"), "{error}");
}

#[test]
fn train_refuses_a_bad_settings_file_without_panicking_or_writing_output() {
    let dir = scratch("train");
    let path = edited_settings(&dir, "hidden_width: 200,", "hidden_width: 0,");
    let out = dir.join("out");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_demorl-studio"))
        .args(["train", "scenes/pendulum.ron", "--steps", "300", "--settings"])
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("{stderr}");
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("train.ensemble.hidden_width = 0"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists(), "a refused run wrote {}", out.display());
}
