//! The learning loop's data: transitions, what a step and a model refit report, evaluation and
//! `train.csv` rows, progress, and the trainer's checkpointed counters.

use serde::{Deserialize, Deserializer, Serialize};

use crate::learn::{SacLosses, StepEnd};
use crate::plan::PlanSummary;
use crate::sim::EndReason;

/// One env transition as the agent sees it after the step.
pub struct Transition<'a> {
    pub obs: &'a [f32],
    pub action: &'a [f32],
    pub reward: f32,
    pub next_obs: &'a [f32],
    pub end: StepEnd,
}

/// What one dynamics-model refit reported.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelFit {
    /// Mean elite hold-out MSE of the model in use after the refit (standardised units).
    pub holdout_mse: f32,
    /// Training epochs run.
    pub epochs: usize,
    /// The refit guard rejected the refit and kept the previous model.
    pub kept_previous: bool,
    /// Hold-out MSE per output, reward first (see `FitReport::holdout_mse_per_output`).
    pub holdout_mse_per_output: Vec<f32>,
    /// The elites' mean predicted log-variance on the hold-out rows (`FitReport::holdout_mean_logvar`).
    pub holdout_mean_logvar: f32,
    /// No member improved on the fitted model the refit started from (`FitReport::stalled`).
    #[serde(default)]
    pub stalled: bool,
    /// The refit stalled and the model refitted from fresh weights was kept (`restart_stalled`).
    pub restarted: bool,
}

/// What learning did during one env step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepStats {
    /// Losses of every SAC update done in this step.
    pub sac: Vec<SacLosses>,
    /// Set when the dynamics model was refitted.
    pub model_fit: Option<ModelFit>,
    /// Summary of the plan that chose this step's action (planning agents after warm-up).
    pub plan: Option<PlanSummary>,
}

/// What one training env step did (returned by [`Trainer::step`] for live views).
#[derive(Clone, Debug, Default)]
pub struct TrainStep {
    /// The executed action.
    pub action: Vec<f32>,
    pub reward: f32,
    /// The training episode this step ended (the env is already reset then).
    pub episode_end: Option<TrainEpisode>,
    /// What learning did; `stats.plan` is set when a plan chose the action.
    pub stats: StepStats,
    /// Wall milliseconds choosing the action (planning) and learning (updates, refits).
    pub act_ms: f64,
    pub learn_ms: f64,
    /// A `train.csv` row completed by this step.
    pub row: Option<TrainRow>,
    /// Set when learning has stopped on a non-finite value (this step or earlier).
    pub divergence: Option<String>,
}

/// One evaluation: deterministic episodes on the evaluation env.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalRow {
    pub env_steps: u64,
    pub eval_return_mean: f64,
    pub eval_return_std: f64,
    pub eval_return_min: f64,
    pub eval_return_max: f64,
    pub eval_length_mean: f64,
    /// Training episodes finished so far.
    pub train_episodes: usize,
    /// Return of the last finished training episode (NaN before the first).
    pub last_train_return: f64,
    /// DeMoRL: mean and std of the same episodes played by SAC's actor alone, without the
    /// planner (NaN for agents without an actor under a planner).
    #[serde(default = "not_measured")]
    pub actor_return_mean: f64,
    #[serde(default = "not_measured")]
    pub actor_return_std: f64,
    /// Evaluation episodes a fall ended ([`EndReason::is_fall`]); `None` in records from before
    /// the column (their `eval_length_mean` below the episode steps still tells an early end).
    #[serde(default)]
    pub eval_falls: Option<usize>,
}

impl EvalRow {
    /// `return M ± S`, and the actor-alone figures when they were measured (logs, messages).
    pub fn return_text(&self) -> String {
        let mut text = format!("return {:.2} ± {:.2}", self.eval_return_mean, self.eval_return_std);
        if self.actor_return_mean.is_finite() {
            text += &format!("; actor alone {:.2} ± {:.2}", self.actor_return_mean, self.actor_return_std);
        }
        if let Some(falls) = self.eval_falls.filter(|&n| n > 0) {
            text += &format!("; {falls} episode{} fell", if falls == 1 { "" } else { "s" });
        }
        text
    }

    /// Whether an episode of this evaluation fell ([`evaluation_fell`]).
    pub fn fell(&self, episode_steps: u32) -> bool {
        evaluation_fell(self.eval_falls, self.eval_length_mean, episode_steps)
    }
}

