//! The mirror-descent step: moving the Gaussian toward the weighted samples (KL map) or along a gradient (Euclidean map).

use super::gaussian::SequenceGaussian;
use super::weights::CoefficientKind;
use crate::config::MirrorMap;

/// The Euclidean step divides by the sampling variance; this floor keeps it finite when
/// a zero minimum std lets the variance collapse.
pub const EUCLIDEAN_VARIANCE_FLOOR: f64 = 1e-6;

/// Step sizes and geometry of one update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MirrorStep {
    pub map: MirrorMap,
    pub kind: CoefficientKind,
    pub mean_step: f32,
    pub variance_step: f32,
}

/// Performs mirror updates, reusing its f64 accumulators between calls.
#[derive(Clone, Debug, Default)]
pub struct MirrorUpdate {
    mean_delta: Vec<f64>,
    second_moment: Vec<f64>,
    old_mean: Vec<f32>,
}

impl MirrorUpdate {
    /// Updates `dist` from `sequences` ([n][step][dim], all of `dist.len()` floats) and their
    /// `coefficients`, given the variance the samples were drawn with. Returns the RMS change
    /// of the mean.
    ///
    /// With c the coefficients and mu, s2 the current mean and sampling variance:
    /// - target mean m* = mu + sum c (U - mu) (= sum w U when the weights sum to 1);
    /// - target variance v* = sum w (U - m*)^2 for weights, or
    ///   s2 + sum c ((U - mu)^2 - s2) for gradient terms;
    /// - KL: mu <- (1 - g_mu) mu + g_mu m*; Euclidean: mu <- mu + g_mu sum c (U - mu) / s2;
    /// - variance (both maps): var <- (1 - g_s) var + g_s v*, floored at the minimum.
    pub fn apply(
        &mut self,
        dist: &mut SequenceGaussian,
        sampling_variance: &[f32],
        sequences: &[f32],
        coefficients: &[f32],
        step: MirrorStep,
    ) -> f32 {
        let len = dist.len();
        if len == 0 {
            return 0.0;
        }
        debug_assert_eq!(sequences.len(), coefficients.len() * len);
        debug_assert_eq!(sampling_variance.len(), len);
        let min_variance = dist.min_variance();
        let (mean, variance) = dist.parts_mut();
        self.old_mean.clear();
        self.old_mean.extend_from_slice(mean);

        // Pass 1: sum c (U - mu).
        self.mean_delta.clear();
        self.mean_delta.resize(len, 0.0);
        for (u, &c) in sequences.chunks_exact(len).zip(coefficients) {
            if c == 0.0 {
                continue;
            }
            let c = c as f64;
            for ((acc, &x), &m) in self.mean_delta.iter_mut().zip(u).zip(mean.iter()) {
                *acc += c * (x as f64 - m as f64);
            }
        }

        // Pass 2: the variance target, about m* for weights and about mu for gradients.
        self.second_moment.clear();
        self.second_moment.resize(len, 0.0);
        if step.variance_step > 0.0 {
            for (u, &c) in sequences.chunks_exact(len).zip(coefficients) {
                if c == 0.0 {
                    continue;
                }
                let c = c as f64;
                for (((acc, &x), &m), (&d, &s2)) in self
                    .second_moment
                    .iter_mut()
                    .zip(u)
                    .zip(mean.iter())
                    .zip(self.mean_delta.iter().zip(sampling_variance))
                {
                    let dev = x as f64 - m as f64;
                    *acc += match step.kind {
                        CoefficientKind::Weights => c * (dev - d).powi(2),
                        CoefficientKind::Gradient => c * (dev * dev - s2 as f64),
                    };
                }
            }
        }

        let (g_mu, g_s) = (step.mean_step as f64, step.variance_step as f64);
        for e in 0..len {
            let (m, d, s2) = (mean[e] as f64, self.mean_delta[e], sampling_variance[e] as f64);
            let new_mean = match step.map {
                MirrorMap::Kl => m + g_mu * d,
                MirrorMap::Euclidean => m + g_mu * d / s2.max(EUCLIDEAN_VARIANCE_FLOOR),
            };
            mean[e] = (new_mean as f32).clamp(-1.0, 1.0);
            if step.variance_step > 0.0 {
                let target = match step.kind {
                    CoefficientKind::Weights => self.second_moment[e],
                    CoefficientKind::Gradient => s2 + self.second_moment[e],
                };
                let v = (1.0 - g_s) * variance[e] as f64 + g_s * target;
                // A linear step in moment space can overshoot below zero; the floor catches it.
                variance[e] = (v as f32).max(min_variance).max(0.0);
            }
        }

        let sq: f64 = self.old_mean.iter().zip(mean.iter()).map(|(&a, &b)| ((b - a) as f64).powi(2)).sum();
        (sq / len as f64).sqrt() as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_steps_give_weighted_moments() {
        let mut g = SequenceGaussian::new(1, 2, 0.5, 0.0);
        let var = vec![0.25; 2];
        let seqs = [0.2, -0.4, 0.6, 0.0, -0.1, 0.8];
        let w = [0.5, 0.25, 0.25];
        let step =
            MirrorStep { map: MirrorMap::Kl, kind: CoefficientKind::Weights, mean_step: 1.0, variance_step: 1.0 };
        let shift = MirrorUpdate::default().apply(&mut g, &var, &seqs, &w, step);
        let m0 = 0.5 * 0.2 + 0.25 * 0.6 + 0.25 * -0.1;
        let m1 = 0.5 * -0.4 + 0.25 * 0.0 + 0.25 * 0.8;
        assert!((g.mean()[0] - m0).abs() < 1e-6);
        assert!((g.mean()[1] - m1).abs() < 1e-6);
        let v0 = 0.5 * (0.2 - m0).powi(2) + 0.25 * (0.6 - m0).powi(2) + 0.25 * (-0.1 - m0).powi(2);
        assert!((g.variance()[0] - v0).abs() < 1e-6);
        assert!((shift - ((m0 * m0 + m1 * m1) / 2.0).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn euclidean_step_is_unpreconditioned_direction() {
        let mut g = SequenceGaussian::new(1, 1, 0.5, 0.0);
        let var = vec![0.25];
        let step = MirrorStep {
            map: MirrorMap::Euclidean,
            kind: CoefficientKind::Gradient,
            mean_step: 0.1,
            variance_step: 0.0,
        };
        MirrorUpdate::default().apply(&mut g, &var, &[0.5, -0.5], &[0.5, -0.5], step);
        // sum c (U - mu) = 0.5; divided by 0.25, times 0.1.
        assert!((g.mean()[0] - 0.2).abs() < 1e-6);
        assert_eq!(g.variance()[0], 0.25);
    }

    #[test]
    fn gradient_variance_target() {
        let mut g = SequenceGaussian::new(1, 1, 0.5, 0.0);
        let var = vec![0.25];
        let step =
            MirrorStep { map: MirrorMap::Kl, kind: CoefficientKind::Gradient, mean_step: 1.0, variance_step: 1.0 };
        // c = (+0.5, -0.5) on deviations 0.1 and 0.6: v* = 0.25 + 0.5 (0.01 - 0.25) - 0.5 (0.36 - 0.25).
        MirrorUpdate::default().apply(&mut g, &var, &[0.1, 0.6], &[0.5, -0.5], step);
        assert!((g.variance()[0] - (0.25 - 0.12 - 0.055)).abs() < 1e-6);
        assert!((g.mean()[0] - (0.05 - 0.3)).abs() < 1e-6);
    }
}
