//! Scoring rollouts: discounted predicted rewards, masked at termination, plus an optional terminal value.

use super::hooks::TerminalValue;
use super::model::{RolloutBatch, SequenceBatch};
use crate::config::PlannerSettings;

/// How a sequence's particle returns become its score: the per-step discount and κ, the
/// number of standard deviations of the particles' returns taken off their mean
/// (`planner.disagreement_penalty`; 0 scores the mean alone).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRule {
    pub discount: f32,
    pub disagreement_penalty: f32,
}

impl ScoreRule {
    /// The discounted mean return, without a penalty.
    pub fn discounted(discount: f32) -> Self {
        Self { discount, disagreement_penalty: 0.0 }
    }

    /// The rule of the plans that collect training data: the κ the training falls have set
    /// (`adapted`, with `train.fall_caution`), else the settings' κ.
    pub fn for_training(settings: &PlannerSettings, adapted: Option<f32>) -> Self {
        let kappa = adapted.unwrap_or(settings.disagreement_penalty);
        Self { discount: settings.discount, disagreement_penalty: kappa }
    }

    /// The rule of evaluation plans: evaluation's own κ when the settings give one, else the
    /// training plans' κ.
    pub fn for_evaluation(settings: &PlannerSettings, adapted: Option<f32>) -> Self {
        match settings.evaluation_disagreement_penalty {
            Some(kappa) => Self { discount: settings.discount, disagreement_penalty: kappa },
            None => Self::for_training(settings, adapted),
        }
    }
}

/// Turns a RolloutBatch into one score per sequence, reusing its buffers between calls.
#[derive(Clone, Debug, Default)]
pub struct Scorer {
    discounts: Vec<f64>,
    last_actions: Vec<f32>,
    values: Vec<f32>,
    /// One sequence's return per particle, for their spread.
    particle_returns: Vec<f64>,
}

impl Scorer {
    /// R_n = mean over particles of sum_{h < L} γ^h r_h (γ = `rule.discount`), counting only
    /// steps up to and including the terminating one. Without `value`, L = H. With `value`,
    /// L = H - 1 and γ^{H-1} Q(s_{H-1}, a_{H-1}) is added for every particle that had not
    /// terminated before step H - 1. With `rule`'s disagreement penalty κ the score is
    /// R_n − κ·std_p(R_{n,p}), the population standard deviation of the particles' returns.
    /// `batch` supplies a_{H-1}; `out` gets `batch.count` scores.
    pub fn score(
        &mut self,
        batch: &SequenceBatch,
        rollout: &RolloutBatch,
        rule: ScoreRule,
        value: Option<&mut dyn TerminalValue>,
        out: &mut Vec<f32>,
    ) {
        let (count, particles, horizon) = (rollout.count, rollout.particles, rollout.horizon);
        assert!(
            rollout.is_consistent() && count == batch.count && horizon == batch.horizon,
            "model returned a rollout whose shape does not match the sequence batch"
        );
        out.clear();
        out.resize(count, 0.0);
        if particles == 0 {
            out.fill(f32::NAN);
            return;
        }
        self.discounts.clear();
        let mut g = 1.0f64;
        for _ in 0..=horizon {
            self.discounts.push(g);
            g *= rule.discount as f64;
        }

        let has_value = value.is_some() && horizon > 0;
        if let Some(value) = value.filter(|_| horizon > 0) {
            let da = batch.action_dim;
            self.last_actions.clear();
            for n in 0..count {
                let a = batch.action(n, horizon - 1);
                for _ in 0..particles {
                    self.last_actions.extend_from_slice(a);
                }
            }
            self.values.clear();
            self.values.resize(count * particles, 0.0);
            value.values(&rollout.final_obs, rollout.obs_dim, &self.last_actions, da, &mut self.values);
        }
        let summed_steps = if has_value { horizon - 1 } else { horizon };

        let penalty = f64::from(rule.disagreement_penalty);
        let penalised = penalty > 0.0 && particles > 1;
        for (n, score) in out.iter_mut().enumerate() {
            let mut total = 0.0f64;
            self.particle_returns.clear();
            for p in 0..particles {
                // terminated_at is the last step whose reward counts.
                let end = rollout.terminated_at[rollout.lane(n, p)] as usize;
                let steps = summed_steps.min(end.saturating_add(1));
                let rewards = rollout.rewards_of(n, p);
                let summed = rewards[..steps].iter().zip(&self.discounts).map(|(&r, &d)| d * r as f64).sum::<f64>();
                let value = (has_value && end >= horizon - 1)
                    .then(|| self.discounts[horizon - 1] * self.values[rollout.lane(n, p)] as f64);
                // Summed in this order so scores without a penalty stay what they always were.
                total += summed;
                if let Some(value) = value {
                    total += value;
                }
                if penalised {
                    self.particle_returns.push(summed + value.unwrap_or(0.0));
                }
            }
            let mean = total / particles as f64;
            *score = if penalised { mean - penalty * self.spread(mean) } else { mean } as f32;
        }
    }

    /// Population standard deviation of the particle returns around `mean`.
    fn spread(&self, mean: f64) -> f64 {
        let squares: f64 = self.particle_returns.iter().map(|r| (r - mean) * (r - mean)).sum();
        (squares / self.particle_returns.len() as f64).sqrt()
    }
}
