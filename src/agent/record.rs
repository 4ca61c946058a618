//! Run records on disk: `episodes.csv` (MPC with the simulator and the baselines: one row per
//! episode), `eval.csv` (learning runs: one row per evaluation), `train.csv`,
//! `train_episodes.csv` (one row per training episode) and `summary.json`.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::EpisodeSummary;
use super::train_data::{EvalRow, TrainEpisode, TrainRow};

/// What `summary.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub scene: String,
    pub mode: String,
    pub model: String,
    pub preset: String,
    pub seed: u64,
    pub env_steps: u64,
    /// Episodes run (learning modes: evaluation episodes per evaluation).
    pub episodes: usize,
    /// Mean and spread of the evaluation returns (learning modes: of the last evaluation).
    pub eval_return_mean: f64,
    pub eval_return_std: f64,
    /// Every episode's return (learning modes: the mean of each evaluation, in eval.csv order).
    pub eval_returns: Vec<f64>,
    pub mean_plan_ms: f64,
    /// Training episodes finished (learning modes; 0 otherwise).
    pub train_episodes: usize,
    /// Wall seconds of the run (learning modes; 0 otherwise).
    pub wall_seconds: f64,
    /// Env steps per wall second (learning modes; 0 otherwise).
    pub steps_per_second: f64,
}

/// Mean and population standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Writes `episodes.csv` of an episode run (MPC with the simulator, baselines): one row per
/// episode with cumulative env steps and the running mean and spread of
/// evaluation returns so far, then that episode's own figures.
pub fn write_episodes_csv(path: &Path, episodes: &[EpisodeSummary]) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_path(path).with_context(|| format!("cannot create {}", path.display()))?;
    writer.write_record([
        "env_steps",
        "eval_return_mean",
        "eval_return_std",
        "episodes",
        "episode_return",
        "episode_length",
        "plan_ms",
        "end",
    ])?;
    let mut env_steps = 0u64;
    let mut returns = Vec::new();
    for (k, episode) in episodes.iter().enumerate() {
        env_steps += u64::from(episode.length);
        returns.push(episode.episode_return);
        let (mean, std) = mean_std(&returns);
        writer.write_record([
            env_steps.to_string(),
            format!("{mean:.4}"),
            format!("{std:.4}"),
            (k + 1).to_string(),
            format!("{:.4}", episode.episode_return),
            episode.length.to_string(),
            format!("{:.3}", episode.plan_ms),
            episode.end.clone(),
        ])?;
    }
    writer.flush().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub fn write_summary_json(path: &Path, summary: &RunSummary) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(summary)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

/// Writes a learning run's metrics into `dir`: `eval.csv`, `train.csv` and `train_episodes.csv`.
pub fn write_learning_records(
    dir: &Path,
    evals: &[EvalRow],
    rows: &[TrainRow],
    episodes: &[TrainEpisode],
) -> anyhow::Result<()> {
    write_eval_rows_csv(&dir.join("eval.csv"), evals)?;
    write_train_csv(&dir.join("train.csv"), rows)?;
    let path = dir.join("train_episodes.csv");
    if episodes.is_empty() {
        // A run too short to finish an episode still gets a readable file: the header alone.
        return std::fs::write(&path, TRAIN_EPISODES_HEADER.to_string() + "\n")
            .with_context(|| format!("cannot write {}", path.display()));
    }
    write_rows(&path, episodes)
}

/// The columns of `train_episodes.csv` (the fields of [`TrainEpisode`]), written alone when no
/// episode has ended.
pub const TRAIN_EPISODES_HEADER: &str = "env_steps,episode_return,length,fell,end,disagreement_penalty";

/// Writes `eval.csv` of a learning run: one row per evaluation.
pub fn write_eval_rows_csv(path: &Path, rows: &[EvalRow]) -> anyhow::Result<()> {
    write_rows(path, rows)
}

/// Reads the `eval.csv` of a learning run back (`compare` reuses finished runs).
pub fn read_eval_rows_csv(path: &Path) -> anyhow::Result<Vec<EvalRow>> {
    read_rows(path)
}

/// Reads the `train_episodes.csv` of a learning run back (`compare` counts a reused run's
/// training falls); files written before the `fell` column read it from `end`.
pub fn read_train_episodes_csv(path: &Path) -> anyhow::Result<Vec<TrainEpisode>> {
    let episodes: Vec<TrainEpisode> = read_rows(path)?;
    Ok(episodes.into_iter().map(TrainEpisode::with_fall_from_end_text).collect())
}

fn read_rows<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<T>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let rows = reader.deserialize().collect::<Result<Vec<T>, _>>();
    rows.with_context(|| format!("cannot parse {}", path.display()))
}

/// Writes `train.csv` of a learning run: losses and model fit error over env steps.
pub fn write_train_csv(path: &Path, rows: &[TrainRow]) -> anyhow::Result<()> {
    write_rows(path, rows)
}

fn write_rows<T: Serialize>(path: &Path, rows: &[T]) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_path(path).with_context(|| format!("cannot create {}", path.display()))?;
    for row in rows {
        writer.serialize(row)?;
    }
    writer.flush().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eval_csv_from_before_the_actor_columns_reads_them_as_nan() {
        let dir = std::env::temp_dir().join(format!("demorl-old-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("eval.csv");
        std::fs::write(
            &path,
            "env_steps,eval_return_mean,eval_return_std,eval_return_min,eval_return_max,eval_length_mean,\
             train_episodes,last_train_return\n2000,-149.4,11.3,-158.6,-133.6,1000.0,2,-140.9\n",
        )
        .unwrap();
        let rows = read_eval_rows_csv(&path).unwrap();
        assert_eq!(rows[0].env_steps, 2000);
        assert!(rows[0].actor_return_mean.is_nan() && rows[0].actor_return_std.is_nan());
        assert_eq!(rows[0].eval_falls, None, "falls were not counted then");
        // Written back, the new columns round-trip.
        let mut row = rows[0].clone();
        row.actor_return_mean = 12.5;
        row.actor_return_std = 0.5;
        row.eval_falls = Some(2);
        write_eval_rows_csv(&path, std::slice::from_ref(&row)).unwrap();
        assert_eq!(read_eval_rows_csv(&path).unwrap(), vec![row]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn train_episodes_keep_the_kappa_the_falls_set_and_older_files_read_none() {
        let dir = std::env::temp_dir().join(format!("demorl-episodes-kappa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("train_episodes.csv");
        let old = "env_steps,episode_return,length,fell,end\n300,-4.5,300,true,terminated: fell\n";
        std::fs::write(&path, old).unwrap();
        let mut episodes = read_train_episodes_csv(&path).unwrap();
        assert_eq!(episodes[0].disagreement_penalty, None, "not adapted then");
        episodes[0].disagreement_penalty = Some(2.25);
        let mut later = TrainEpisode::ended(1300, 812.0, 1000, None);
        later.disagreement_penalty = Some(1.25);
        episodes.push(later);
        write_rows(&path, &episodes).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().next(), Some(TRAIN_EPISODES_HEADER));
        assert_eq!(read_train_episodes_csv(&path).unwrap(), episodes);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
