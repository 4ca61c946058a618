//! `compare`: a grid of learning runs (modes × swept settings × seeds) on one scene, trained on
//! this machine or as a SLURM job array, their learning curves as PNG and SVG, and a table of
//! the env steps each run needed to reach a return threshold.

mod array;
mod grid;
mod plot;
mod slurm;
mod spec;
mod status;
mod table;
mod training;
mod vary;

pub use array::{ArrayProgress, Waiting, advance_array};
pub use grid::{GridRun, finished_run, run_grid};
pub use plot::{ModeBand, mode_bands, mode_colour, write_curves};
pub use slurm::{CHECKPOINT_DIR, SlurmOptions, slurm_dir, task_log};
pub use spec::{Backend, CompareOptions, grid_runs, groups, parse_seeds, parse_settings_for};
pub use status::{GridManifest, RunState, RunStatus, grid_status, read_manifest, status_text};
pub use table::{
    ModeRow, SeedRow, TableRule, ThresholdTable, TrainingMean, build_table, median_steps, write_table_csv,
};
pub use training::TrainingEnds;
pub use vary::{
    Variation, applies_to, apply_fields, apply_planner_fields, combination_name, ensure_planner_fields,
    parse_assignment, parse_variation,
};

use anyhow::Context;

/// One evaluation of a run: env steps so far, the mean and spread of its episodes' returns,
/// their mean length and how many of them fell (`None` in runs from before the count: the mean
/// length below the scene's episode steps tells an early end).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    pub env_steps: u64,
    pub mean: f64,
    pub std: f64,
    pub length_mean: f64,
    pub falls: Option<usize>,
}

/// The evaluation curve of one run, in env-step order.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedCurve {
    /// The run's group: its mode, then its varied settings in a sweep (`demorl planner.horizon=10`).
    pub mode: String,
    pub seed: u64,
    pub points: Vec<CurvePoint>,
    /// How its training episodes ended; `None` for a reused run without `train_episodes.csv`.
    pub training: Option<TrainingEnds>,
}

/// What a finished `compare` produced.
#[derive(Clone, Debug)]
pub struct CompareReport {
    pub curves: Vec<SeedCurve>,
    pub table: ThresholdTable,
    /// The scene's name (for titles).
    pub scene_name: String,
    /// Runs trained now, and runs reused from an earlier, interrupted or finished grid.
    pub trained: usize,
    pub reused: usize,
}

/// What a `compare` call ended with.
#[derive(Clone, Debug)]
pub enum CompareOutcome {
    /// Every run finished; the table and curves are written.
    Finished(CompareReport),
    /// On SLURM: runs are queued or running (this call may have submitted some).
    Waiting(Waiting),
}

impl CompareOutcome {
    /// The report, if every run finished.
    pub fn finished(self) -> Option<CompareReport> {
        match self {
            CompareOutcome::Finished(report) => Some(report),
            CompareOutcome::Waiting(_) => None,
        }
    }
}

/// Runs the grid on its backend (reusing finished runs); once every run has finished, writes
/// `curves.png`, `curves.svg`, `steps_to_threshold.csv` and `steps_to_threshold.md` into
/// `options.out`.
pub fn run_compare(options: &CompareOptions, log: &(dyn Fn(&str) + Sync)) -> anyhow::Result<CompareOutcome> {
    let scene = crate::scene::load_scene(&options.scene)?;
    let runs = grid_runs(options, &scene)?;
    std::fs::create_dir_all(&options.out).with_context(|| format!("cannot create {}", options.out.display()))?;
    refuse_a_busy_other_grid(&options.out, &runs)?;
    let backend = match options.backend {
        Backend::Local { .. } => "local",
        Backend::Slurm(_) => "slurm",
    };
    status::write_manifest(&options.out, &options.scene, backend, &runs)?;
    let outcomes = match &options.backend {
        Backend::Local { jobs } => run_grid(&runs, &scene, *jobs, log)?,
        Backend::Slurm(slurm) => match advance_array(options, &runs, slurm, log)? {
            ArrayProgress::Finished(outcomes) => outcomes,
            ArrayProgress::Waiting(waiting) => return Ok(CompareOutcome::Waiting(waiting)),
        },
    };
    let reused = outcomes.iter().filter(|o| o.reused).count();
    let curves: Vec<SeedCurve> = outcomes.into_iter().map(|o| o.curve).collect();
    let rule = TableRule {
        threshold: options.threshold,
        episode_steps: scene.task.episode_steps,
        without_falls: options.without_falls,
    };
    let table = write_report(&options.out, &scene.name, &curves, &groups(&runs), &rule)?;
    Ok(CompareOutcome::Finished(CompareReport {
        trained: curves.len() - reused,
        reused,
        curves,
        table,
        scene_name: scene.name,
    }))
}

/// The table (CSV and Markdown) and the curves (PNG and SVG) of a finished grid.
fn write_report(
    out: &std::path::Path,
    scene_name: &str,
    curves: &[SeedCurve],
    groups: &[String],
    rule: &TableRule,
) -> anyhow::Result<ThresholdTable> {
    let table = build_table(curves, groups, rule);
    write_table_csv(&out.join("steps_to_threshold.csv"), &table)?;
    let md_path = out.join("steps_to_threshold.md");
    std::fs::write(&md_path, table.markdown(scene_name))
        .with_context(|| format!("cannot write {}", md_path.display()))?;
    let title = format!("{scene_name}: evaluation return over training");
    let bands = mode_bands(curves, groups);
    write_curves(&out.join("curves.png"), &out.join("curves.svg"), &title, &bands, Some(table.threshold))?;
    Ok(table)
}

/// A folder whose SLURM tasks still run another grid (other runs, or in another order) cannot
/// take this one: a queued task would start whichever run now has its index.
fn refuse_a_busy_other_grid(out: &std::path::Path, runs: &[GridRun]) -> anyhow::Result<()> {
    let Ok(previous) = read_manifest(out) else { return Ok(()) };
    let same =
        previous.runs.len() == runs.len() && previous.runs.iter().zip(runs).all(|(p, r)| out.join(&p.dir) == r.dir);
    if same || previous.backend != "slurm" {
        return Ok(());
    }
    let busy: Vec<String> = grid_status(out)?
        .into_iter()
        .filter(|s| matches!(s.state, RunState::Running | RunState::Pending(_)))
        .filter_map(|s| s.task)
        .collect();
    if !busy.is_empty() {
        anyhow::bail!(
            "{} holds another grid whose SLURM tasks are still queued or running ({}): wait for them, \
             cancel them with scancel, or use another --out",
            out.display(),
            busy.join(", ")
        );
    }
    Ok(())
}
