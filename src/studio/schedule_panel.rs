//! The learning-schedule panel: warm-up, evaluations, SAC's update ratio, rates and (DeMoRL)
//! behaviour cloning, model-generated transitions and when plans start using the critic, and the
//! dynamics model's refits (interval, patience, β-NLL, restarts of stalled refits, refit guard),
//! when the planner starts and whether κ follows the training falls, for the learning modes. Edits change `Experiment::train` and
//! apply at the next "reset training" (a schedule changed mid-run would make the run
//! unrepeatable).

use bevy_egui::egui;

use super::panels::{WidgetRects, named_slider};
use crate::config::TrainSettings;
use crate::config::{EnsembleBackend, FallCaution, PlannerStart, RunMode};

/// Widgets for the schedule of `mode`, each with a one-sentence tooltip; values stay in range by
/// construction. Returns the rects of the named widgets.
pub fn schedule_controls(ui: &mut egui::Ui, train: &mut TrainSettings, mode: RunMode) -> WidgetRects {
    let mut rects = WidgetRects::new();
    let mut slider = |ui: &mut egui::Ui, name: &'static str, widget: egui::Slider, tip: &str| {
        named_slider(ui, &mut rects, name, widget, tip)
    };
    slider(
        ui,
        "warmup_steps",
        egui::Slider::new(&mut train.warmup_steps, 0..=5000).text("warm-up steps"),
        "Env steps with uniform random actions before the agent acts and learns.",
    );
    slider(
        ui,
        "eval_every",
        egui::Slider::new(&mut train.eval_every, 10..=5000).logarithmic(true).text("evaluate every"),
        "Env steps between evaluations on a separate environment (also one at step 0).",
    );
    slider(
        ui,
        "eval_episodes",
        egui::Slider::new(&mut train.eval_episodes, 1..=20).text("eval episodes"),
        "Deterministic episodes averaged per evaluation.",
    );
    if mode.trains_sac() {
        slider(
            ui,
            "updates_per_step",
            egui::Slider::new(&mut train.updates_per_step, 1..=20).text("SAC updates / step"),
            "Gradient updates of actor, critics and temperature per env step after warm-up.",
        );
        slider(
            ui,
            "batch_size",
            egui::Slider::new(&mut train.sac.batch_size, 16..=1024).logarithmic(true).text("SAC batch"),
            "Transitions drawn from the replay buffer per SAC update.",
        );
        slider(
            ui,
            "actor_lr",
            egui::Slider::new(&mut train.sac.actor_lr, 1e-5..=1e-2).logarithmic(true).text("actor lr"),
            "Adam learning rate of the policy network.",
        );
        slider(
            ui,
            "critic_lr",
            egui::Slider::new(&mut train.sac.critic_lr, 1e-5..=1e-2).logarithmic(true).text("critic lr"),
            "Adam learning rate of the twin Q networks.",
        );
    }
    if mode == RunMode::Demorl {
        slider(
            ui,
            "behaviour_cloning",
            egui::Slider::new(&mut train.sac.behaviour_cloning, 0.0..=1.0).text("actor → planner (BC)"),
            "Weight of the actor loss term that pulls SAC's mean action toward the planner's executed actions \
             (scaled by the batch's mean |Q|; 0 = plain SAC).",
        );
        slider(
            ui,
            "model_data_per_step",
            egui::Slider::new(&mut train.model_data.per_step, 0..=1000).text("model transitions / step"),
            "One-step transitions the learned model generates for SAC per env step (MBPO style; 0 = off).",
        );
        slider(
            ui,
            "terminal_value_start",
            egui::Slider::new(&mut train.terminal_value_start, 0..=20_000).text("critic in plans from step"),
            "Env step from which plans end in SAC's critic (the planner's terminal value); before it they score the \
             model's predicted rewards only, so an early critic cannot steer them (0 = from the first plan).",
        );
        if train.model_data.per_step > 0 {
            slider(
                ui,
                "model_data_real_fraction",
                egui::Slider::new(&mut train.model_data.real_fraction, 0.01..=1.0).text("real share of SAC batch"),
                "Fraction of each SAC batch drawn from real transitions; the rest are generated.",
            );
        }
    }
    if mode.learns_model() {
        slider(
            ui,
            "model_train_every",
            egui::Slider::new(&mut train.model_train_every, 10..=5000).logarithmic(true).text("refit model every"),
            "Env steps between refits of the dynamics ensemble on the replay buffer.",
        );
        slider(
            ui,
            "model_patience",
            egui::Slider::new(&mut train.ensemble.patience, 1..=50).text("model patience"),
            "Epochs without a hold-out improvement before a refit stops (PETS: 5; the recorded 2R-leg settings: 20).",
        );
        slider(
            ui,
            "model_nll_beta",
            egui::Slider::new(&mut train.ensemble.nll_beta, 0.0..=1.0).text("model β-NLL"),
            "β of the β-NLL loss: each element's NLL weighted by its predicted variance^β (0 = plain NLL, PETS; \
             0.5 = the recorded cheetah settings).",
        );
        let tip = "When a warm-started refit improves no member, refit once more from fresh weights and keep the \
                   better model.";
        let response = ui.checkbox(&mut train.ensemble.restart_stalled, "restart stalled refits").on_hover_text(tip);
        rects.insert("restart_stalled", response.rect);
        let tip = "End planned rollouts and generated transitions where a predicted observation breaks the task's \
                   termination conditions (with its penalty), so plans see falls.";
        let response = ui.checkbox(&mut train.ensemble.known_termination, "known termination").on_hover_text(tip);
        rects.insert("known_termination", response.rect);
        let mut host = train.ensemble.backend == EnsembleBackend::Host;
        let tip = "Refit the ensemble with the hand-written host training step (same loss and Adam to float \
                   tolerance, several times faster than burn's autodiff); switching restarts Adam's moments.";
        let response = ui.checkbox(&mut host, "host training step").on_hover_text(tip);
        if response.changed() {
            train.ensemble.backend = if host { EnsembleBackend::Host } else { EnsembleBackend::Burn };
        }
        rects.insert("host_backend", response.rect);
        refit_guard_controls(ui, &mut rects, &mut train.ensemble.refit_guard);
        planner_start_controls(ui, &mut rects, &mut train.planner_start, train.warmup_steps);
        fall_caution_controls(ui, &mut rects, &mut train.fall_caution);
    }
    ui.label("Applies at the next reset training.");
    rects
}

