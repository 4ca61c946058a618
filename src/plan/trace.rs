//! What one plan leaves behind for the studio to draw and plot: the last iteration's candidates and per-iteration statistics.

use serde::Serialize;

use super::weights::WeightSummary;

/// Statistics of one sample-score-update iteration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct IterationStats {
    /// Best finite score (NaN if none was finite).
    pub best: f32,
    /// Mean of the finite scores (NaN if none was finite).
    pub mean: f32,
    /// Score at which a sequence counted as elite (see `WeightSummary::elite_threshold`).
    pub elite_threshold: f32,
    /// Effective number of sequences the update used (see `WeightSummary::effective_sample_size`).
    pub effective_sample_size: f32,
    /// RMS change of the mean over all steps and action dims.
    pub mean_shift: f32,
    /// Number of finite scores.
    pub valid: usize,
    /// True when no score was finite, so the distribution was left unchanged.
    pub all_invalid: bool,
    /// Time in the model, the terminal-value hook and scoring.
    pub rollout_ms: f32,
    /// Time in sampling, weighting and the mirror update.
    pub update_ms: f32,
}

/// A compact summary of one plan for time-series plots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct PlanSummary {
    /// Best score of the last iteration.
    pub best_score: f32,
    /// Mean finite score of the last iteration's candidates.
    pub sample_mean_score: f32,
    /// Mean score of the last iteration's elites (NaN if there were none).
    pub elite_mean_score: f32,
    /// Score of the final mean plan.
    pub mean_plan_score: f32,
    /// Effective sample size of the last iteration.
    pub effective_sample_size: f32,
    /// Elites in the last iteration.
    pub elite_count: usize,
    /// Whether any iteration had no finite score at all.
    pub any_all_invalid: bool,
}

/// Everything one plan computed, ready to draw: candidates of the last iteration, their
/// predicted points, scores, weights, the final mean plan, and per-iteration statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PlanTrace {
    pub horizon: usize,
    pub action_dim: usize,
    pub point_count: usize,
    /// Particles the model used per sequence.
    pub particles: usize,
    /// Sequences sampled from the distribution (N); they come first.
    pub sample_count: usize,
    /// Policy-prior sequences (M); they come after the samples.
    pub prior_count: usize,
    /// Last iteration's sequences, [N + M][step][dim].
    pub sequences: Vec<f32>,
    /// Whether each sequence came from the policy prior.
    pub is_prior: Vec<bool>,
    /// Predicted points of particle 0, [N + M][step 0..=H][point].
    pub points: Vec<[f32; 3]>,
    /// Score of each sequence.
    pub scores: Vec<f32>,
    /// Update coefficient of each sequence: normalised weights for CEM and MPPI,
    /// signed gradient coefficients c_n for the expected cost.
    pub weights: Vec<f32>,
    /// Elite flags: top K for CEM, weight >= 1/(N+M) for MPPI, positive advantage for the expected cost.
    pub elite: Vec<bool>,
    /// Final mean plan, [step][dim].
    pub mean_actions: Vec<f32>,
    /// Final standard deviation, [step][dim].
    pub std: Vec<f32>,
    /// Predicted points of the mean plan, [step 0..=H][point].
    pub mean_points: Vec<[f32; 3]>,
    /// Predicted score of the mean plan.
    pub mean_score: f32,
    /// Index of the sequence whose first action was executed, if a sequence was drawn by weight.
    pub chosen: Option<usize>,
    pub iterations: Vec<IterationStats>,
    pub summary: PlanSummary,
    /// Wall-clock time of the whole plan.
    pub total_ms: f32,
}

impl PlanTrace {
    /// Total number of sequences in the last iteration (N + M).
    pub fn sequence_count(&self) -> usize {
        self.sample_count + self.prior_count
    }

    /// Actions of sequence `n`, [step][dim].
    pub fn sequence(&self, n: usize) -> &[f32] {
        let len = self.horizon * self.action_dim;
        &self.sequences[n * len..(n + 1) * len]
    }

    /// Points of sequence `n`, [step 0..=H][point].
    pub fn points_of(&self, n: usize) -> &[[f32; 3]] {
        let len = (self.horizon + 1) * self.point_count;
        &self.points[n * len..(n + 1) * len]
    }
}

/// Result of one plan: the action to execute and everything needed to draw how it was found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PlanOutput {
    pub action: Vec<f32>,
    pub trace: PlanTrace,
}

impl IterationStats {
    /// One iteration's statistics from its weight summary, mean shift and timings.
    pub fn from_weights(last: &WeightSummary, mean_shift: f32, rollout_ms: f32, update_ms: f32) -> Self {
        IterationStats {
            best: last.best,
            mean: last.mean,
            elite_threshold: last.elite_threshold,
            effective_sample_size: last.effective_sample_size,
            mean_shift,
            valid: last.valid,
            all_invalid: last.all_invalid(),
            rollout_ms,
            update_ms,
        }
    }
}
