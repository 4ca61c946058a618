//! What a `compare` grid runs: the options, seed lists, per-mode settings files, sweeps, and one
//! [`RunConfig`] per (mode, varied values, seed) built exactly as `train` builds it.

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::grid::GridRun;
use super::slurm::SlurmOptions;
use super::vary::{Variation, applies_to, apply_combination, combination_name, combinations};
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
    /// Where the runs train: on this machine's threads or as a SLURM job array.
    pub backend: Backend,
    /// Return to reach; `None` takes the first mode's mean final return.
    pub threshold: Option<f64>,
    /// Count an evaluation as reaching the threshold only if none of its episodes fell.
    pub without_falls: bool,
    /// `settings.ron` files whose train and planner settings a mode uses instead of the defaults.
    pub settings_for: Vec<(RunMode, PathBuf)>,
    pub schedule: ScheduleOverrides,
    /// Settings sweeps: the grid runs every combination of their values for every mode and seed.
    pub variations: Vec<Variation>,
}

/// Where a grid's runs train.
#[derive(Clone, Debug)]
pub enum Backend {
    /// On this machine, `jobs` runs at a time on threads.
    Local { jobs: usize },
    /// One SLURM array task per run, each resuming from its own checkpoint when requeued.
    Slurm(SlurmOptions),
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

/// One run per (mode, combination of varied values, seed), in that nesting, each with its folder
/// `OUT/<mode>/seed-<s>/`, or `OUT/<mode>/<field=value,...>/seed-<s>/` in a sweep. Every
/// combination is checked before anything runs.
pub fn grid_runs(options: &CompareOptions, scene: &Scene) -> anyhow::Result<Vec<GridRun>> {
    if options.modes.is_empty() || options.seeds.is_empty() {
        bail!("--modes and --seeds must name at least one mode and one seed");
    }
    if matches!(options.backend, Backend::Local { jobs: 0 }) || options.steps == Some(0) {
        bail!("--jobs and --steps must be at least 1");
    }
    for (k, variation) in options.variations.iter().enumerate() {
        if options.variations[..k].iter().any(|v| v.field == variation.field) {
            bail!("--vary names {} twice: give all its values in one --vary", variation.field);
        }
        if !options.modes.iter().any(|&m| applies_to(&variation.field, m)) {
            bail!("--vary {}: no mode of this grid uses it (sac does not plan, mpc trains no SAC)", variation.field);
        }
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
        let own: Vec<Variation> = options.variations.iter().filter(|v| applies_to(&v.field, mode)).cloned().collect();
        for combination in combinations(&own) {
            let varied = apply_combination(&base, &combination)
                .and_then(|config| crate::agent::world_choices(scene, &config.train).map(|_| config))
                .and_then(|config| crate::agent::residual_gait(scene, &config.train).map(|_| config))
                .with_context(|| format!("for mode {}", mode.mode_name()))?;
            let (mut group, mut folder) = (mode.mode_name().to_string(), options.out.join(mode.mode_name()));
            if !combination.is_empty() {
                let name = combination_name(&combination);
                group = format!("{group} {name}");
                folder = folder.join(name);
            }
            for &seed in &options.seeds {
                let config = RunConfig { seed, ..varied.clone() };
                let dir = folder.join(format!("seed-{seed}"));
                runs.push(GridRun { dir, group: group.clone(), seed, config });
            }
        }
    }
    Ok(runs)
}

/// The runs' groups (mode and varied values) in grid order: the table's rows and the plot's bands.
pub fn groups(runs: &[GridRun]) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for run in runs {
        if !groups.contains(&run.group) {
            groups.push(run.group.clone());
        }
    }
    groups
}