/// When the planner takes over the executed actions: after warm-up, at a step, or once the
/// model's hold-out error is low enough (the value's slider beside the choice).
fn planner_start_controls(ui: &mut egui::Ui, rects: &mut WidgetRects, start: &mut PlannerStart, warmup: u64) {
    let tip = "Until the planner starts, DeMoRL's actor acts (sampling as SAC explores; PETS keeps random actions), \
               so the first data are not a barely fitted model's plans.";
    ui.horizontal(|ui| {
        ui.label("planner starts");
        // A choice keeps the current value when its kind is picked again.
        let choices = [
            (PlannerStart::WarmUp, "after warm-up"),
            (PlannerStart::Step(warmup.max(2000)), "at step"),
            (PlannerStart::ModelError(0.1), "at model error ≤"),
        ];
        let same_kind = |choice: &PlannerStart, start: &PlannerStart| {
            std::mem::discriminant(choice) == std::mem::discriminant(start)
        };
        let label = choices.iter().find(|(choice, _)| same_kind(choice, start)).map_or("", |(_, name)| *name);
        let response = egui::ComboBox::from_id_salt("planner_start")
            .selected_text(label)
            .show_ui(ui, |ui| {
                for (choice, name) in choices {
                    let selected = same_kind(&choice, start);
                    if ui.selectable_label(selected, name).clicked() && !selected {
                        *start = choice;
                    }
                }
            })
            .response
            .on_hover_text(tip);
        rects.insert("planner_start", response.rect);
        match start {
            PlannerStart::WarmUp => {}
            PlannerStart::Step(step) => {
                let widget = egui::Slider::new(step, 0..=20_000).text("steps");
                named_slider(ui, rects, "planner_start_value", widget, tip);
            }
            PlannerStart::ModelError(limit) => {
                let widget = egui::Slider::new(limit, 0.001..=1.0).logarithmic(true).text("hold-out MSE");
                named_slider(ui, rects, "planner_start_value", widget, tip);
            }
        }
    });
}

