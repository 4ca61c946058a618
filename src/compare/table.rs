//! "Env steps to reach return X": the first evaluation at which each run's mean eval return
//! reaches the threshold (optionally: without a fall), per-mode medians and counts, final returns,
//! the runs falling at the end and the falls while training; as CSV and Markdown.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::{CurvePoint, SeedCurve, TrainingEnds};
use crate::agent::{evaluation_fell, mean_std};

/// One run's row.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedRow {
    pub seed: u64,
    /// Env steps of the first evaluation with mean return ≥ threshold; `None` if none reached it.
    pub steps_to_threshold: Option<u64>,
    /// The last evaluation: its env steps, and mean and std over its eval episodes.
    pub final_env_steps: u64,
    pub final_return_mean: f64,
    pub final_return_std: f64,
    /// An episode of the last evaluation fell.
    pub final_fell: bool,
    /// How many episodes of the last evaluation fell (`None`: a run from before the count).
    pub final_falls: Option<usize>,
    /// Its training episodes and their falls, when the run recorded them.
    pub training: Option<TrainingEnds>,
}

/// Means over a mode's seeds that recorded their training episodes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainingMean {
    pub episodes: f64,
    pub falls: f64,
    /// Seeds with records (the others ran before `train_episodes.csv` existed).
    pub runs: usize,
}

/// One mode's rows and summary.
#[derive(Clone, Debug, PartialEq)]
pub struct ModeRow {
    pub mode: String,
    pub seeds: Vec<SeedRow>,
    /// Seeds whose run reached the threshold.
    pub reached: usize,
    /// Median of the steps to threshold over all seeds, counting a seed that never reached it as
    /// infinitely many steps; `None` when that median is infinite (half or more never reached it).
    pub median_steps: Option<f64>,
    /// Mean and std over seeds of the final mean eval return.
    pub final_mean: f64,
    pub final_std: f64,
    /// Seeds whose last evaluation had a fall.
    pub final_falling: usize,
    /// Training episodes and falls per run; `None` when no seed recorded them.
    pub training: Option<TrainingMean>,
}

/// The whole table.
#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdTable {
    pub threshold: f64,
    /// Where the threshold came from (`--threshold`, or the first mode's mean final return).
    pub threshold_source: String,
    /// Evaluations with a fall did not count as reaching it (`--without-falls`).
    pub without_falls: bool,
    pub modes: Vec<ModeRow>,
}

/// What the table asks of the runs' evaluations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TableRule {
    /// Return to reach; `None` takes the first mode's mean final return.
    pub threshold: Option<f64>,
    /// The scene's episode steps: in runs from before the falls were counted, evaluation
    /// episodes that average fewer had a fall (a termination condition, or a blow-up).
    pub episode_steps: u32,
    /// Count an evaluation as reaching the threshold only if none of its episodes fell.
    pub without_falls: bool,
}

impl TableRule {
    /// Whether an episode of the evaluation fell ([`evaluation_fell`]).
    fn fell(&self, point: &CurvePoint) -> bool {
        evaluation_fell(point.falls, point.length_mean, self.episode_steps)
    }

    /// Env steps of the first point (in the given order) whose mean is at least `threshold`
    /// (and, `without_falls`, none of whose episodes fell).
    pub fn first_crossing(&self, curve: &SeedCurve, threshold: f64) -> Option<u64> {
        let reaches = |p: &&CurvePoint| p.mean >= threshold && !(self.without_falls && self.fell(p));
        curve.points.iter().find(reaches).map(|p| p.env_steps)
    }
}

/// Median with `None` as +∞: the middle value, or the mean of the two middle values.
pub fn median_steps(steps: &[Option<u64>]) -> Option<f64> {
    let mut sorted: Vec<f64> = steps.iter().map(|s| s.map_or(f64::INFINITY, |v| v as f64)).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    median.is_finite().then_some(median)
}

