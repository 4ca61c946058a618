//! The planner's sampling distribution: a per-step Gaussian over action sequences with diagonal variance.

use crate::config::{LastBlock, ShiftRule, VarianceShift};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Samples are drawn from a normal truncated to this many standard deviations.
pub const TRUNCATION: f32 = 2.0;

/// Mean and diagonal variance over `horizon x action_dim` actions, row-major [step][dim].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SequenceGaussian {
    horizon: usize,
    action_dim: usize,
    mean: Vec<f32>,
    variance: Vec<f32>,
    initial_variance: f32,
    min_variance: f32,
}

impl SequenceGaussian {
    /// A distribution at its episode-start state (mean 0, initial variance).
    pub fn new(horizon: usize, action_dim: usize, initial_std: f32, min_std: f32) -> Self {
        let len = horizon * action_dim;
        let initial_variance = initial_std * initial_std;
        Self {
            horizon,
            action_dim,
            mean: vec![0.0; len],
            variance: vec![initial_variance; len],
            initial_variance,
            min_variance: min_std * min_std,
        }
    }

    pub fn horizon(&self) -> usize {
        self.horizon
    }

    pub fn action_dim(&self) -> usize {
        self.action_dim
    }

    /// Number of scalar actions in one sequence.
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// Mean, [step][dim].
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// Variance, [step][dim] (before the per-sample clipping to the action bounds).
    pub fn variance(&self) -> &[f32] {
        &self.variance
    }

    pub fn initial_variance(&self) -> f32 {
        self.initial_variance
    }

    pub fn min_variance(&self) -> f32 {
        self.min_variance
    }

