//! What a `compare` grid runs: the options, seed lists, per-mode settings files, and one
//! [`RunConfig`] per (mode, seed) built exactly as `train` builds it.

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::grid::{GridRun, run_dir};
use crate::agent::{LearningChoice, RunConfig, ScheduleOverrides, learning_config, read_run_config};
use crate::scene::Scene;

/// The learning modes a grid can hold (`mpc` plans with the learned model: PETS-like).
pub const COMPARE_MODES: [&str; 3] = ["sac", "mpc", "demorl"];

/// Everything `compare` needs.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    pub scene: PathBuf,
    /// Mode names from [`COMPARE_MODES`], in plot and table order.
    pub modes: Vec<String>,
    pub seeds: Vec<u64>,
    /// Env steps of every run.
    pub steps: u64,
    pub out: PathBuf,
    /// Runs trained at the same time.
    pub jobs: usize,
    /// Return to reach; `None` takes the first mode's mean final return.
    pub threshold: Option<f64>,
    /// `settings.ron` files whose train and planner settings a mode uses instead of the defaults.
    pub settings_for: Vec<(String, PathBuf)>,
    pub schedule: ScheduleOverrides,
}

/// Parses a seed list: `1..5` (both ends included), `7`, or `1,2,7`.
pub fn parse_seeds(text: &str) -> anyhow::Result<Vec<u64>> {
    let invalid = || format!("--seeds must look like 1..5 (both ends included), 7 or 1,2,7 (got `{text}`)");
    let seeds: Vec<u64> = if let Some((lo, hi)) = text.split_once("..") {
        let lo: u64 = lo.trim().parse().with_context(invalid)?;
        let hi: u64 = hi.trim().trim_start_matches('=').parse().with_context(invalid)?;
        if hi < lo {
            bail!(invalid());
        }
        (lo..=hi).collect()
    } else {
        text.split(',').map(|s| s.trim().parse::<u64>()).collect::<Result<_, _>>().with_context(invalid)?
    };
    let mut unique = seeds.clone();
    unique.sort_unstable();
    unique.dedup();
    if seeds.is_empty() || unique.len() != seeds.len() {
        bail!(invalid());
    }
    Ok(seeds)
}

/// Parses one `MODE=FILE` of `--settings-for`.
pub fn parse_settings_for(text: &str) -> anyhow::Result<(String, PathBuf)> {
    match text.split_once('=') {
        Some((mode, file)) if COMPARE_MODES.contains(&mode.trim()) && !file.is_empty() => {
            Ok((mode.trim().to_string(), PathBuf::from(file)))
        }
        _ => bail!("--settings-for must be MODE=FILE with MODE one of {} (got `{text}`)", COMPARE_MODES.join(", ")),
    }
}

/// The config of `mode` at seed 0: a `settings.ron` given with `--settings-for` (its train,
/// planner, preset and model), or what `train --mode MODE` would run; then the schedule flags.
fn mode_config(options: &CompareOptions, scene: &Scene, mode: &str) -> anyhow::Result<RunConfig> {
    let file = options.settings_for.iter().find(|(m, _)| m == mode).map(|(_, f)| f);
    let mut config = match file {
        Some(path) => {
            let config = read_run_config(path)?;
            if config.mode != mode {
                bail!("{} holds settings for mode {}, not {mode}", path.display(), config.mode);
            }
            config
        }
        None => {
            let choice = LearningChoice { mode, model: "learned", preset: None };
            learning_config(&options.scene, scene, &choice, 0, options.steps, 1)?
        }
    };
    // The grid decides the scene, length and seed; one rollout thread per run.
    config.scene = options.scene.clone();
    config.steps = options.steps;
    config.threads = 1;
    options.schedule.apply(&mut config)?;
    Ok(config)
}

/// One run per (mode, seed), modes outermost, each with its folder `OUT/<mode>/seed-<s>/`.
pub fn grid_runs(options: &CompareOptions, scene: &Scene) -> anyhow::Result<Vec<GridRun>> {
    if options.modes.is_empty() || options.seeds.is_empty() {
        bail!("--modes and --seeds must name at least one mode and one seed");
    }
    if options.jobs == 0 || options.steps == 0 {
        bail!("--jobs and --steps must be at least 1");
    }
    for (k, mode) in options.modes.iter().enumerate() {
        if !COMPARE_MODES.contains(&mode.as_str()) || options.modes[..k].contains(mode) {
            bail!("--modes must list distinct modes from {} (got `{mode}`)", COMPARE_MODES.join(", "));
        }
    }
    if let Some((mode, _)) = options.settings_for.iter().find(|(m, _)| !options.modes.contains(m)) {
        bail!("--settings-for names mode {mode}, which is not in --modes");
    }
    let mut runs = Vec::new();
    for mode in &options.modes {
        let base = mode_config(options, scene, mode)?;
        for &seed in &options.seeds {
            let config = RunConfig { seed, ..base.clone() };
            runs.push(GridRun { dir: run_dir(&options.out, mode, seed), mode: mode.clone(), seed, config });
        }
    }
    Ok(runs)
}
