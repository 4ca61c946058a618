//! The [`RunConfig`] of a learning run as `train` and `compare` build it from command-line choices.

use std::path::Path;

use anyhow::bail;

use super::train::{RunConfig, TrainSettings};
use crate::plan::preset_or_error;
use crate::scene::Scene;

/// A learning run's mode, model and planner choice before seed and length are set.
pub struct LearningChoice<'a> {
    /// `sac`, `mpc` or `demorl`.
    pub mode: &'a str,
    /// `learned` or `simulator` (ignored by `sac`, always `learned` for `demorl`).
    pub model: &'a str,
    /// A preset name; `None` takes the scene's settings (`reference` for `demorl`).
    pub preset: Option<&'a str>,
}

/// Builds the config `train` runs for `choice` on the scene at `scene_path`.
pub fn learning_config(
    scene_path: &Path,
    scene: &Scene,
    choice: &LearningChoice<'_>,
    seed: u64,
    steps: u64,
    threads: usize,
) -> anyhow::Result<RunConfig> {
    // DeMoRL needs the critic and prior hooks the scene's simulator settings switch off,
    // so it starts from the reference preset unless told otherwise.
    let (preset, planner) = match (choice.preset, choice.mode) {
        (Some(name), _) => (name.to_string(), preset_or_error(name)?),
        (None, "demorl") => ("reference".to_string(), preset_or_error("reference")?),
        (None, _) => ("scene-default".to_string(), scene.planner.clone()),
    };
    let model = match (choice.mode, choice.model) {
        ("sac", _) => "none",
        ("demorl", _) => "learned",
        ("mpc", model @ ("learned" | "simulator")) => model,
        (mode, model) => bail!("no learning run for --mode {mode} --model {model}"),
    };
    Ok(RunConfig {
        scene: scene_path.to_path_buf(),
        mode: choice.mode.to_string(),
        model: model.to_string(),
        preset,
        seed,
        steps,
        threads,
        train: TrainSettings {
            // The model-based modes start planning after a short random phase (PETS, LOOP).
            warmup_steps: if choice.mode == "sac" { 1000 } else { 250 },
            ..TrainSettings::default()
        },
        planner,
    })
}

/// Schedule options given on the command line; each replaces the config's value when set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScheduleOverrides {
    pub eval_every: Option<u64>,
    pub eval_episodes: Option<usize>,
    pub warmup: Option<u64>,
}

impl ScheduleOverrides {
    /// Applies the set options and checks the evaluation schedule.
    pub fn apply(&self, config: &mut RunConfig) -> anyhow::Result<()> {
        if let Some(k) = self.eval_every {
            config.train.eval_every = k;
        }
        if let Some(n) = self.eval_episodes {
            config.train.eval_episodes = n;
        }
        if let Some(w) = self.warmup {
            config.train.warmup_steps = w;
        }
        if config.train.eval_every == 0 || config.train.eval_episodes == 0 {
            bail!("--eval-every and --eval-episodes must be at least 1");
        }
        Ok(())
    }
}