    /// Mean and variance together, for the update step.
    pub fn parts_mut(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.mean, &mut self.variance)
    }

    /// Overwrites the mean (clipped to [-1, 1]); `mean` must have `len()` values.
    pub fn set_mean(&mut self, mean: &[f32]) {
        assert_eq!(mean.len(), self.mean.len(), "mean has the wrong length");
        for (m, &v) in self.mean.iter_mut().zip(mean) {
            *m = v.clamp(-1.0, 1.0);
        }
    }

    /// Overwrites the variance (floored at the minimum); `variance` must have `len()` values.
    pub fn set_variance(&mut self, variance: &[f32]) {
        assert_eq!(variance.len(), self.variance.len(), "variance has the wrong length");
        for (s, &v) in self.variance.iter_mut().zip(variance) {
            *s = v.max(self.min_variance);
        }
    }

    /// From a correction to absolute actions: adds the nominal schedule `nominal` ([step][dim],
    /// `len()` values) to the mean and clips the sum to [-1, 1].
    pub fn add_nominal(&mut self, nominal: &[f32]) {
        assert_eq!(nominal.len(), self.mean.len(), "nominal window has the wrong length");
        for (m, &g) in self.mean.iter_mut().zip(nominal) {
            *m = (*m + g).clamp(-1.0, 1.0);
        }
    }

    /// The inverse of [`SequenceGaussian::add_nominal`] (no clipping: a correction may reach 2).
    pub fn remove_nominal(&mut self, nominal: &[f32]) {
        assert_eq!(nominal.len(), self.mean.len(), "nominal window has the wrong length");
        for (m, &g) in self.mean.iter_mut().zip(nominal) {
            *m -= g;
        }
    }

    /// Episode start: mean 0, initial variance everywhere.
    pub fn reset(&mut self) {
        self.mean.fill(0.0);
        self.variance.fill(self.initial_variance);
    }

    /// New initial and minimum standard deviations (settings changed); the current
    /// variance is kept but floored at the new minimum.
    pub fn set_std_bounds(&mut self, initial_std: f32, min_std: f32) {
        self.initial_variance = initial_std * initial_std;
        self.min_variance = min_std * min_std;
        for v in &mut self.variance {
            *v = v.max(self.min_variance);
        }
    }

    /// Changes the shape, keeping the overlapping steps and dims and filling the rest
    /// with episode-start values.
    pub fn resize(&mut self, horizon: usize, action_dim: usize) {
        if horizon == self.horizon && action_dim == self.action_dim {
            return;
        }
        let mut mean = vec![0.0; horizon * action_dim];
        let mut variance = vec![self.initial_variance; horizon * action_dim];
        for h in 0..horizon.min(self.horizon) {
            for d in 0..action_dim.min(self.action_dim) {
                mean[h * action_dim + d] = self.mean[h * self.action_dim + d];
                variance[h * action_dim + d] = self.variance[h * self.action_dim + d];
            }
        }
        self.horizon = horizon;
        self.action_dim = action_dim;
        self.mean = mean;
        self.variance = variance;
    }

    /// Moves the plan forward by one control step (step h takes the values of step h + 1).
    pub fn shift(&mut self, rule: &ShiftRule) {
        let da = self.action_dim;
        if self.horizon == 0 || da == 0 {
            return;
        }
        let last = (self.horizon - 1) * da;
        self.mean.copy_within(da.., 0);
        if rule.last_block == LastBlock::Reset {
            self.mean[last..].fill(0.0);
        }
        // With `Copy` the old last block stays in place, i.e. it is repeated.
        match rule.variance {
            VarianceShift::Reset => self.variance.fill(self.initial_variance),
            VarianceShift::ShiftInflate { factor } => {
                self.variance.copy_within(da.., 0);
                for v in &mut self.variance[last..] {
                    *v = (*v * factor).min(self.initial_variance).max(self.min_variance);
                }
            }
        }
    }

    /// The variance actually sampled with: clipped so that mean +- 2 sigma stays inside
    /// [-1, 1] (as PETS's CEM does), but never below the minimum variance.
    pub fn sampling_variance(&self, out: &mut Vec<f32>) {
        out.clear();
        out.extend(self.mean.iter().zip(&self.variance).map(|(&m, &v)| {
            let room = (1.0 - m.abs()) / TRUNCATION;
            v.min(room * room).max(self.min_variance)
        }));
    }

    /// Fills `out` (a whole number of sequences) with samples clip(mean + sigma * z, -1, 1).
    /// Each action dimension's z is an AR(1) process in time, y_t = c y_(t-1) + sqrt(1 - c^2) w_t
    /// with w standard normal truncated to [-2, 2] by rejection, and z_t = y_t clamped to that range;
    /// c = `correlation` = 0 gives independent truncated normals. The random stream does not
    /// depend on c, so changing it alone never shifts other draws.
    pub fn sample_into<R: Rng + ?Sized>(
        &self,
        sampling_variance: &[f32],
        correlation: f32,
        noise_state: &mut Vec<f32>,
        rng: &mut R,
        out: &mut [f32],
    ) {
        let len = self.mean.len();
        if len == 0 {
            return;
        }
        debug_assert_eq!(out.len() % len, 0);
        debug_assert_eq!(sampling_variance.len(), len);
        let innovation = (1.0 - correlation * correlation).max(0.0).sqrt();
        // Caller-owned scratch, so steady-state planning does not allocate.
        noise_state.resize(self.action_dim, 0.0);
        let previous = noise_state;
        for sequence in out.chunks_exact_mut(len) {
            for (t, step) in sequence.chunks_exact_mut(self.action_dim).enumerate() {
                let offset = t * self.action_dim;
                for (d, u) in step.iter_mut().enumerate() {
                    let w = truncated_normal(rng);
                    // The process runs unclamped (its variance then stays that of w at every
                    // step); only the value used is clamped, so clamps never compound.
                    let y = if t == 0 { w } else { correlation * previous[d] + innovation * w };
                    previous[d] = y;
                    let z = y.clamp(-TRUNCATION, TRUNCATION);
                    let i = offset + d;
                    *u = (self.mean[i] + sampling_variance[i].sqrt() * z).clamp(-1.0, 1.0);
                }
            }
        }
    }
}

