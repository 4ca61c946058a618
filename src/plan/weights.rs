//! The losses: turning sequence scores into update coefficients (CEM elites, MPPI weights, expected-cost gradient).

use crate::config::Loss;
use serde::Serialize;

/// What a weighting pass found, for the statistics and the trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WeightSummary {
    /// Number of scores that were finite (the others get coefficient 0).
    pub valid: usize,
    /// Best finite score (NaN if there is none).
    pub best: f32,
    /// Mean of the finite scores (NaN if there is none).
    pub mean: f32,
    /// Score at which a sequence counts as elite: the K-th best for CEM, the score whose
    /// weight is 1/(N+M) for MPPI, the mean score for the expected cost.
    pub elite_threshold: f32,
    /// 1 / sum w^2 for CEM and MPPI; for the expected cost, the same formula applied to the
    /// normalised magnitudes |c| / sum |c| (or the number of valid scores if all c are 0).
    /// In [1, valid] whenever `valid > 0`, and 0 otherwise.
    pub effective_sample_size: f32,
    /// Number of sequences flagged elite.
    pub elite_count: usize,
}

impl WeightSummary {
    /// True when no score was finite, so no update is possible.
    pub fn all_invalid(&self) -> bool {
        self.valid == 0
    }
}

/// Whether the coefficients are normalised weights (a target distribution) or gradient terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoefficientKind {
    /// Non-negative and summing to 1 (CEM, MPPI).
    Weights,
    /// Signed score-function terms (expected cost).
    Gradient,
}

impl CoefficientKind {
    pub fn of(loss: &Loss) -> Self {
        match loss {
            Loss::Cem { .. } | Loss::Mppi { .. } | Loss::MppiRelative { .. } => Self::Weights,
            Loss::ExpectedCost => Self::Gradient,
        }
    }
}

/// Computes coefficients from scores, reusing its sort buffer between calls.
#[derive(Clone, Debug, Default)]
pub struct Weighting {
    order: Vec<usize>,
}

impl Weighting {
    /// Fills `coefficients` and `elite` (resized to `scores.len()`). Non-finite scores
    /// (NaN from a diverged model, or +-inf) are treated as the worst possible: they get
    /// coefficient 0, are never elite, and do not enter any statistic.
    ///
    /// Expected cost: c_n = A_n / V with A_n = (R_n - mean R) / std R over the V finite
    /// scores (all 0 when std R = 0), the score-function gradient of E[R] w.r.t. the mean
    /// direction, normalised by the spread of R.
    pub fn compute(
        &mut self,
        loss: &Loss,
        scores: &[f32],
        coefficients: &mut Vec<f32>,
        elite: &mut Vec<bool>,
    ) -> WeightSummary {
        let total = scores.len();
        coefficients.clear();
        coefficients.resize(total, 0.0);
        elite.clear();
        elite.resize(total, false);

        let (valid, best, sum) = scores
            .iter()
            .filter(|s| s.is_finite())
            .fold((0usize, f32::NEG_INFINITY, 0.0f64), |(n, b, s), &x| (n + 1, b.max(x), s + x as f64));
        if valid == 0 {
            return WeightSummary {
                valid: 0,
                best: f32::NAN,
                mean: f32::NAN,
                elite_threshold: f32::NAN,
                effective_sample_size: 0.0,
                elite_count: 0,
            };
        }
        let mean = sum / valid as f64;
        let mut summary = WeightSummary { valid, best, mean: mean as f32, ..WeightSummary::default() };
        match *loss {
            Loss::Cem { elite_fraction } => {
                // The slack keeps f32 rounding of rho (0.4f32 is 0.40000000596) from adding an elite.
                let k = ((elite_fraction as f64 * total as f64 * (1.0 - 1e-6)).ceil() as usize).clamp(1, valid);
                // Best first; equal scores by index, so ties are broken deterministically.
                self.order.clear();
                self.order.extend((0..total).filter(|&i| scores[i].is_finite()));
                let by_score = |&a: &usize, &b: &usize| scores[b].total_cmp(&scores[a]).then(a.cmp(&b));
                if k < self.order.len() {
                    self.order.select_nth_unstable_by(k - 1, by_score);
                }
                let w = 1.0 / k as f32;
                for &i in &self.order[..k] {
                    coefficients[i] = w;
                    elite[i] = true;
                }
                summary.elite_threshold = self.order[..k].iter().map(|&i| scores[i]).fold(f32::INFINITY, f32::min);
                summary.effective_sample_size = k as f32;
                summary.elite_count = k;
            }
            Loss::Mppi { temperature } => {
                exponential_weights(temperature as f64, scores, coefficients, elite, &mut summary);
            }
            Loss::MppiRelative { temperature } => {
                // A zero spread makes every weight equal whatever the temperature.
                let spread = score_std(scores, mean, valid);
                let lambda = if spread > 0.0 && spread.is_finite() { temperature as f64 * spread } else { 1.0 };
                exponential_weights(lambda, scores, coefficients, elite, &mut summary);
            }
            Loss::ExpectedCost => {
                let std = score_std(scores, mean, valid);
                summary.elite_threshold = mean as f32;
                let mut elites = 0;
                let (mut sum_abs, mut sum_sq) = (0.0f64, 0.0f64);
                if std > 0.0 && std.is_finite() {
                    for ((c, e), &s) in coefficients.iter_mut().zip(elite.iter_mut()).zip(scores) {
                        if s.is_finite() {
                            let advantage = (s as f64 - mean) / std;
                            let value = advantage / valid as f64;
                            *c = value as f32;
                            sum_abs += value.abs();
                            sum_sq += value * value;
                            if advantage > 0.0 {
                                *e = true;
                                elites += 1;
                            }
                        }
                    }
                }
                summary.effective_sample_size =
                    if sum_sq > 0.0 { clamp_ess(sum_abs * sum_abs / sum_sq, valid) } else { valid as f32 };
                summary.elite_count = elites;
            }
        }
        summary
    }
}

