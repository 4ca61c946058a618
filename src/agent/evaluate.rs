//! A saved policy evaluated in named worlds: the checkpoint's agent plays the same deterministic
//! evaluation episodes (the run's evaluation seeds) in the nominal world and in each shifted
//! world of the scene, so robustness is read off one table with the nominal return beside it;
//! several saved runs (one per seed) are summarised world by world.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::checkpoint::{Manifest, restore_to_evaluate};
use super::record::mean_std;
use super::run::learning_agent;
use super::train::{Trainer, named_world};
use super::train_data::EvalRow;
use crate::config::{PlannerSettings, RunConfig};
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
/// episode runs, and every world starts from the same evaluation noise: a planner's noise runs on
/// from one episode to the next (nothing else an evaluation touches carries over), so a world's
/// figures would otherwise depend on the worlds before it. A save taken at the step of the run's
/// last evaluation starts each world's noise where that evaluation's began, so its nominal
/// figures are the run's own.
/// With `planner`, the saved agent plans with those settings instead of its own (its networks and
/// model unchanged): what the same learned parts earn under another planner.
pub fn evaluate_checkpoint(
    dir: &Path,
    manifest: &Manifest,
    scene: &Scene,
    worlds: &[String],
    episodes: usize,
    planner: Option<&PlannerSettings>,
) -> anyhow::Result<Vec<WorldEval>> {
    anyhow::ensure!(episodes > 0, "--episodes must be at least 1");
    let config = &manifest.config;
    if planner.is_some() {
        ensure_plans(config)?;
    }
    let choices = worlds
        .iter()
        .map(|name| match name.as_str() {
            NOMINAL_WORLD => Ok(WorldChoice::Nominal),
            _ => named_world(scene, name),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let agent = learning_agent(config, &Env::new(scene))?;
    let mut trainer = Trainer::new(scene, agent, config.train.clone(), config.seed)?;
    restore_to_evaluate(dir, manifest, &mut trainer)?;
    if let Some(settings) = planner {
        trainer.agent.set_planner_settings(settings.clone()).context("the changed planner settings")?;
    }
    trainer.settings.eval_episodes = episodes;
    let mut evals = Vec::with_capacity(worlds.len());
    for (world, choice) in worlds.iter().zip(choices) {
        // Evaluation changes nothing learned, only the evaluation noise: rewound, every world
        // starts where the run's last evaluation began (a save taken at its step) or, for the
        // second world on, where the first began.
        trainer.agent.replay_evaluation_at(manifest.trainer.env_steps)?;
        trainer.eval_env.set_world(choice);
        evals.push(WorldEval { world: world.clone(), row: trainer.evaluate() });
    }
    Ok(evals)
}

/// Refuses a planner change for a run that does not plan (SAC alone).
pub fn ensure_plans(config: &RunConfig) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.mode.plans(),
        "this run ({} mode) does not plan: there are no planner settings to change",
        config.mode
    );
    Ok(())
}

/// Writes the evaluations of one or more saved runs as CSV, a row per run and world: the
/// checkpoint, world, episodes' return mean / std / min / max, mean length, episodes that fell,
/// the actor alone's mean and std (empty without an actor), and the return as a fraction of that
/// run's nominal return (empty when `nominal` was not evaluated).
pub fn write_world_evals_csv(path: &Path, runs: &[(&Path, &[WorldEval])]) -> anyhow::Result<()> {
    let mut text = String::from(
        "checkpoint,world,return_mean,return_std,return_min,return_max,length_mean,falls,actor_return_mean,\
         actor_return_std,of_nominal\n",
    );
    for (checkpoint, evals) in runs {
        let nominal = nominal_return(evals);
        for WorldEval { world, row } in evals.iter() {
            let of_nominal = nominal.map_or(String::new(), |n| finite(row.eval_return_mean / n));
            text += &format!(
                "{},{world},{},{},{},{},{},{},{},{},{of_nominal}\n",
                checkpoint.display(),
                row.eval_return_mean,
                row.eval_return_std,
                row.eval_return_min,
                row.eval_return_max,
                row.eval_length_mean,
                row.eval_falls.map_or_else(String::new, |n| n.to_string()),
                finite(row.actor_return_mean),
                finite(row.actor_return_std),
            );
        }
    }
    write_text(path, &text)
}

/// A CSV cell: the number, or empty when it is not finite (not measured).
fn finite(v: f64) -> String {
    if v.is_finite() { v.to_string() } else { String::new() }
}

fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// The run's mean return in the nominal world, if it was evaluated there.
fn nominal_return(evals: &[WorldEval]) -> Option<f64> {
    evals.iter().find(|e| e.world == NOMINAL_WORLD).map(|e| e.row.eval_return_mean)
}

/// One world's evaluations over several saved runs (e.g. one per seed).
#[derive(Clone, Debug, PartialEq)]
pub struct WorldSummary {
    pub world: String,
    /// Each run's mean return, in the order of the runs.
    pub returns: Vec<f64>,
    /// Each run's mean return as a fraction of its own nominal return (empty without `nominal`).
    pub of_nominal: Vec<f64>,
    /// Runs in which an episode fell ([`EvalRow::fell`]).
    pub runs_with_falls: usize,
}

impl WorldSummary {
    /// Mean and population standard deviation of the runs' mean returns.
    pub fn return_mean_std(&self) -> (f64, f64) {
        mean_std(&self.returns)
    }