fn seed_row(curve: &SeedCurve, threshold: f64, rule: &TableRule) -> SeedRow {
    let last = curve.points.last();
    SeedRow {
        seed: curve.seed,
        steps_to_threshold: rule.first_crossing(curve, threshold),
        final_env_steps: last.map_or(0, |p| p.env_steps),
        final_return_mean: last.map_or(f64::NAN, |p| p.mean),
        final_return_std: last.map_or(f64::NAN, |p| p.std),
        final_fell: last.is_some_and(|p| rule.fell(p)),
        final_falls: last.and_then(|p| p.falls),
        training: curve.training,
    }
}

fn training_mean(seeds: &[SeedRow]) -> Option<TrainingMean> {
    let recorded: Vec<TrainingEnds> = seeds.iter().filter_map(|s| s.training).collect();
    let mean = |f: fn(&TrainingEnds) -> usize| recorded.iter().map(f).sum::<usize>() as f64 / recorded.len() as f64;
    (!recorded.is_empty()).then(|| TrainingMean {
        episodes: mean(|t| t.episodes),
        falls: mean(|t| t.falls),
        runs: recorded.len(),
    })
}

fn final_returns<'a>(curves: &'a [SeedCurve], mode: &'a str) -> impl Iterator<Item = f64> + 'a {
    curves.iter().filter(move |c| c.mode == mode).filter_map(|c| c.points.last().map(|p| p.mean))
}

/// Builds the table for `modes` (in that order) from the curves; without a threshold, uses the
/// mean over seeds of the first mode's final return ("how soon does each mode get where the
/// first one ends up").
pub fn build_table(curves: &[SeedCurve], modes: &[String], rule: &TableRule) -> ThresholdTable {
    let (threshold, threshold_source) = match rule.threshold {
        Some(x) => (x, "--threshold".to_string()),
        None => {
            let first = modes.first().map_or("", String::as_str);
            let finals: Vec<f64> = final_returns(curves, first).collect();
            (mean_std(&finals).0, format!("mean final return of {first} over {} seeds", finals.len()))
        }
    };
    let modes = modes
        .iter()
        .map(|mode| {
            let seeds: Vec<SeedRow> =
                curves.iter().filter(|c| &c.mode == mode).map(|c| seed_row(c, threshold, rule)).collect();
            let steps: Vec<Option<u64>> = seeds.iter().map(|s| s.steps_to_threshold).collect();
            let finals: Vec<f64> = final_returns(curves, mode).collect();
            let (final_mean, final_std) = mean_std(&finals);
            ModeRow {
                mode: mode.clone(),
                reached: steps.iter().flatten().count(),
                median_steps: median_steps(&steps),
                final_falling: seeds.iter().filter(|s| s.final_fell).count(),
                training: training_mean(&seeds),
                seeds,
                final_mean,
                final_std,
            }
        })
        .collect();
    ThresholdTable { threshold, threshold_source, without_falls: rule.without_falls, modes }
}

fn steps_text(steps: Option<u64>) -> String {
    steps.map_or_else(String::new, |s| s.to_string())
}

/// `12.5 of 40.0` (falls of episodes, means over seeds), `(n seeds)` when some seeds lack
/// records, `—` when none has them.
fn training_text(mode: &ModeRow) -> String {
    let Some(t) = mode.training else { return "—".to_string() };
    let partial = if t.runs < mode.seeds.len() { format!(" ({} seeds)", t.runs) } else { String::new() };
    format!("{:.1} of {:.1}{partial}", t.falls, t.episodes)
}

/// The last evaluation's falls summed over the seeds that counted them (`None`: none did).
fn counted_falls(seeds: &[SeedRow]) -> Option<usize> {
    seeds.iter().filter_map(|s| s.final_falls).reduce(|a, b| a + b)
}

fn median_text(median: Option<f64>) -> String {
    median.map_or_else(String::new, |m| format!("{m}"))
}

