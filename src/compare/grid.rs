//! Runs the (mode, seed) grid one run at a time or on several threads. Every run is a plain
//! `run_learning` call with its own seeded RNGs, so results do not depend on the job count; a run
//! whose folder already holds a summary and the same settings is read back instead of retrained.

use anyhow::Context;
use std::path::PathBuf;

use super::{CurvePoint, SeedCurve, TrainingEnds};
use crate::agent::{EvalRow, on_workers, read_eval_rows_csv, run_learning};
use crate::config::{RunConfig, read_run_config};
use crate::scene::Scene;

/// One run of the grid.
#[derive(Clone, Debug)]
pub struct GridRun {
    /// Its row in the table and band in the plot: the mode's name, then its varied values in a
    /// sweep (`demorl planner.horizon=10`).
    pub group: String,
    pub seed: u64,
    pub config: RunConfig,
    /// Where `eval.csv`, `train.csv`, `train_episodes.csv`, `summary.json` and `settings.ron` go.
    pub dir: PathBuf,
}

impl GridRun {
    /// `demorl planner.horizon=10 seed 2`, for logs and errors.
    pub fn name(&self) -> String {
        format!("{} seed {}", self.group, self.seed)
    }
}

/// A finished run's curve and whether it was read back from an earlier grid.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub curve: SeedCurve,
    pub reused: bool,
}

/// The evaluations of an earlier run in `run.dir` with exactly `run.config`, if it finished
/// (`summary.json` is written only at the end of a run).
pub fn finished_run(run: &GridRun) -> Option<Vec<EvalRow>> {
    if !run.dir.join("summary.json").is_file() {
        return None;
    }
    let stored = read_run_config(&run.dir.join("settings.ron")).ok()?;
    if stored != run.config {
        return None;
    }
    read_eval_rows_csv(&run.dir.join("eval.csv")).ok().filter(|rows| !rows.is_empty())
}

/// A finished run's outcome read back from its folder ([`finished_run`]); an unreadable
/// `train_episodes.csv` is logged and leaves its training falls uncounted.
pub(super) fn reused_outcome(run: &GridRun, log: &(dyn Fn(&str) + Sync)) -> Option<RunOutcome> {
    let evals = finished_run(run)?;
    let training = TrainingEnds::read(&run.dir).unwrap_or_else(|e| {
        log(&format!("{}: {e:#}; its training falls are not counted", run.name()));
        None
    });
    Some(RunOutcome { curve: curve(run, &evals, training), reused: true })
}

fn curve(run: &GridRun, evals: &[EvalRow], training: Option<TrainingEnds>) -> SeedCurve {
    let points = evals
        .iter()
        .map(|r| CurvePoint {
            env_steps: r.env_steps,
            mean: r.eval_return_mean,
            std: r.eval_return_std,
            length_mean: r.eval_length_mean,
            falls: r.eval_falls,
        })
        .collect();
    SeedCurve { mode: run.group.clone(), seed: run.seed, points, training }
}

fn run_one(run: &GridRun, scene: &Scene, log: &(dyn Fn(&str) + Sync)) -> anyhow::Result<RunOutcome> {
    let name = run.name();
    if let Some(outcome) = reused_outcome(run, log) {
        log(&format!("{name}: finished run with the same settings in {}, reused", run.dir.display()));
        return Ok(outcome);
    }
    if run.dir.join("summary.json").is_file() {
        log(&format!("{name}: {} holds a run with other settings, retraining", run.dir.display()));
    }
    let on_eval = |row: &EvalRow| log(&format!("{name}: eval @ {:>7} steps: {}", row.env_steps, row.return_text()));
    let output = run_learning(&run.config, scene, Some(&run.dir), |_| {}, on_eval)?;
    let s = &output.summary;
    log(&format!(
        "{name}: done, final return {:.2} ± {:.2} ({:.1} s)",
        s.eval_return_mean, s.eval_return_std, s.wall_seconds
    ));
    let training = Some(TrainingEnds::of(&output.episodes));
    Ok(RunOutcome { curve: curve(run, &output.evals, training), reused: false })
}

/// Runs every run on `jobs` worker threads (runs are taken in order); returns the outcomes in
/// `runs` order. After a failure no new run starts and the first error (in grid order) is returned.
pub fn run_grid(
    runs: &[GridRun],
    scene: &Scene,
    jobs: usize,
    log: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<Vec<RunOutcome>> {
    on_workers(runs, jobs, "compare", |run| {
        run_one(run, scene, log).with_context(|| format!("{} ({})", run.name(), run.dir.display()))
    })
}
