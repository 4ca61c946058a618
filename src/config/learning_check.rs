//! Range checks of a learning run's settings (`train.*`), so a bad settings file or studio edit
//! is an error naming every offending field instead of a panic deep inside a learner.

use super::learning::{EnsembleSettings, PlannerStart, SacSettings, TrainSettings};
use crate::format::Problem;

/// One bad value: its field path in `settings.ron`, the value, and what it must be.
struct Bad {
    field: &'static str,
    value: String,
    requirement: String,
}

/// Collects the bad values of one check.
#[derive(Default)]
struct Problems(Vec<Bad>);

impl Problems {
    fn require(&mut self, ok: bool, field: &'static str, value: impl std::fmt::Display, requirement: &str) {
        if !ok {
            self.0.push(Bad { field, value: value.to_string(), requirement: requirement.to_string() });
        }
    }

    fn positive_count(&mut self, field: &'static str, value: usize) {
        self.require(value >= 1, field, value, "must be at least 1");
    }

    fn positive(&mut self, field: &'static str, value: f64) {
        self.require(value.is_finite() && value > 0.0, field, value, "must be a finite number above 0");
    }

    fn non_negative(&mut self, field: &'static str, value: f64) {
        self.require(value.is_finite() && value >= 0.0, field, value, "must be a finite number, 0 or more");
    }

    fn finite(&mut self, field: &'static str, value: f64) {
        self.require(value.is_finite(), field, value, "must be a finite number");
    }
}

/// Every problem of `settings`, one line each, fields named by their path in `settings.ron`
/// (`train.ensemble.elites = 9: must be …`). Empty when the settings can run.
pub fn train_settings_problems(settings: &TrainSettings) -> Vec<String> {
    bad_values(settings).into_iter().map(|b| format!("{} = {}: {}", b.field, b.value, b.requirement)).collect()
}

/// Every problem of `settings` as a [`Problem`] whose field path starts with `prefix` (a scene's
/// `learning.demorl.` section holds `train.…` fields too), for errors placed in the file.
pub fn learning_problems(settings: &TrainSettings, prefix: &str) -> Vec<Problem> {
    bad_values(settings)
        .into_iter()
        .map(|b| Problem::new(format!("{prefix}{}", b.field), format!("is {}: {}", b.value, b.requirement)))
        .collect()
}

fn bad_values(settings: &TrainSettings) -> Vec<Bad> {
    let mut p = Problems::default();
    p.positive_count("train.replay_capacity", settings.replay_capacity);
    p.require(settings.eval_every >= 1, "train.eval_every", settings.eval_every, "must be at least 1");
    p.positive_count("train.eval_episodes", settings.eval_episodes);
    p.require(settings.log_every >= 1, "train.log_every", settings.log_every, "must be at least 1");
    p.require(
        settings.model_train_every >= 1,
        "train.model_train_every",
        settings.model_train_every,
        "must be at least 1",
    );
    check_sac(&mut p, &settings.sac);
    let data = &settings.model_data;
    let fraction_ok = data.real_fraction > 0.0 && data.real_fraction <= 1.0;
    p.require(fraction_ok, "train.model_data.real_fraction", data.real_fraction, "must be above 0 and at most 1");
    if data.per_step > 0 {
        p.positive_count("train.model_data.keep_steps", data.keep_steps);
    }
    check_ensemble(&mut p, &settings.ensemble);
    if let Some(scale) = settings.gait_residual {
        let ok = scale > 0.0 && scale <= 2.0;
        p.require(
            ok,
            "train.gait_residual",
            format!("Some({scale})"),
            "the residual scale must be above 0 and at most 2",
        );
    }
    if let Some(caution) = &settings.fall_caution {
        p.non_negative("train.fall_caution.max_penalty", caution.max_penalty as f64);
        p.positive("train.fall_caution.step_size", caution.step_size as f64);
        p.non_negative("train.fall_caution.falls_per_1000_steps", caution.falls_per_1000_steps as f64);
        if let Some(start) = caution.start_penalty {
            let ok = start.is_finite() && start >= 0.0 && start <= caution.max_penalty;
            p.require(
                ok,
                "train.fall_caution.start_penalty",
                format!("Some({start})"),
                &format!("the starting κ must be a number from 0 to max_penalty ({})", caution.max_penalty),
            );
        }
    }
    if let PlannerStart::ModelError(limit) = settings.planner_start {
        let ok = limit.is_finite() && limit > 0.0;
        p.require(
            ok,
            "train.planner_start",
            format!("ModelError({limit})"),
            "the error must be a finite number above 0",
        );
    }
    p.0
}

