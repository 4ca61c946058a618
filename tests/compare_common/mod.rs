//! A tiny pendulum grid shared by the `compare` tests (local and SLURM backends): settings small
//! enough that a run takes seconds, and scratch folders.
// Each test crate uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use demorl_studio::agent::learning_config;
use demorl_studio::compare::{CompareOutcome, CompareReport};
use demorl_studio::config::{EnsembleSettings, PlannerSettings, RunConfig, RunMode, SacSettings, write_run_config};
use demorl_studio::scene::load_scene;

pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("compare-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Tiny sac and demorl settings (small networks, a small planner) so a grid runs in seconds.
pub fn write_tiny_settings(dir: &Path) -> (PathBuf, PathBuf) {
    let path = Path::new("scenes/pendulum.ron");
    let scene = load_scene(path).unwrap();
    let tiny = |mode: RunMode| -> RunConfig {
        let mut c = learning_config(path, &scene, mode, None, 0, 1).unwrap();
        c.train.warmup_steps = 100;
        c.train.log_every = 50;
        c.train.model_train_every = 100;
        c.train.sac = SacSettings { hidden: vec![32, 32], batch_size: 32, ..Default::default() };
        c.train.ensemble = EnsembleSettings {
            members: 2,
            elites: 1,
            hidden_layers: 2,
            hidden_width: 32,
            batch_size: 64,
            max_epochs: 3,
            ..Default::default()
        };
        c.planner = PlannerSettings { horizon: 5, samples: 16, iterations: 1, particles: 1, ..c.planner };
        c
    };
    let (sac, demorl) = (dir.join("sac.ron"), dir.join("demorl.ron"));
    write_run_config(&sac, &tiny(RunMode::Sac)).unwrap();
    write_run_config(&demorl, &tiny(RunMode::Demorl)).unwrap();
    (sac, demorl)
}

/// The report of a grid that must have finished (the local backend always does).
pub fn finished(outcome: anyhow::Result<CompareOutcome>) -> CompareReport {
    outcome.unwrap().finished().expect("every run of a local grid finishes")
}
