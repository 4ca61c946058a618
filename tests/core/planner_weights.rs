//! The losses and the KL update against their definitions, checked on the planner's own trace.

use crate::planner_common;

use demorl_studio::config::{ActionChoice, Loss, MirrorMap, PlannerSettings, TerminalChoice};
use demorl_studio::plan::{ActionMode, PlanTrace, Planner};
use planner_common::Lqr;

fn settings(loss: Loss, samples: usize) -> PlannerSettings {
    PlannerSettings {
        horizon: 6,
        samples,
        iterations: 1,
        loss,
        mirror_map: MirrorMap::Kl,
        mean_step: 1.0,
        variance_step: 1.0,
        initial_std: 0.5,
        min_std: 0.0,
        discount: 1.0,
        particles: 1,
        policy_fraction: 0.0,
        training_action: ActionChoice::SampleByWeight,
        terminal_value: TerminalChoice::None,
        ..PlannerSettings::default()
    }
}

fn plan_once(s: PlannerSettings, seed: u64) -> (Planner, PlanTrace) {
    let mut model = Lqr::standard();
    let mut planner = Planner::new(s, 1, seed).unwrap();
    let out = planner.plan(&mut model, None, None, ActionMode::Evaluation);
    (planner, out.trace)
}

/// Per-element sample mean and biased (1/N) sample variance of the trace's sequences.
fn sample_moments(trace: &PlanTrace) -> (Vec<f64>, Vec<f64>) {
    let len = trace.horizon * trace.action_dim;
    let n = trace.sequence_count() as f64;
    let mut mean = vec![0.0; len];
    for i in 0..trace.sequence_count() {
        for (m, &u) in mean.iter_mut().zip(trace.sequence(i)) {
            *m += u as f64 / n;
        }
    }
    let mut var = vec![0.0; len];
    for i in 0..trace.sequence_count() {
        for ((v, &u), &m) in var.iter_mut().zip(trace.sequence(i)).zip(&mean) {
            *v += (u as f64 - m).powi(2) / n;
        }
    }
    (mean, var)
}

#[test]
fn full_cem_with_unit_steps_is_the_sample_moments() {
    let s = settings(Loss::Cem { elite_fraction: 1.0 }, 64);
    let (planner, trace) = plan_once(s, 3);
    assert!(trace.elite.iter().all(|&e| e));
    let (mean, var) = sample_moments(&trace);
    let dist = planner.distribution();
    for i in 0..mean.len() {
        assert!((dist.mean()[i] as f64 - mean[i]).abs() < 1e-6, "mean {i}");
        assert!((trace.mean_actions[i] as f64 - mean[i]).abs() < 1e-6);
        assert!((dist.variance()[i] as f64 - var[i]).abs() < 1e-6, "variance {i}");
        assert!((trace.std[i] as f64 - var[i].sqrt()).abs() < 1e-5);
    }
    // Not trivially satisfied: the samples really spread.
    assert!(var.iter().all(|&v| v > 0.05));
}

#[test]
fn partial_steps_blend_old_and_target_moments() {
    let s = PlannerSettings { mean_step: 0.25, variance_step: 0.5, ..settings(Loss::Cem { elite_fraction: 1.0 }, 64) };
    let (planner, trace) = plan_once(s, 4);
    let (mean, var) = sample_moments(&trace);
    let dist = planner.distribution();
    for i in 0..mean.len() {
        // Old mean 0, old variance 0.25.
        assert!((dist.mean()[i] as f64 - 0.25 * mean[i]).abs() < 1e-6);
        assert!((dist.variance()[i] as f64 - (0.5 * 0.25 + 0.5 * var[i])).abs() < 1e-6);
    }
}

#[test]
fn mppi_with_vanishing_temperature_picks_the_best_sample() {
    let (_, trace) = plan_once(settings(Loss::Mppi { temperature: 1e-6 }, 100), 5);
    let best = (0..trace.scores.len()).max_by(|&a, &b| trace.scores[a].total_cmp(&trace.scores[b])).unwrap();
    assert!(trace.weights[best] > 0.999, "best weight {}", trace.weights[best]);
    assert_eq!(trace.elite.iter().filter(|&&e| e).count(), 1);
    assert!(trace.elite[best]);
    let ess = trace.iterations[0].effective_sample_size;
    assert!((1.0..1.01).contains(&ess), "ess {ess}");
    // The mean jumped onto that sample (unit step).
    for (m, u) in trace.mean_actions.iter().zip(trace.sequence(best)) {
        assert!((m - u).abs() < 1e-4);
    }
    // Training mode executes that sample's first action.
    let mut model = Lqr::standard();
    let s = settings(Loss::Mppi { temperature: 1e-6 }, 100);
    let mut planner = Planner::new(s, 1, 5).unwrap();
    let out = planner.plan(&mut model, None, None, ActionMode::Training);
    assert_eq!(out.trace.chosen, Some(best));
    assert_eq!(out.action, trace.sequence(best)[..1]);
}