/// Whether an episode of an evaluation fell: its count of falls, or, for records from before the
/// count, a mean length below the scene's `episode_steps` (any early end, a blow-up too).
pub fn evaluation_fell(falls: Option<usize>, length_mean: f64, episode_steps: u32) -> bool {
    falls.map_or(length_mean < f64::from(episode_steps), |falls| falls > 0)
}

/// Rows written before a column existed read it as NaN.
fn not_measured() -> f64 {
    f64::NAN
}

/// One `train.csv` row: means over the last `log_every` env steps (NaN if nothing happened).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainRow {
    pub env_steps: u64,
    pub updates: usize,
    pub critic_loss: f32,
    pub actor_loss: f32,
    pub alpha: f32,
    pub entropy: f32,
    /// Mean over updates of `Σ_j (tanh μ_j(s) − a_j)²` between the actor's mean action and the
    /// executed (planner's) actions of the batch (NaN in rows written before it existed).
    #[serde(default = "crate::learn::sac::f32_not_measured")]
    pub actor_action_gap: f32,
    /// Mean elite hold-out MSE of the last model fit (standardised units; NaN before any).
    pub model_holdout_mse: f32,
    pub model_fits: usize,
    /// Refits the refit guard rejected so far (the previous model was kept).
    #[serde(default)]
    pub model_fits_rejected: usize,
    /// The last fit's hold-out MSE per output, reward first, `;`-separated (empty before any).
    #[serde(default)]
    pub model_holdout_mse_per_output: String,
    /// The last fit's elite mean predicted log-variance on its hold-out rows, standardised
    /// (NaN before any fit and in rows written before it existed).
    #[serde(default = "crate::learn::sac::f32_not_measured")]
    pub model_holdout_logvar: f32,
    /// Training epochs of the last fit (0 before any).
    #[serde(default)]
    pub model_fit_epochs: usize,
    /// Stalled refits replaced by a fit from fresh weights so far (`restart_stalled`).
    #[serde(default)]
    pub model_fits_restarted: usize,
    /// Refits so far that stalled: no member improved on the model they started from.
    #[serde(default)]
    pub model_fits_stalled: usize,
    /// Plans made in the window and means of their statistics (NaN without plans).
    pub plans: usize,
    pub plan_best_score: f32,
    pub plan_mean_score: f32,
    pub plan_effective_sample_size: f32,
}

/// The dynamics-model refits of a run so far: how many, how many the refit guard rejected,
/// stalled or `restart_stalled` redid, and the last one's report (what `train.csv` shows).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelFits {
    pub count: usize,
    pub rejected: usize,
    pub restarted: usize,
    #[serde(default)]
    pub stalled: usize,
    pub last: Option<ModelFit>,
}

impl ModelFits {
    /// Counts `fit` and keeps it as the last.
    pub fn record(&mut self, fit: &ModelFit) {
        self.count += 1;
        self.rejected += usize::from(fit.kept_previous);
        self.restarted += usize::from(fit.restarted);
        self.stalled += usize::from(fit.stalled);
        self.last = Some(fit.clone());
    }

    /// The last fit's hold-out MSE per output as `train.csv` writes it (`0.0123;0.0456`; empty
    /// before any fit).
    pub fn last_per_output_text(&self) -> String {
        let Some(fit) = &self.last else { return String::new() };
        fit.holdout_mse_per_output.iter().map(|e| format!("{e:.4}")).collect::<Vec<_>>().join(";")
    }

    /// A figure of the last fit, or `none` before any.
    fn last_or<T>(&self, none: T, figure: impl Fn(&ModelFit) -> T) -> T {
        self.last.as_ref().map_or(none, figure)
    }
}

/// The trainer's state: counters, metrics so far and the window not yet logged; everything a
/// checkpoint needs besides the agent's own files (format version 2).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    pub env_steps: u64,
    /// Training episodes started (the current one's index).
    pub episode: u64,
    /// Every finished training episode (`train_episodes.csv`); checkpoints written before
    /// lengths and ends were kept list returns only, under the old name.
    #[serde(alias = "episode_returns", deserialize_with = "episodes_or_returns")]
    pub episodes: Vec<TrainEpisode>,
    pub evals: Vec<EvalRow>,
    pub rows: Vec<TrainRow>,
    /// SAC losses and plan statistics since the last `train.csv` row.
    pub window: Vec<SacLosses>,
    pub plans: Vec<PlanSummary>,
    pub model: ModelFits,
}

