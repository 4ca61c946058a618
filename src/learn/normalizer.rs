//! Per-dimension standardisation statistics (mean and std with a floor), fitted on flat data.

use serde::{Deserialize, Serialize};

/// `x ↦ (x - mean) / std` per dimension, and back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalizer {
    /// The identity map on `dim` dimensions (mean 0, std 1).
    pub fn identity(dim: usize) -> Self {
        Self { mean: vec![0.0; dim], std: vec![1.0; dim] }
    }

    /// Statistics of `data` (row-major, `dim` columns); each std is at least `std_floor`.
    /// Accumulates in f64 so large buffers do not lose precision. Empty data gives the identity.
    pub fn fit(data: &[f32], dim: usize, std_floor: f32) -> Self {
        assert!(dim > 0 && data.len().is_multiple_of(dim), "data length {} is not a multiple of {dim}", data.len());
        let n = data.len() / dim;
        if n == 0 {
            return Self::identity(dim);
        }
        let mut mean = vec![0.0f64; dim];
        for row in data.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0f64; dim];
        for row in data.chunks_exact(dim) {
            for ((v, &x), m) in var.iter_mut().zip(row).zip(&mean) {
                *v += (x as f64 - m).powi(2);
            }
        }
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: var.iter().map(|&v| ((v / n as f64).sqrt() as f32).max(std_floor)).collect(),
        }
    }

    /// Number of dimensions.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Per-dimension means.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// Per-dimension standard deviations (already floored).
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// Standardises rows of `data` in place. Always inlined so the planner's rollout can run it
    /// compiled for wide SIMD (`learn::simd`).
    #[inline(always)]
    pub fn normalize_in_place(&self, data: &mut [f32]) {
        for row in data.chunks_exact_mut(self.dim()) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
    }

    /// Standardised copy of `data`.
    pub fn normalize(&self, data: &[f32]) -> Vec<f32> {
        let mut out = data.to_vec();
        self.normalize_in_place(&mut out);
        out
    }

    /// Maps standardised rows back to data units in place (always inlined, as `normalize_in_place`).
    #[inline(always)]
    pub fn denormalize_in_place(&self, data: &mut [f32]) {
        for row in data.chunks_exact_mut(self.dim()) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = *x * s + m;
            }
        }
    }

    /// Maps standardised variances back to data units in place (`var · std²`).
    pub fn denormalize_variance_in_place(&self, var: &mut [f32]) {
        for row in var.chunks_exact_mut(self.dim()) {
            for (v, s) in row.iter_mut().zip(&self.std) {
                *v *= s * s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_standardises_and_round_trips() {
        // Column 0: 1, 3 (mean 2, std 1); column 1 constant 5 (std floored).
        let data = [1.0, 5.0, 3.0, 5.0];
        let n = Normalizer::fit(&data, 2, 0.01);
        assert_eq!(n.mean(), &[2.0, 5.0]);
        assert_eq!(n.std(), &[1.0, 0.01]);
        let z = n.normalize(&data);
        assert_eq!(z, vec![-1.0, 0.0, 1.0, 0.0]);
        let mut back = z.clone();
        n.denormalize_in_place(&mut back);
        assert_eq!(back, data.to_vec());
        let mut var = vec![4.0, 1.0];
        n.denormalize_variance_in_place(&mut var);
        assert!((var[0] - 4.0).abs() < 1e-6 && (var[1] - 1e-4).abs() < 1e-9);
        assert_eq!(Normalizer::fit(&[], 3, 0.1), Normalizer::identity(3));
    }
}
