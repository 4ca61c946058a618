//! `compare`: a grid of learning runs (modes × seeds) on one scene, their learning curves as PNG
//! and SVG, and a table of the env steps each run needed to reach a return threshold.

mod grid;
mod plot;
mod spec;
mod table;

pub use grid::{GridRun, finished_run, run_dir, run_grid};
pub use plot::{ModeBand, mode_bands, mode_colour, write_curves};
pub use spec::{CompareOptions, grid_runs, parse_seeds, parse_settings_for};
pub use table::{ModeRow, SeedRow, ThresholdTable, build_table, first_crossing, median_steps, write_table_csv};

use anyhow::Context;

/// One evaluation of a run: env steps so far, and the mean and spread over its eval episodes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    pub env_steps: u64,
    pub mean: f64,
    pub std: f64,
}

/// The evaluation curve of one (mode, seed) run, in env-step order.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedCurve {
    pub mode: String,
    pub seed: u64,
    pub points: Vec<CurvePoint>,
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

/// Runs the grid (reusing finished runs), then writes `curves.png`, `curves.svg`,
/// `steps_to_threshold.csv` and `steps_to_threshold.md` into `options.out`.
pub fn run_compare(options: &CompareOptions, log: &(dyn Fn(&str) + Sync)) -> anyhow::Result<CompareReport> {
    let scene = crate::scene::load_scene(&options.scene)?;
    let runs = grid_runs(options, &scene)?;
    let labels: Vec<String> = options.modes.iter().map(|m| m.mode_name().to_string()).collect();
    std::fs::create_dir_all(&options.out).with_context(|| format!("cannot create {}", options.out.display()))?;
    let outcomes = run_grid(&runs, &scene, options.jobs, log)?;
    let reused = outcomes.iter().filter(|o| o.reused).count();
    let curves: Vec<SeedCurve> = outcomes.into_iter().map(|o| o.curve).collect();
    let table = build_table(&curves, &labels, options.threshold);
    write_table_csv(&options.out.join("steps_to_threshold.csv"), &table)?;
    let markdown = table.markdown(&scene.name);
    let md_path = options.out.join("steps_to_threshold.md");
    std::fs::write(&md_path, &markdown).with_context(|| format!("cannot write {}", md_path.display()))?;
    let title = format!("{}: evaluation return over training", scene.name);
    let bands = mode_bands(&curves, &labels);
    write_curves(
        &options.out.join("curves.png"),
        &options.out.join("curves.svg"),
        &title,
        &bands,
        Some(table.threshold),
    )?;
    Ok(CompareReport { trained: curves.len() - reused, reused, curves, table, scene_name: scene.name })
}