impl TrainerState {
    /// Return of the last finished training episode (NaN before the first).
    pub fn last_episode_return(&self) -> f64 {
        self.episodes.last().map_or(f64::NAN, |e| e.episode_return)
    }

    /// Closes the window into a `train.csv` row: means of its SAC losses and plan statistics
    /// (NaN where it has none) and the model fits so far.
    pub fn push_row(&mut self) {
        let n = self.window.len();
        let mean = |f: fn(&SacLosses) -> f32| mean_of(&self.window, f);
        let model = &self.model;
        let row = TrainRow {
            env_steps: self.env_steps,
            updates: n,
            critic_loss: mean(|l| l.critic),
            actor_loss: mean(|l| l.actor),
            alpha: mean(|l| l.alpha),
            entropy: mean(|l| l.entropy),
            actor_action_gap: mean(|l| l.actor_action_gap),
            model_holdout_mse: model.last_or(f32::NAN, |f| f.holdout_mse),
            model_fits: model.count,
            model_fits_rejected: model.rejected,
            model_holdout_mse_per_output: model.last_per_output_text(),
            model_holdout_logvar: model.last_or(f32::NAN, |f| f.holdout_mean_logvar),
            model_fit_epochs: model.last_or(0, |f| f.epochs),
            model_fits_restarted: model.restarted,
            model_fits_stalled: model.stalled,
            plans: self.plans.len(),
            plan_best_score: mean_of(&self.plans, |p| p.best_score),
            plan_mean_score: mean_of(&self.plans, |p| p.mean_plan_score),
            plan_effective_sample_size: mean_of(&self.plans, |p| p.effective_sample_size),
        };
        self.rows.push(row);
        self.window.clear();
        self.plans.clear();
    }
}

/// The mean of one figure over a window of records (accumulated in f64), NaN for an empty window.
fn mean_of<T>(items: &[T], f: fn(&T) -> f32) -> f32 {
    if items.is_empty() {
        return f32::NAN;
    }
    (items.iter().map(|p| f64::from(f(p))).sum::<f64>() / items.len() as f64) as f32
}

/// One finished training episode: a row of `train_episodes.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainEpisode {
    /// Env steps done when it ended.
    pub env_steps: u64,
    pub episode_return: f64,
    /// Env steps it lasted.
    pub length: u32,
    /// A termination condition of the task ended it ([`EndReason::is_fall`]). Records written
    /// before this column kept the end as text only ([`TrainEpisode::with_fall_from_end_text`]).
    #[serde(default)]
    pub fell: bool,
    /// Why it ended: `time limit`, `terminated: <the task's condition>` (a fall) or
    /// `physics blow-up: …`.
    pub end: String,
    /// The κ its training plans scored with when `train.fall_caution` adapts it (empty
    /// otherwise and in records from before the column).
    #[serde(default)]
    pub disagreement_penalty: Option<f32>,
}

impl TrainEpisode {
    /// The record of an episode that ended after `length` steps, at `env_steps` steps of training
    /// (no reason: the time limit).
    pub fn ended(env_steps: u64, episode_return: f64, length: u32, reason: Option<&EndReason>) -> Self {
        let reason = reason.unwrap_or(&EndReason::TimeLimit);
        let (fell, end) = (reason.is_fall(), reason.to_string());
        TrainEpisode { env_steps, episode_return, length, fell, end, disagreement_penalty: None }
    }

    /// Whether the task's step limit ended it (not a fall, a blow-up or an invalid action).
    pub fn reached_time_limit(&self) -> bool {
        self.end == EndReason::TimeLimit.to_string()
    }

    /// A record written before `fell` was kept reads it from its end text, [`EndReason`]'s
    /// display of a fall (`terminated: …`); newer records are returned unchanged.
    pub fn with_fall_from_end_text(self) -> Self {
        let fell = self.fell || self.end.starts_with(EndReason::FALL_PREFIX);
        TrainEpisode { fell, ..self }
    }

    /// What a checkpoint written before lengths and ends were kept knows of an episode: its
    /// return (`env_steps` and `length` 0).
    fn return_only(episode_return: f64) -> Self {
        let end = "not recorded".into();
        TrainEpisode { env_steps: 0, episode_return, length: 0, fell: false, end, disagreement_penalty: None }
    }
}

/// A saved training episode: whole, or the bare return older checkpoints kept.
#[derive(Deserialize)]
#[serde(untagged)]
enum SavedEpisode {
    Whole(TrainEpisode),
    ReturnOnly(f64),
}