    /// One line: return over runs with its range, share of nominal with its range, falls.
    pub fn text(&self) -> String {
        let (mean, std) = self.return_mean_std();
        let (low, high) = min_max(&self.returns);
        let mut text = format!("return {mean:.2} ± {std:.2} (runs {low:.2} to {high:.2})");
        if !self.of_nominal.is_empty() {
            let (share, _) = mean_std(&self.of_nominal);
            let (low, high) = min_max(&self.of_nominal);
            text += &format!(", {:.1} % of nominal ({:.1} to {:.1} %)", 100.0 * share, 100.0 * low, 100.0 * high);
        }
        text + &format!(", episodes fell in {} of {} runs", self.runs_with_falls, self.returns.len())
    }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), &v| (low.min(v), high.max(v)))
}

/// World by world over `runs` (each the same worlds in the same order, as [`evaluate_checkpoint`]
/// returns them for one scene): every run's mean return, its share of that run's nominal
/// return, and how many runs had an episode fall (counted, or in evaluations from before the count,
/// ending before `episode_steps`).
pub fn summarize_runs(runs: &[Vec<WorldEval>], episode_steps: u32) -> anyhow::Result<Vec<WorldSummary>> {
    let first = runs.first().ok_or_else(|| anyhow::anyhow!("no runs to summarise"))?;
    let worlds: Vec<&str> = first.iter().map(|e| e.world.as_str()).collect();
    for run in runs {
        let names: Vec<&str> = run.iter().map(|e| e.world.as_str()).collect();
        anyhow::ensure!(names == worlds, "runs evaluated different worlds: {worlds:?} and {names:?}");
    }
    let summary = |k: usize| {
        let evals = runs.iter().map(|run| &run[k]);
        WorldSummary {
            world: worlds[k].to_string(),
            returns: evals.clone().map(|e| e.row.eval_return_mean).collect(),
            of_nominal: runs
                .iter()
                .filter_map(|run| nominal_return(run).map(|n| run[k].row.eval_return_mean / n))
                .collect(),
            runs_with_falls: evals.filter(|e| e.row.fell(episode_steps)).count(),
        }
    };
    Ok((0..worlds.len()).map(summary).collect())
}

/// Writes [`summarize_runs`]' table as CSV: world, runs, the runs' mean return's mean / std /
/// min / max, the share of nominal's mean / min / max (empty without `nominal`), and the runs in
/// which an episode fell.
pub fn write_world_summary_csv(path: &Path, summaries: &[WorldSummary]) -> anyhow::Result<()> {
    let mut text = String::from(
        "world,runs,return_mean,return_std,return_min,return_max,of_nominal_mean,of_nominal_min,\
         of_nominal_max,runs_with_falls\n",
    );
    for s in summaries {
        let (mean, std) = s.return_mean_std();
        let (low, high) = min_max(&s.returns);
        let share = match s.of_nominal.is_empty() {
            true => ",,".to_string(),
            false => {
                let (low, high) = min_max(&s.of_nominal);
                format!("{},{low},{high}", mean_std(&s.of_nominal).0)
            }
        };
        text += &format!("{},{},{mean},{std},{low},{high},{share},{}\n", s.world, s.returns.len(), s.runs_with_falls);
    }
    write_text(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::EvalRow;

    fn eval(world: &str, mean: f64, length: f64) -> WorldEval {
        let row = EvalRow {
            env_steps: 1000,
            eval_return_mean: mean,
            eval_return_std: 0.0,
            eval_return_min: mean,
            eval_return_max: mean,
            eval_length_mean: length,
            train_episodes: 1,
            last_train_return: f64::NAN,
            actor_return_mean: f64::NAN,
            actor_return_std: f64::NAN,
            eval_falls: None,
        };
        WorldEval { world: world.to_string(), row }
    }

    #[test]
    fn runs_are_summarised_world_by_world_against_each_runs_own_nominal() {
        let runs = vec![
            vec![eval("nominal", 200.0, 100.0), eval("heavy", 180.0, 100.0), eval("pushed", 50.0, 40.0)],
            vec![eval("nominal", 100.0, 100.0), eval("heavy", 100.0, 100.0), eval("pushed", 100.0, 100.0)],
        ];
        let summary = summarize_runs(&runs, 100).unwrap();
        assert_eq!(summary.len(), 3);
        assert_eq!(summary[1].returns, vec![180.0, 100.0]);
        assert_eq!(summary[1].of_nominal, vec![0.9, 1.0]);
        assert_eq!(summary[1].return_mean_std(), (140.0, 40.0));
        assert_eq!(summary[2].of_nominal, vec![0.25, 1.0]);
        assert_eq!(summary[2].runs_with_falls, 1, "no count: the short mean length tells");
        assert_eq!(summary[0].runs_with_falls, 0);
        let line = summary[2].text();
        assert!(line.contains("62.5 % of nominal (25.0 to 100.0 %)") && line.contains("fell in 1 of 2"), "{line}");

        let without_nominal = vec![vec![eval("heavy", 1.0, 100.0)]];
        assert!(summarize_runs(&without_nominal, 100).unwrap()[0].of_nominal.is_empty());
        let mismatched = vec![runs[0].clone(), runs[1][..2].to_vec()];
        assert!(summarize_runs(&mismatched, 100).unwrap_err().to_string().contains("different worlds"));
    }

    /// Evaluations that counted their falls are read by the count: a short episode without a fall
    /// (a physics blow-up) is not one, a fall is one whatever the mean length.
    #[test]
    fn counted_falls_decide_over_the_mean_length() {
        let counted = |length: f64, falls: usize| {
            let mut e = eval("nominal", 10.0, length);
            e.row.eval_falls = Some(falls);
            e
        };
        let runs = vec![vec![counted(40.0, 0)], vec![counted(100.0, 0)], vec![counted(60.0, 2)]];
        assert_eq!(summarize_runs(&runs, 100).unwrap()[0].runs_with_falls, 1);
    }
}
