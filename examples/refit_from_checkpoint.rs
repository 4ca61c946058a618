//! Refits a saved learning run's dynamics ensemble on its replay buffer and prints the hold-out
//! error and predicted log-variance of every epoch, to see why a refit stops where it does
//! (docs/RESULTS.md, "a stalled model"). Ensemble settings can be overridden as RON fields.
//!
//! `cargo run --release --example refit_from_checkpoint -- SAVE_DIR SCENE [FIELD: VALUE, ...]`;
//! with `FRESH=1` in the environment the same data is fitted from fresh weights instead.
//! e.g. `... saves/cheetah-demorl-seed4 scenes/cheetah.ron "patience: 50, max_epochs: 100"`.

use std::path::PathBuf;

use anyhow::Context;
use demorl_studio::config::EnsembleSettings;
use demorl_studio::learn::{ProbabilisticEnsemble, ReplayBuffer, StateDelta};
use demorl_studio::scene::load_scene;
use demorl_studio::sim::Env;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [save, scene, overrides @ ..] = args.as_slice() else {
        anyhow::bail!("usage: refit_from_checkpoint SAVE_DIR SCENE [\"field: value, ...\"]");
    };
    let agent = PathBuf::from(save).join("agent");
    let mut ensemble = ProbabilisticEnsemble::load_from(&agent.join("ensemble"))?;
    let replay_path = agent.join("replay.bin");
    let file = std::fs::File::open(&replay_path).with_context(|| replay_path.display().to_string())?;
    let replay = ReplayBuffer::read_from(std::io::BufReader::new(file))?;
    let scene = load_scene(std::path::Path::new(scene))?;
    let delta = StateDelta::with_wrapped_angles(Env::new(&scene).wrapped_angle_dims());

    // Overrides replace fields of the saved settings written out as RON, so any field can be set
    // (the saved fields hold no commas of their own).
    let saved = ron::to_string(ensemble.settings())?;
    let overrides = overrides.join(", ");
    let key = |field: &str| field.split(':').next().unwrap_or_default().trim().to_string();
    let overridden: Vec<String> = overrides.split(',').map(key).collect();
    let kept: Vec<&str> = saved
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .filter(|f| !overridden.contains(&key(f)))
        .collect();
    let edited = format!("({}, {overrides})", kept.join(","));
    let settings: EnsembleSettings = ron::from_str(&edited).with_context(|| format!("settings {edited}"))?;
    if std::env::var_os("FRESH").is_some() {
        // Compare with a model trained from fresh weights on the same data.
        ensemble = ProbabilisticEnsemble::new(ensemble.in_dim(), ensemble.out_dim(), settings, 1);
    } else {
        ensemble.set_training_settings(settings)?;
    }
    if std::env::var_os("RESET_ADAM").is_some() {
        ensemble.reset_optimizer();
    }

    // The saved run's termination penalty is left out of the reward targets when its model knew
    // the termination (as the run's own refits did).
    let penalty = match ensemble.settings().known_termination {
        true => Env::new(&scene).observed_termination().map_err(anyhow::Error::msg)?.penalty(),
        false => 0.0,
    };
    let (x, y) = replay.model_dataset(&delta, penalty);
    let report = ensemble.fit(&x, &y);
    println!(
        "{} rows ({} held out), {} epochs, early stop {}",
        replay.len(),
        report.holdout_size,
        report.epochs,
        report.early_stopped
    );
    for (epoch, mse) in report.holdout_history.iter().enumerate() {
        let best = mse.iter().copied().fold(f32::INFINITY, f32::min);
        let mean = mse.iter().sum::<f32>() / mse.len() as f32;
        let loss = if epoch == 0 { f32::NAN } else { report.train_loss[epoch - 1] };
        println!("epoch {epoch:3}: hold-out MSE best {best:.4} mean {mean:.4}; train loss {loss:.4}");
    }
    println!(
        "restored: elite hold-out MSE {:.4} (best epochs {:?}); predicted log-variance {:.3}; restarted {}",
        report.elite_holdout_mse(),
        report.best_epoch,
        report.holdout_mean_logvar,
        report.restarted
    );
    Ok(())
}