/// A standard normal draw conditioned on |z| <= 2; rejection keeps it exact and deterministic
/// given the rng (about 4.6% of draws are repeated).
pub fn truncated_normal<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    loop {
        let z: f32 = StandardNormal.sample(rng);
        if z.abs() <= TRUNCATION {
            return z;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn numbered(h: usize, da: usize) -> SequenceGaussian {
        let mut g = SequenceGaussian::new(h, da, 0.5, 0.1);
        let mean: Vec<f32> = (0..h * da).map(|i| i as f32 * 0.1).collect();
        let var: Vec<f32> = (0..h * da).map(|i| 0.01 * (i + 2) as f32).collect();
        g.set_mean(&mean);
        g.set_variance(&var);
        g
    }

    #[test]
    fn resize_keeps_overlap() {
        let mut g = numbered(3, 2);
        g.resize(4, 1);
        assert_eq!(g.mean(), &[0.0, 0.2, 0.4, 0.0]);
        assert_eq!(g.variance(), &[0.02, 0.04, 0.06, 0.25]);
        g.resize(2, 2);
        assert_eq!(g.mean(), &[0.0, 0.0, 0.2, 0.0]);
        assert_eq!(g.variance(), &[0.02, 0.25, 0.04, 0.25]);
    }

    #[test]
    fn samples_stay_in_bounds_and_within_two_sigma() {
        let mut g = SequenceGaussian::new(4, 2, 0.5, 0.0);
        g.set_mean(&[0.9, -0.95, 0.0, 0.5, -0.2, 1.0, 0.3, -1.0]);
        let mut var = Vec::new();
        g.sampling_variance(&mut var);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = vec![0.0; 8 * 500];
        g.sample_into(&var, 0.0, &mut Vec::new(), &mut rng, &mut out);
        for s in out.chunks_exact(8) {
            for ((&u, &m), &v) in s.iter().zip(g.mean()).zip(&var) {
                assert!((-1.0..=1.0).contains(&u));
                assert!((u - m).abs() <= 2.0 * v.sqrt() + 1e-6);
            }
        }
    }

    #[test]
    fn sampling_variance_respects_floor() {
        let mut g = SequenceGaussian::new(1, 1, 0.5, 0.2);
        g.set_mean(&[1.0]);
        let mut var = Vec::new();
        g.sampling_variance(&mut var);
        assert!((var[0] - 0.04).abs() < 1e-7);
    }

    /// Correlated noise: with c = 0 the draws are exactly the independent truncated normals of
    /// the stream; with c > 0 the lag-1 correlation in time is c and the spread per step stays
    /// within a few percent of the truncated normal's (the AR(1) process is stationary up to
    /// the clamp).
    #[test]
    fn correlated_noise_has_requested_lag_one_correlation() {
        let (h, da) = (6, 2);
        let g = SequenceGaussian::new(h, da, 0.1, 0.0);
        let var = vec![0.01f32; h * da];
        let n = 20_000;
        let mut white = vec![0.0; h * da * n];
        g.sample_into(&var, 0.0, &mut Vec::new(), &mut ChaCha8Rng::seed_from_u64(5), &mut white);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let independent: Vec<f32> = (0..h * da * n).map(|_| 0.1 * truncated_normal(&mut rng)).collect();
        assert_eq!(white, independent);

        let c = 0.8f32;
        let mut smooth = vec![0.0; h * da * n];
        g.sample_into(&var, c, &mut Vec::new(), &mut ChaCha8Rng::seed_from_u64(5), &mut smooth);
        let z = |x: &[f32], s: usize, t: usize, d: usize| x[s * h * da + t * da + d] as f64 / 0.1;
        // Variance of a standard normal truncated to [-2, 2].
        let truncated_variance = 0.7737;
        for t in 0..h {
            let var_t = (0..n).map(|s| z(&smooth, s, t, 1).powi(2)).sum::<f64>() / n as f64;
            // Clamping z to [-2, 2] trims the (less truncated) AR sum by a few percent.
            assert!((var_t / truncated_variance - 1.0).abs() < 0.06, "step {t}: variance {var_t}");
        }
        for (x, expected) in [(&white, 0.0), (&smooth, c as f64)] {
            let cov = (0..n).map(|s| z(x, s, 2, 0) * z(x, s, 3, 0)).sum::<f64>() / n as f64;
            let corr = cov / truncated_variance;
            assert!((corr - expected).abs() < 0.03, "lag-1 correlation {corr}, expected {expected}");
        }
    }
}