fn check_sac(p: &mut Problems, s: &SacSettings) {
    let hidden = format!("{:?}", s.hidden);
    p.require(s.hidden.iter().all(|&w| w >= 1), "train.sac.hidden", &hidden, "every layer needs at least 1 unit");
    p.positive_count("train.sac.batch_size", s.batch_size);
    let unit = |v: f32| (0.0..=1.0).contains(&v);
    p.require(unit(s.discount), "train.sac.discount", s.discount, "must be between 0 and 1");
    p.require(unit(s.polyak), "train.sac.polyak", s.polyak, "must be between 0 and 1");
    p.positive("train.sac.actor_lr", s.actor_lr);
    p.positive("train.sac.critic_lr", s.critic_lr);
    p.positive("train.sac.alpha_lr", s.alpha_lr);
    p.positive("train.sac.initial_alpha", s.initial_alpha as f64);
    if let Some(entropy) = s.target_entropy {
        p.finite("train.sac.target_entropy", entropy as f64);
    }
    p.finite("train.sac.log_std_min", s.log_std_min as f64);
    p.finite("train.sac.log_std_max", s.log_std_max as f64);
    p.require(s.log_std_min < s.log_std_max, "train.sac.log_std_min", s.log_std_min, "must be below log_std_max");
    p.non_negative("train.sac.behaviour_cloning", s.behaviour_cloning as f64);
}

fn check_ensemble(p: &mut Problems, s: &EnsembleSettings) {
    p.positive_count("train.ensemble.members", s.members);
    let elites_ok = s.elites >= 1 && s.elites <= s.members;
    let members = format!("must be between 1 and train.ensemble.members ({})", s.members);
    p.require(elites_ok, "train.ensemble.elites", s.elites, &members);
    p.positive_count("train.ensemble.hidden_layers", s.hidden_layers);
    p.positive_count("train.ensemble.hidden_width", s.hidden_width);
    p.positive("train.ensemble.learning_rate", s.learning_rate);
    p.positive_count("train.ensemble.batch_size", s.batch_size);
    p.non_negative("train.ensemble.weight_decay", s.weight_decay as f64);
    let fraction_ok = s.holdout_fraction > 0.0 && s.holdout_fraction < 1.0;
    p.require(fraction_ok, "train.ensemble.holdout_fraction", s.holdout_fraction, "must be above 0 and below 1");
    p.positive_count("train.ensemble.max_holdout", s.max_holdout);
    p.positive_count("train.ensemble.patience", s.patience);
    p.non_negative("train.ensemble.min_improvement", s.min_improvement as f64);
    p.positive_count("train.ensemble.max_epochs", s.max_epochs);
    p.finite("train.ensemble.max_logvar", s.max_logvar as f64);
    p.finite("train.ensemble.min_logvar", s.min_logvar as f64);
    p.require(s.min_logvar < s.max_logvar, "train.ensemble.min_logvar", s.min_logvar, "must be below max_logvar");
    p.non_negative("train.ensemble.logvar_bound_penalty", s.logvar_bound_penalty as f64);
    p.positive("train.ensemble.std_floor", s.std_floor as f64);
    let beta_ok = (0.0..=1.0).contains(&s.nll_beta);
    p.require(beta_ok, "train.ensemble.nll_beta", s.nll_beta, "must be between 0 (plain NLL) and 1");
    if let Some(ratio) = s.refit_guard {
        let ok = ratio.is_finite() && ratio >= 1.0;
        p.require(ok, "train.ensemble.refit_guard", ratio, "must be a finite ratio of 1 or more (or None)");
    }
}

/// [`train_settings_problems`] as an error listing every problem.
pub fn check_train_settings(settings: &TrainSettings) -> anyhow::Result<()> {
    let problems = train_settings_problems(settings);
    if problems.is_empty() {
        return Ok(());
    }
    anyhow::bail!("invalid learning settings:\n  {}", problems.join("\n  "))
}
