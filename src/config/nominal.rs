//! A periodic nominal action schedule (a gait) that the planner plans around.
//!
//! Legged MPC rarely finds a gait from white-noise samples within a short horizon: standing
//! still is a strong local optimum. Planners for legged robots therefore plan around a gait
//! schedule. Here the schedule is an open-loop sinusoid per action dimension; the planner's
//! Gaussian then holds a correction to it (see [`super::Planner`]).

use serde::{Deserialize, Serialize};

use super::error::SettingsError;

/// Longest period accepted, in control steps.
pub const MAX_PERIOD_STEPS: f32 = 100_000.0;

/// The nominal action of dimension j at control step t is
/// `offset[j] + amplitude[j] * sin(2π (t / period_steps + phase[j]))`, clipped to [-1, 1].
/// Missing entries (shorter vectors than the action) count as 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodicNominal {
    /// Length of one cycle in control steps (need not be whole).
    pub period_steps: f32,
    /// Per action dimension: the amplitude of the oscillation, in action units.
    pub amplitude: Vec<f32>,
    /// Per action dimension: where the cycle starts, in cycles (0.5 = half a period later).
    #[serde(default)]
    pub phase: Vec<f32>,
    /// Per action dimension: the centre of the oscillation, in action units.
    #[serde(default)]
    pub offset: Vec<f32>,
}

impl PeriodicNominal {
    /// The nominal action of dimension `dim` at control step `step` of the episode.
    pub fn value(&self, step: u64, dim: usize) -> f32 {
        let at = |v: &[f32]| v.get(dim).copied().unwrap_or(0.0);
        let cycles = step as f64 / self.period_steps as f64 + at(&self.phase) as f64;
        let angle = std::f64::consts::TAU * cycles.rem_euclid(1.0);
        (at(&self.offset) + at(&self.amplitude) * angle.sin() as f32).clamp(-1.0, 1.0)
    }

    /// Writes the nominal actions of steps `start .. start + horizon`, [step][dim], into `out`.
    pub fn window_into(&self, start: u64, horizon: usize, action_dim: usize, out: &mut Vec<f32>) {
        out.clear();
        for h in 0..horizon as u64 {
            out.extend((0..action_dim).map(|d| self.value(start + h, d)));
        }
    }

    /// The largest number of action dimensions any of the vectors describes.
    pub fn dims(&self) -> usize {
        self.amplitude.len().max(self.phase.len()).max(self.offset.len())
    }

    /// Problems with the values themselves (the action dimension is checked against a robot
    /// by [`PeriodicNominal::fits`]).
    pub fn errors(&self, errors: &mut Vec<SettingsError>) {
        let bad = |field: &'static str, value: String, range: &str| SettingsError::OutOfRange {
            field,
            value,
            range: range.to_string(),
        };
        if !(self.period_steps >= 1.0 && self.period_steps <= MAX_PERIOD_STEPS) {
            errors.push(bad(
                "planner.nominal.period_steps",
                self.period_steps.to_string(),
                &format!("in [1, {MAX_PERIOD_STEPS}] control steps"),
            ));
        }
        let fields: [(&'static str, &[f32], f32); 3] = [
            ("planner.nominal.amplitude", &self.amplitude, 2.0),
            ("planner.nominal.phase", &self.phase, 1.0e6),
            ("planner.nominal.offset", &self.offset, 1.0),
        ];
        for (field, values, limit) in fields {
            if let Some((j, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite() || v.abs() > limit) {
                errors.push(bad(field, format!("{v} (entry {j})"), &format!("finite with magnitude at most {limit}")));
            }
        }
    }

    /// Whether the schedule describes at most `action_dim` dimensions.
    pub fn fits(&self, action_dim: usize) -> Result<(), SettingsError> {
        if self.dims() > action_dim {
            return Err(SettingsError::OutOfRange {
                field: "planner.nominal",
                value: format!("{} entries", self.dims()),
                range: format!("at most the robot's {action_dim} actions"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trot() -> PeriodicNominal {
        PeriodicNominal {
            period_steps: 8.0,
            amplitude: vec![0.5, 0.0, 0.5],
            phase: vec![0.0, 0.0, 0.5],
            offset: vec![0.1],
        }
    }

    #[test]
    fn value_is_the_sinusoid_with_offset_and_phase() {
        let g = trot();
        // Step 2 of 8 is a quarter cycle: sin = 1; the half-cycle phase gives sin = -1.
        assert!((g.value(2, 0) - 0.6).abs() < 1e-6);
        assert!((g.value(2, 2) + 0.5).abs() < 1e-6);
        // Missing amplitude / offset count as 0.
        assert_eq!(g.value(2, 1), 0.0);
        assert_eq!(g.value(2, 7), 0.0);
        // Periodic, also far into an episode.
        assert!((g.value(1_000_002, 0) - g.value(2, 0)).abs() < 1e-6);
    }

    #[test]
    fn values_are_clipped_to_the_action_bounds() {
        let g = PeriodicNominal { period_steps: 4.0, amplitude: vec![1.5], phase: vec![], offset: vec![0.5] };
        assert_eq!(g.value(1, 0), 1.0);
        assert_eq!(g.value(3, 0), -1.0);
    }

    #[test]
    fn window_is_row_major_from_the_start_step() {
        let g = trot();
        let mut w = Vec::new();
        g.window_into(3, 2, 2, &mut w);
        assert_eq!(w, vec![g.value(3, 0), g.value(3, 1), g.value(4, 0), g.value(4, 1)]);
    }

    #[test]
    fn bad_values_are_named() {
        let mut g = trot();
        g.period_steps = 0.5;
        g.amplitude[1] = f32::NAN;
        let mut e = Vec::new();
        g.errors(&mut e);
        let text: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert!(text[0].contains("planner.nominal.period_steps"), "{text:?}");
        assert!(text[1].contains("planner.nominal.amplitude") && text[1].contains("entry 1"), "{text:?}");
        assert_eq!(e.len(), 2);
        assert!(trot().fits(3).is_ok());
        assert!(trot().fits(2).unwrap_err().to_string().contains("at most the robot's 2 actions"));
    }
}
