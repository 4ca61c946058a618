//! Small learning settings shared by the DeMoRL agent tests: networks and a planner small enough
//! for a few hundred env steps in seconds.
// Each test crate uses only some of these.
#![allow(dead_code)]

use demorl_studio::config::{EnsembleSettings, PlannerSettings, SacSettings, TrainSettings, preset};

/// Warm-up 100, a refit every 50 steps, evaluations every 100 (one episode), 32-wide networks.
pub fn small_train() -> TrainSettings {
    TrainSettings {
        warmup_steps: 100,
        eval_every: 100,
        eval_episodes: 1,
        log_every: 50,
        model_train_every: 50,
        sac: SacSettings { hidden: vec![32, 32], batch_size: 64, ..Default::default() },
        ensemble: small_ensemble(),
        ..Default::default()
    }
}

/// Three members (two elites) of two 32-wide layers, at most 5 epochs per refit.
pub fn small_ensemble() -> EnsembleSettings {
    EnsembleSettings {
        members: 3,
        elites: 2,
        hidden_layers: 2,
        hidden_width: 32,
        batch_size: 64,
        max_epochs: 5,
        ..Default::default()
    }
}

/// The reference preset with 20 samples and 2 iterations.
pub fn small_planner() -> PlannerSettings {
    PlannerSettings { samples: 20, iterations: 2, ..preset("reference").unwrap() }
}