/// One row per run, then one `all` row per mode (median steps, `reached/seeds`, mean ± std over
/// seeds of the final return, `falling/seeds` at the end with the falls of its episodes summed over
/// the seeds that counted them, mean training episodes and falls). An empty step count means never
/// reached; empty falls or training columns, not recorded.
pub fn write_table_csv(path: &Path, table: &ThresholdTable) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_path(path).with_context(|| format!("cannot create {}", path.display()))?;
    writer.write_record([
        "mode",
        "seed",
        "threshold",
        "steps_to_threshold",
        "reached",
        "final_env_steps",
        "final_return_mean",
        "final_return_std",
        "final_fell",
        "final_falls",
        "train_episodes",
        "train_falls",
    ])?;
    let threshold = format!("{:.4}", table.threshold);
    for mode in &table.modes {
        for s in &mode.seeds {
            writer.write_record([
                mode.mode.clone(),
                s.seed.to_string(),
                threshold.clone(),
                steps_text(s.steps_to_threshold),
                s.steps_to_threshold.is_some().to_string(),
                s.final_env_steps.to_string(),
                format!("{:.4}", s.final_return_mean),
                format!("{:.4}", s.final_return_std),
                s.final_fell.to_string(),
                s.final_falls.map_or_else(String::new, |n| n.to_string()),
                s.training.map_or_else(String::new, |t| t.episodes.to_string()),
                s.training.map_or_else(String::new, |t| t.falls.to_string()),
            ])?;
        }
        writer.write_record([
            mode.mode.clone(),
            "all".to_string(),
            threshold.clone(),
            median_text(mode.median_steps),
            format!("{}/{}", mode.reached, mode.seeds.len()),
            mode.seeds.iter().map(|s| s.final_env_steps).max().unwrap_or(0).to_string(),
            format!("{:.4}", mode.final_mean),
            format!("{:.4}", mode.final_std),
            format!("{}/{}", mode.final_falling, mode.seeds.len()),
            counted_falls(&mode.seeds).map_or_else(String::new, |n| n.to_string()),
            mode.training.map_or_else(String::new, |t| format!("{:.2}", t.episodes)),
            mode.training.map_or_else(String::new, |t| format!("{:.2}", t.falls)),
        ])?;
    }
    writer.flush().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

impl ThresholdTable {
    /// A Markdown table: one line per mode, each seed's steps to threshold (— = never), the
    /// median, how many seeds reached it, and the final return.
    pub fn markdown(&self, scene: &str) -> String {
        let seeds: Vec<u64> = self.modes.first().map(|m| m.seeds.iter().map(|s| s.seed).collect()).unwrap_or_default();
        let mut text = format!(
            "# Env steps to reach return {:.1} on {scene}\n\nThreshold {:.1} ({}). A seed's entry is the env-step count of \
             its first evaluation whose mean return is at least the threshold (— = never). The median counts a seed \
             that never reached it as infinitely many steps.{} Final return: mean ± std over seeds of each run's last \
             evaluation; falling: runs with an episode of that evaluation that fell (before falls were counted: \
             that ended before the time limit); training \
             falls: mean over seeds of the training episodes a fall ended, of all training episodes.\n\n| mode | \
             reached | median steps |",
            self.threshold,
            self.threshold,
            self.threshold_source,
            if self.without_falls { " An evaluation with a fall does not count (--without-falls)." } else { "" }
        );
        for seed in &seeds {
            let _ = write!(text, " seed {seed} |");
        }
        text.push_str(" final return | falling | training falls |\n|---|---|---|");
        text.push_str(&"---|".repeat(seeds.len()));
        text.push_str("---|---|---|\n");
        for mode in &self.modes {
            let median = mode.median_steps.map_or_else(|| "—".to_string(), |m| format!("{m}"));
            let _ = write!(text, "| {} | {}/{} | {median} |", mode.mode, mode.reached, mode.seeds.len());
            for seed in &seeds {
                let cell = match mode.seeds.iter().find(|s| s.seed == *seed) {
                    Some(SeedRow { steps_to_threshold: Some(steps), .. }) => steps.to_string(),
                    Some(_) => "—".to_string(),
                    None => String::new(),
                };
                let _ = write!(text, " {cell} |");
            }
            let _ = writeln!(
                text,
                " {:.1} ± {:.1} | {}/{} | {} |",
                mode.final_mean,
                mode.final_std,
                mode.final_falling,
                mode.seeds.len(),
                training_text(mode)
            );
        }
        text
    }
}
