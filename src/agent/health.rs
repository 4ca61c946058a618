//! Divergence checks: NaN or infinity in what a training step produced stops learning with a
//! message that says what went wrong and when, before the bad values reach a checkpoint.

use super::train_data::StepStats;

/// The first non-finite value among a step's next observation, SAC losses and model fit error,
/// described for the user (`None` when everything is finite).
pub fn divergence(env_steps: u64, next_obs: &[f32], stats: &StepStats) -> Option<String> {
    if let Some(i) = next_obs.iter().position(|v| !v.is_finite()) {
        return Some(format!("observation[{i}] is {} at env step {env_steps}", next_obs[i]));
    }
    for losses in &stats.sac {
        for (name, value) in [
            ("critic loss", losses.critic),
            ("actor loss", losses.actor),
            ("entropy temperature α", losses.alpha),
            ("policy entropy", losses.entropy),
        ] {
            if !value.is_finite() {
                return Some(format!("SAC {name} is {value} at env step {env_steps}"));
            }
        }
    }
    if let Some(fit) = &stats.model_fit
        && !fit.holdout_mse.is_finite()
    {
        return Some(format!("dynamics-model hold-out error is {} at env step {env_steps}", fit.holdout_mse));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::ModelFit;
    use crate::learn::SacLosses;

    #[test]
    fn finite_steps_pass_and_each_kind_of_non_finite_value_is_named() {
        let fine = StepStats {
            sac: vec![SacLosses::default()],
            model_fit: Some(ModelFit { holdout_mse: 0.1, epochs: 3, ..ModelFit::default() }),
            plan: None,
        };
        assert_eq!(divergence(5, &[0.0, 1.0], &fine), None);
        let message = divergence(7, &[0.0, f32::NAN], &fine).unwrap();
        assert!(message.contains("observation[1]") && message.contains("step 7"), "{message}");
        let bad_loss =
            StepStats { sac: vec![SacLosses { critic: f32::INFINITY, ..SacLosses::default() }], ..fine.clone() };
        assert!(divergence(1, &[0.0], &bad_loss).unwrap().contains("critic loss is inf"));
        let nan_fit = ModelFit { holdout_mse: f32::NAN, epochs: 2, ..ModelFit::default() };
        let bad_fit = StepStats { model_fit: Some(nan_fit), ..fine };
        assert!(divergence(1, &[0.0], &bad_fit).unwrap().contains("hold-out"));
    }
}