/// Standard deviation of the finite scores around their `mean`.
fn score_std(scores: &[f32], mean: f64, valid: usize) -> f64 {
    let var = scores.iter().filter(|s| s.is_finite()).map(|&s| (s as f64 - mean).powi(2)).sum::<f64>() / valid as f64;
    var.sqrt()
}

/// MPPI's weights exp((score − best) / lambda), normalised; non-finite scores get 0. Sequences
/// with at least the uniform weight 1/N are flagged elite.
fn exponential_weights(
    lambda: f64,
    scores: &[f32],
    coefficients: &mut [f32],
    elite: &mut [bool],
    summary: &mut WeightSummary,
) {
    let (total, best) = (scores.len(), summary.best as f64);
    let mut z = 0.0f64;
    for (c, &s) in coefficients.iter_mut().zip(scores) {
        if s.is_finite() {
            let w = ((s as f64 - best) / lambda).exp();
            *c = w as f32;
            z += w;
        }
    }
    // z >= 1 because the best score contributes exp(0).
    let mut sum_sq = 0.0f64;
    let uniform = 1.0 / total as f32;
    let mut elites = 0;
    for (c, e) in coefficients.iter_mut().zip(elite.iter_mut()) {
        *c = (*c as f64 / z) as f32;
        sum_sq += (*c as f64) * (*c as f64);
        if *c >= uniform {
            *e = true;
            elites += 1;
        }
    }
    summary.elite_threshold = (best + lambda * (z / total as f64).ln()) as f32;
    summary.effective_sample_size = clamp_ess(1.0 / sum_sq, summary.valid);
    summary.elite_count = elites;
}

/// Rounding can push 1 / sum w^2 a hair outside its mathematical range [1, n].
fn clamp_ess(ess: f64, valid: usize) -> f32 {
    (ess as f32).clamp(1.0, valid as f32)
}