/// κ that follows the training falls: off, or on with its ceiling, the tolerated fall rate, the
/// step per excess fall, the step from which falls count and, optionally, a cautious start.
fn fall_caution_controls(ui: &mut egui::Ui, rects: &mut WidgetRects, caution: &mut Option<FallCaution>) {
    let mut on = caution.is_some();
    let tip = "After each training episode, raise the plans' κ (disagreement penalty) by each fall beyond the \
               tolerated rate and ease it back by the steps without one, between the planner's κ and a ceiling.";
    let response = ui.checkbox(&mut on, "κ follows the falls").on_hover_text(tip);
    rects.insert("fall_caution", response.rect);
    if response.changed() {
        *caution = on.then(FallCaution::default);
    }
    let Some(caution) = caution else { return };
    let mut slider = |name: &'static str, widget: egui::Slider, tip: &str| named_slider(ui, rects, name, widget, tip);
    slider(
        "fall_caution_max",
        egui::Slider::new(&mut caution.max_penalty, 0.0..=10.0).text("highest κ"),
        "The highest κ the falls can raise the plans' to.",
    );
    slider(
        "fall_caution_rate",
        egui::Slider::new(&mut caution.falls_per_1000_steps, 0.0..=10.0).text("tolerated falls / 1000 steps"),
        "At this fall rate κ holds still; more falls raise it, fewer lower it.",
    );
    slider(
        "fall_caution_step",
        egui::Slider::new(&mut caution.step_size, 0.01..=5.0).logarithmic(true).text("κ step per fall"),
        "How far κ moves per fall above the tolerated rate.",
    );
    slider(
        "fall_caution_from",
        egui::Slider::new(&mut caution.from_step, 0..=20_000).text("falls count from step"),
        "Episodes ending before this env step leave κ alone (early falls happen to every run).",
    );
    let tip = "Start the plans at this κ and let episodes without falls bring it down to the planner's \
               (off: κ starts at the planner's).";
    ui.horizontal(|ui| {
        let mut cautious = caution.start_penalty.is_some();
        let response = ui.checkbox(&mut cautious, "start at κ").on_hover_text(tip);
        rects.insert("fall_caution_start", response.rect);
        if response.changed() {
            caution.start_penalty = cautious.then_some(caution.max_penalty);
        }
        if let Some(start) = &mut caution.start_penalty {
            // Validation wants the start at most the ceiling.
            *start = start.min(caution.max_penalty);
            let widget = egui::Slider::new(start, 0.0..=caution.max_penalty);
            named_slider(ui, rects, "fall_caution_start_value", widget, tip);
        }
    });
}

/// The refit guard: off, or on with the ratio of new to previous hold-out error it tolerates.
fn refit_guard_controls(ui: &mut egui::Ui, rects: &mut WidgetRects, guard: &mut Option<f32>) {
    ui.horizontal(|ui| {
        let mut on = guard.is_some();
        let tip = "Keep the previous dynamics model when a refit is worse by more than this ratio on the new \
                   hold-out rows.";
        let response = ui.checkbox(&mut on, "refit guard").on_hover_text(tip);
        rects.insert("refit_guard", response.rect);
        if response.changed() {
            *guard = on.then_some(2.0);
        }
        if let Some(ratio) = guard {
            let widget = egui::Slider::new(ratio, 1.0..=10.0).logarithmic(true).text("× worse");
            named_slider(ui, rects, "refit_guard_ratio", widget, tip);
        }
    });
}
