//! The [`RunConfig`] of a learning run as `train` and `compare` build it from command-line choices.

use std::path::Path;

use anyhow::bail;

use crate::config::{RunConfig, RunMode};
use crate::plan::preset_argument;
use crate::scene::Scene;

/// The config `train SCENE --mode MODE [--preset NAME]` runs: the scene's defaults for the mode
/// ([`Scene::defaults`]: its recorded settings, or the mode's generic ones), with a preset's
/// planner settings instead when one is named.
pub fn learning_config(
    scene_path: &Path,
    scene: &Scene,
    mode: RunMode,
    preset: Option<&str>,
    seed: u64,
    threads: usize,
) -> anyhow::Result<RunConfig> {
    if !mode.is_learning() {
        bail!("{mode} learns nothing: it is not a learning run");
    }
    let defaults = scene.defaults(mode);
    let (preset, planner) = match preset {
        Some(name) => (name.to_string(), preset_argument(name)?),
        None => ("scene-default".to_string(), defaults.planner),
    };
    Ok(RunConfig {
        scene: scene_path.to_path_buf(),
        mode,
        preset,
        seed,
        steps: defaults.steps,
        threads,
        train: defaults.train,
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
    /// Applies the set options, refusing a zero evaluation interval or count (the settings check
    /// names such values when they come from a file).
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
        if self.eval_every == Some(0) || self.eval_episodes == Some(0) {
            bail!("--eval-every and --eval-episodes must be at least 1");
        }
        Ok(())
    }
}
