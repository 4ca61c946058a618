//! A saved policy evaluated in named worlds: the checkpoint's agent plays the same deterministic
//! evaluation episodes (the run's evaluation seeds) in the nominal world and in each shifted
//! world of the scene, so robustness is read off one table with the nominal return beside it.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::checkpoint::{Manifest, restore_checkpoint};
use super::run::learning_agent;
use super::train::{Trainer, named_world};
use super::train_data::EvalRow;
use crate::scene::Scene;
use crate::sim::{Env, WorldChoice};

/// The name that always means the scene's own world, with nothing shifted.
pub const NOMINAL_WORLD: &str = "nominal";

/// One world's evaluation of a saved policy.
#[derive(Clone, Debug)]
pub struct WorldEval {
    pub world: String,
    pub row: EvalRow,
}

/// Restores the checkpoint in `dir` (its `manifest`, read and checked by `read_checkpoint`; built
/// for `scene`, its run's scene) and evaluates its agent for `episodes` episodes in each of
/// `worlds` (`nominal`, or names of `task.worlds`), in order. Every world is checked before any
/// episode runs.
pub fn evaluate_checkpoint(
    dir: &Path,
    manifest: &Manifest,
    scene: &Scene,
    worlds: &[String],
    episodes: usize,
) -> anyhow::Result<Vec<WorldEval>> {
    anyhow::ensure!(episodes > 0, "--episodes must be at least 1");
    let config = &manifest.config;
    let choices = worlds
        .iter()
        .map(|name| match name.as_str() {
            NOMINAL_WORLD => Ok(WorldChoice::Nominal),
            _ => named_world(scene, name),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let agent = learning_agent(config, &Env::new(scene))?;
    let mut trainer = Trainer::new(scene, agent, config.train.clone(), config.seed)?;
    restore_checkpoint(dir, manifest, &mut trainer)?;
    trainer.settings.eval_episodes = episodes;
    let evals = worlds
        .iter()
        .zip(choices)
        .map(|(world, choice)| {
            trainer.eval_env.set_world(choice);
            WorldEval { world: world.clone(), row: trainer.evaluate() }
        })
        .collect();
    Ok(evals)
}

/// Writes the evaluations as CSV: world, episodes' return mean / std / min / max, mean length,
/// the actor alone's mean and std (empty without an actor), and the return as a fraction of the
/// nominal world's (empty when `nominal` was not evaluated).
pub fn write_world_evals_csv(path: &Path, evals: &[WorldEval]) -> anyhow::Result<()> {
    let mut text = String::from(
        "world,return_mean,return_std,return_min,return_max,length_mean,actor_return_mean,actor_return_std,of_nominal\n",
    );
    let nominal = evals.iter().find(|e| e.world == NOMINAL_WORLD).map(|e| e.row.eval_return_mean);
    for WorldEval { world, row } in evals {
        let finite = |v: f64| if v.is_finite() { v.to_string() } else { String::new() };
        let of_nominal = nominal.map_or(String::new(), |n| finite(row.eval_return_mean / n));
        text += &format!(
            "{world},{},{},{},{},{},{},{},{of_nominal}\n",
            row.eval_return_mean,
            row.eval_return_std,
            row.eval_return_min,
            row.eval_return_max,
            row.eval_length_mean,
            finite(row.actor_return_mean),
            finite(row.actor_return_std),
        );
    }
    let mut file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}
