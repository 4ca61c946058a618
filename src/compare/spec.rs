//! What a `compare` grid runs: the options, seed lists, per-mode settings files, and one
//! [`RunConfig`] per (mode, seed) built exactly as `train` builds it.

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::grid::{GridRun, run_dir};
use crate::agent::{ScheduleOverrides, learning_config};
use crate::config::{RunConfig, RunMode, read_run_config};
use crate::scene::Scene;

/// Everything `compare` needs.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    pub scene: PathBuf,
    /// Learning modes, in plot and table order (labelled by `--mode` name: `mpc` is the
    /// planner with the learned model, PETS-like).
    pub modes: Vec<RunMode>,
    pub seeds: Vec<u64>,
    /// Env steps of every run; `None`: each mode's own (the scene's defaults, or the
    /// `--settings-for` file's).
    pub steps: Option<u64>,
    pub out: PathBuf,
    /// Runs trained at the same time.
    pub jobs: usize,
    /// Return to reach; `None` takes the first mode's mean final return.
    pub threshold: Option<f64>,
    /// `settings.ron` files whose train and planner settings a mode uses instead of the defaults.
    pub settings_for: Vec<(RunMode, PathBuf)>,
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
pub fn parse_settings_for(text: &str) -> anyhow::Result<(RunMode, PathBuf)> {
    let parsed = text.split_once('=').and_then(|(mode, file)| {
        let mode = RunMode::learning_from_name(mode.trim())?;
        (!file.is_empty()).then(|| (mode, PathBuf::from(file)))
    });
    parsed.ok_or_else(|| {
        anyhow::anyhow!("--settings-for must be MODE=FILE with MODE one of sac, mpc, demorl (got `{text}`)")
    })
}

/// The config of `mode` at seed 0: a `settings.ron` given with `--settings-for` (its train,
/// planner, preset and model), or what `train --mode MODE` would run; then the schedule flags.
fn mode_config(options: &CompareOptions, scene: &Scene, mode: RunMode) -> anyhow::Result<RunConfig> {
    let file = options.settings_for.iter().find(|(m, _)| *m == mode).map(|(_, f)| f);
    let mut config = match file {
        Some(path) => {
            let config = read_run_config(path)?;
            if config.mode != mode {
                bail!("{} holds settings for mode {}, not {mode}", path.display(), config.mode);
            }
            config
        }
        None => learning_config(&options.scene, scene, mode, None, 0, 1)?,
    };
    // The grid decides the scene and seed (and the length, when given); one rollout thread per run.
    config.scene = options.scene.clone();
    if let Some(steps) = options.steps {
        config.steps = steps;
    }
    config.threads = 1;
    options.schedule.apply(&mut config)?;
    Ok(config)
}

/// One run per (mode, seed), modes outermost, each with its folder `OUT/<mode>/seed-<s>/`.
pub fn grid_runs(options: &CompareOptions, scene: &Scene) -> anyhow::Result<Vec<GridRun>> {
    if options.modes.is_empty() || options.seeds.is_empty() {
        bail!("--modes and --seeds must name at least one mode and one seed");
    }
    if options.jobs == 0 || options.steps == Some(0) {
        bail!("--jobs and --steps must be at least 1");
    }
    for (k, mode) in options.modes.iter().enumerate() {
        if !mode.is_learning() || options.modes[..k].contains(mode) {
            bail!("--modes must list distinct modes from sac, mpc, demorl (got `{}`)", mode.mode_name());
        }
    }
    if let Some((mode, _)) = options.settings_for.iter().find(|(m, _)| !options.modes.contains(m)) {
        bail!("--settings-for names mode {}, which is not in --modes", mode.mode_name());
    }
    let mut runs = Vec::new();
    for &mode in &options.modes {
        let base = mode_config(options, scene, mode)?;
        let label = mode.mode_name().to_string();
        for &seed in &options.seeds {
            let config = RunConfig { seed, ..base.clone() };
            runs.push(GridRun { dir: run_dir(&options.out, &label, seed), mode: label.clone(), seed, config });
        }
    }
    Ok(runs)
}