/// Reads `TrainerState::episodes` from either form (see [`SavedEpisode`]).
fn episodes_or_returns<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<TrainEpisode>, D::Error> {
    let saved = Vec::<SavedEpisode>::deserialize(deserializer)?;
    Ok(saved
        .into_iter()
        .map(|episode| match episode {
            SavedEpisode::Whole(episode) => episode.with_fall_from_end_text(),
            SavedEpisode::ReturnOnly(episode_return) => TrainEpisode::return_only(episode_return),
        })
        .collect())
}

/// [`TrainerState`] as checkpoint format 1 wrote it: the last fit's figures as loose fields, its
/// per-output errors already formatted.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TrainerStateV1 {
    pub env_steps: u64,
    pub episode: u64,
    pub episode_returns: Vec<f64>,
    pub evals: Vec<EvalRow>,
    pub rows: Vec<TrainRow>,
    pub window: Vec<SacLosses>,
    pub plans: Vec<PlanSummary>,
    pub model_mse: f32,
    pub model_fits: usize,
    #[serde(default)]
    pub model_fits_rejected: usize,
    #[serde(default)]
    pub model_mse_per_output: String,
    #[serde(default = "crate::learn::sac::f32_not_measured")]
    pub model_logvar: f32,
    #[serde(default)]
    pub model_fit_epochs: usize,
    #[serde(default)]
    pub model_fits_restarted: usize,
}

impl From<TrainerStateV1> for TrainerState {
    /// The same state: the per-output errors are read back from their 4-decimal text, which
    /// `train.csv` writes again unchanged.
    fn from(v1: TrainerStateV1) -> Self {
        let last = (v1.model_fits > 0).then(|| ModelFit {
            holdout_mse: v1.model_mse,
            epochs: v1.model_fit_epochs,
            kept_previous: false,
            holdout_mse_per_output: v1.model_mse_per_output.split(';').filter_map(|e| e.parse().ok()).collect(),
            holdout_mean_logvar: v1.model_logvar,
            stalled: false,
            restarted: false,
        });
        TrainerState {
            env_steps: v1.env_steps,
            episode: v1.episode,
            episodes: v1.episode_returns.into_iter().map(TrainEpisode::return_only).collect(),
            evals: v1.evals,
            rows: v1.rows,
            window: v1.window,
            plans: v1.plans,
            model: ModelFits {
                count: v1.model_fits,
                rejected: v1.model_fits_rejected,
                restarted: v1.model_fits_restarted,
                stalled: 0,
                last,
            },
        }
    }
}

/// Progress figures for a progress bar.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub env_steps: u64,
    pub episodes: usize,
    pub last_return: f64,
    pub steps_per_second: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trainer_states_read_episodes_whole_or_as_the_returns_older_checkpoints_kept() {
        let episode = |env_steps, episode_return, length, end: &str| TrainEpisode {
            env_steps,
            episode_return,
            length,
            fell: end.starts_with("terminated"),
            end: end.into(),
            disagreement_penalty: None,
        };
        let state = TrainerState {
            env_steps: 1200,
            episode: 2,
            episodes: vec![episode(1000, 912.5, 1000, "time limit"), episode(1180, -3.25, 180, "terminated: fell")],
            ..TrainerState::default()
        };
        let text = ron::to_string(&state).unwrap();
        assert_eq!(ron::from_str::<TrainerState>(&text).unwrap(), state);
        // Format 2 before this field: the returns alone, under their old name.
        let whole = text.find("episodes:[").expect("compact RON");
        let list_end = whole + text[whole..].find("],").unwrap() + 2;
        let old = format!("{}episode_returns:[912.5,-3.25],{}", &text[..whole], &text[list_end..]);
        let read = ron::from_str::<TrainerState>(&old).unwrap();
        assert_eq!(read.episodes, vec![episode(0, 912.5, 0, "not recorded"), episode(0, -3.25, 0, "not recorded")]);
        assert_eq!(TrainerState { episodes: state.episodes.clone(), ..read }, state, "the rest reads unchanged");
        // Format 2 with whole episodes but before `fell`: a fall is read from its end text.
        let without_fell = text.replace("fell:false,", "").replace("fell:true,", "");
        assert_ne!(without_fell, text);
        assert_eq!(ron::from_str::<TrainerState>(&without_fell).unwrap(), state);
    }
}