/// Index drawn with probability proportional to the (non-negative) weights, from one
/// uniform number `u` in [0, 1). None if no weight is positive.
pub fn draw_by_weight(weights: &[f32], u: f64) -> Option<usize> {
    let total: f64 = weights.iter().map(|&w| w.max(0.0) as f64).sum();
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let target = u * total;
    let mut acc = 0.0f64;
    let mut last_positive = None;
    for (i, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            acc += w as f64;
            last_positive = Some(i);
            if target < acc {
                return Some(i);
            }
        }
    }
    // Only reachable through rounding in the running sum.
    last_positive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cem_ties_break_by_index() {
        let mut w = Weighting::default();
        let (mut c, mut e) = (Vec::new(), Vec::new());
        let scores = [1.0, 3.0, 3.0, 3.0, 0.0];
        let s = w.compute(&Loss::Cem { elite_fraction: 0.4 }, &scores, &mut c, &mut e);
        assert_eq!(e, [false, true, true, false, false]);
        assert_eq!(c, [0.0, 0.5, 0.5, 0.0, 0.0]);
        assert_eq!(s.elite_threshold, 3.0);
        assert_eq!(s.effective_sample_size, 2.0);
    }

    #[test]
    fn nan_scores_get_no_weight() {
        let mut w = Weighting::default();
        let (mut c, mut e) = (Vec::new(), Vec::new());
        let scores = [f32::NAN, 1.0, f32::INFINITY, 0.5];
        let losses = [
            Loss::Cem { elite_fraction: 1.0 },
            Loss::Mppi { temperature: 1.0 },
            Loss::MppiRelative { temperature: 0.5 },
            Loss::ExpectedCost,
        ];
        for loss in losses {
            let s = w.compute(&loss, &scores, &mut c, &mut e);
            assert_eq!(s.valid, 2);
            assert_eq!(c[0], 0.0);
            assert_eq!(c[2], 0.0);
            assert!(!e[0] && !e[2]);
            assert!(c.iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn all_nan_reports_invalid() {
        let mut w = Weighting::default();
        let (mut c, mut e) = (Vec::new(), Vec::new());
        let s = w.compute(&Loss::Mppi { temperature: 1.0 }, &[f32::NAN; 3], &mut c, &mut e);
        assert!(s.all_invalid());
        assert_eq!(c, [0.0; 3]);
    }

    #[test]
    fn expected_cost_coefficients_are_standardised() {
        let mut w = Weighting::default();
        let (mut c, mut e) = (Vec::new(), Vec::new());
        let s = w.compute(&Loss::ExpectedCost, &[1.0, 3.0], &mut c, &mut e);
        assert_eq!(c, [-0.5, 0.5]);
        assert_eq!(e, [false, true]);
        assert_eq!(s.effective_sample_size, 2.0);
        let s = w.compute(&Loss::ExpectedCost, &[2.0, 2.0], &mut c, &mut e);
        assert_eq!(c, [0.0, 0.0]);
        assert_eq!(s.effective_sample_size, 2.0);
    }

    #[test]
    fn relative_mppi_scales_the_temperature_by_the_score_spread() {
        let mut w = Weighting::default();
        let (mut c, mut e) = (Vec::new(), Vec::new());
        // Scores 0 and 1: std 0.5, so temperature 0.5 means λ = 0.25 and w1 / w0 = e⁴.
        w.compute(&Loss::MppiRelative { temperature: 0.5 }, &[0.0, 1.0], &mut c, &mut e);
        let expected = 1.0 / (1.0 + (-4.0f64).exp());
        assert!((c[1] as f64 - expected).abs() < 1e-6, "{c:?}");
        // Plain MPPI with that λ gives the same weights.
        let (mut plain, mut pe) = (Vec::new(), Vec::new());
        w.compute(&Loss::Mppi { temperature: 0.25 }, &[0.0, 1.0], &mut plain, &mut pe);
        assert_eq!(c, plain);
        // Invariant under an affine change of the reward scale (plain MPPI is not).
        let scores = [3.0f32, -1.0, 0.5, 2.0, 2.5];
        let scaled: Vec<f32> = scores.iter().map(|s| 40.0 * s + 7.0).collect();
        let a = w.compute(&Loss::MppiRelative { temperature: 0.7 }, &scores, &mut c, &mut e);
        let (mut c2, mut e2) = (Vec::new(), Vec::new());
        let b = w.compute(&Loss::MppiRelative { temperature: 0.7 }, &scaled, &mut c2, &mut e2);
        for (x, y) in c.iter().zip(&c2) {
            assert!((x - y).abs() < 1e-6, "{c:?} vs {c2:?}");
        }
        assert_eq!(e, e2);
        assert!((a.effective_sample_size - b.effective_sample_size).abs() < 1e-4);
        let p = w.compute(&Loss::Mppi { temperature: 0.7 }, &scores, &mut plain, &mut pe);
        let q = w.compute(&Loss::Mppi { temperature: 0.7 }, &scaled, &mut plain, &mut pe);
        assert!(q.effective_sample_size < p.effective_sample_size - 0.5);
        // Equal scores: uniform weights.
        w.compute(&Loss::MppiRelative { temperature: 0.5 }, &[2.0; 4], &mut c, &mut e);
        assert_eq!(c, [0.25; 4]);
    }

    #[test]
    fn draw_by_weight_follows_cumulative_weights() {
        let w = [0.0, 0.25, 0.0, 0.75];
        assert_eq!(draw_by_weight(&w, 0.0), Some(1));
        assert_eq!(draw_by_weight(&w, 0.2499), Some(1));
        assert_eq!(draw_by_weight(&w, 0.25), Some(3));
        assert_eq!(draw_by_weight(&w, 0.9999), Some(3));
        assert_eq!(draw_by_weight(&[0.0, 0.0], 0.5), None);
    }
}