/// `evaluation_action: Best` executes the first action of the last iteration's best-scoring
/// sequence when it scores above the final mean, else the mean's; `Mean` always the mean's; a
/// drawn action is refused for evaluation, by name.
#[test]
fn best_executes_the_top_scoring_sequence_unless_the_mean_scores_as_well() {
    let plan = |s: PlannerSettings| {
        let mut planner = Planner::new(s, 1, 6).unwrap();
        planner.plan(&mut Lqr::standard(), None, None, ActionMode::Evaluation)
    };
    let best_of = |trace: &PlanTrace| {
        (0..trace.scores.len()).max_by(|&a, &b| trace.scores[a].total_cmp(&trace.scores[b])).unwrap()
    };
    // CEM over every sample: the mean is their average, near zero, which the best single draw beats.
    let all = settings(Loss::Cem { elite_fraction: 1.0 }, 64);
    let out = plan(PlannerSettings { evaluation_action: ActionChoice::Best, ..all.clone() });
    let best = best_of(&out.trace);
    assert!(out.trace.scores[best] > out.trace.mean_score, "precondition: a sample beats the mean");
    assert_eq!(out.trace.chosen, Some(best));
    assert_eq!(out.action, out.trace.sequence(best)[..1]);
    assert_ne!(out.action[0], out.trace.mean_actions[0]);
    // The same plan with `Mean`: the same samples, the mean's first action.
    let mean = plan(PlannerSettings { evaluation_action: ActionChoice::Mean, ..all });
    assert_eq!(mean.trace.scores, out.trace.scores);
    assert_eq!((mean.trace.chosen, mean.action[0]), (None, mean.trace.mean_actions[0]));
    // MPPI at a vanishing temperature moves the mean onto the best sample: a tie, so the mean.
    let tie = plan(PlannerSettings {
        evaluation_action: ActionChoice::Best,
        ..settings(Loss::Mppi { temperature: 1e-6 }, 100)
    });
    assert!(tie.trace.mean_score >= tie.trace.scores[best_of(&tie.trace)] - 1e-4);
    assert_eq!((tie.trace.chosen, tie.action[0]), (None, tie.trace.mean_actions[0]));
    // Evaluation is greedy.
    let drawn = PlannerSettings {
        evaluation_action: ActionChoice::SampleByWeight,
        ..settings(Loss::Mppi { temperature: 1.0 }, 8)
    };
    let error = Planner::new(drawn, 1, 6).err().unwrap().to_string();
    assert!(error.contains("planner.evaluation_action"), "{error}");
}

#[test]
fn weights_sum_to_one_and_ess_is_in_range() {
    let losses = [
        Loss::Cem { elite_fraction: 0.1 },
        Loss::Cem { elite_fraction: 1.0 },
        Loss::Mppi { temperature: 0.01 },
        Loss::Mppi { temperature: 1.0 },
        Loss::Mppi { temperature: 1e3 },
        Loss::MppiRelative { temperature: 0.3 },
        Loss::ExpectedCost,
    ];
    for loss in losses {
        for seed in 0..3 {
            let n = 50;
            let s = PlannerSettings { iterations: 3, ..settings(loss, n) };
            let (_, trace) = plan_once(s, seed);
            for it in &trace.iterations {
                let ess = it.effective_sample_size;
                assert!((1.0..=n as f32).contains(&ess), "{loss:?}: ess {ess}");
            }
            let sum: f64 = trace.weights.iter().map(|&w| w as f64).sum();
            match loss {
                Loss::ExpectedCost => {
                    // Standardised advantages: they sum to 0, and elites are the above-average ones.
                    assert!(sum.abs() < 1e-5, "{sum}");
                    for ((&w, &e), &s) in trace.weights.iter().zip(&trace.elite).zip(&trace.scores) {
                        assert_eq!(e, w > 0.0);
                        assert_eq!(e, s > trace.iterations[2].mean);
                    }
                }
                _ => {
                    assert!((sum - 1.0).abs() < 1e-5, "{loss:?}: sum {sum}");
                    assert!(trace.weights.iter().all(|&w| w >= 0.0));
                }
            }
            if let Loss::Cem { elite_fraction } = loss {
                let k = (elite_fraction * n as f32).ceil() as usize;
                assert_eq!(trace.elite.iter().filter(|&&e| e).count(), k);
                assert_eq!(trace.iterations[2].effective_sample_size, k as f32);
                // Elites are exactly the top K scores.
                let threshold = trace.iterations[2].elite_threshold;
                for (&e, &s) in trace.elite.iter().zip(&trace.scores) {
                    assert_eq!(e, s >= threshold);
                }
            }
        }
    }
    // A huge temperature gives (nearly) uniform weights: ESS close to N.
    let (_, trace) = plan_once(settings(Loss::Mppi { temperature: 1e6 }, 50), 1);
    assert!(trace.iterations[0].effective_sample_size > 49.9);
}
