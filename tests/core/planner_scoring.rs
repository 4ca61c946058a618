//! Scoring: discounting, termination masking, NaN handling, the terminal value and the policy prior.

use crate::planner_common;

use demorl_studio::config::{ActionChoice, Loss, PlannerSettings};
use demorl_studio::plan::{
    ActionMode, Model, Planner, PolicyPrior, RolloutBatch, ScoreRule, Scorer, SequenceBatch, TerminalValue,
};
use planner_common::Scripted;

const H: usize = 5;
const GAMMA: f32 = 0.9;

fn settings(loss: Loss) -> PlannerSettings {
    PlannerSettings {
        horizon: H,
        samples: 30,
        iterations: 2,
        loss,
        discount: GAMMA,
        particles: 2,
        policy_fraction: 0.1,
        ..PlannerSettings::default()
    }
}

fn scripted(terminate_at: Option<u32>) -> Scripted {
    Scripted {
        horizon_rewards: vec![1.0, 2.0, 3.0, 4.0, 5.0],
        terminate_at,
        after_termination: 1000.0,
        particles: 2,
        obs_dim: 3,
    }
}

/// A terminal value computed by hand, Q(obs, last action).
type ValueFn = fn(&[f32], f32) -> f64;

/// Expected score of one sequence from the definition, in f64.
fn expected(
    actions: &[f32],
    model: &Scripted,
    steps: usize,
    value: Option<ValueFn>,
    n: usize,
    particles: usize,
) -> f64 {
    let end = model.terminate_at.map_or(H, |t| t as usize);
    let mut total = 0.0;
    for p in 0..particles {
        let counted = model.horizon_rewards.iter().zip(actions).take(steps.min(end + 1));
        for (h, (&r, &a)) in counted.enumerate() {
            total += (GAMMA as f64).powi(h as i32) * (r + a) as f64;
        }
        if let Some(v) = value
            && end >= H - 1
        {
            let obs: Vec<f32> = (0..model.obs_dim).map(|i| (n * 10 + p + i) as f32).collect();
            total += (GAMMA as f64).powi(H as i32 - 1) * v(&obs, actions[H - 1]);
        }
    }
    total / particles as f64
}

struct Critic;

impl TerminalValue for Critic {
    fn values(&mut self, obs: &[f32], obs_dim: usize, actions: &[f32], da: usize, out: &mut [f32]) {
        assert_eq!(obs.len(), out.len() * obs_dim);
        assert_eq!(actions.len(), out.len() * da);
        for ((o, a), v) in obs.chunks(obs_dim).zip(actions.chunks(da)).zip(out.iter_mut()) {
            *v = critic(o, a[0]) as f32;
        }
    }
}

fn critic(obs: &[f32], action: f32) -> f64 {
    obs.iter().map(|&o| o as f64).sum::<f64>() * 0.5 + 100.0 * action as f64
}

#[test]
fn discounted_sum_without_terminal_value() {
    let mut model = scripted(None);
    let mut planner = Planner::new(settings(Loss::Mppi { temperature: 1.0 }), 1, 1).unwrap();
    let t = planner.plan(&mut model, None, None, ActionMode::Evaluation).trace;
    assert_eq!(t.particles, 2);
    for n in 0..t.sequence_count() {
        let e = expected(t.sequence(n), &model, H, None, n, 2);
        assert!((t.scores[n] as f64 - e).abs() < 1e-4, "{n}: {} vs {e}", t.scores[n]);
    }
}

#[test]
fn terminal_value_is_added_with_discount_h_minus_1() {
    let mut model = scripted(None);
    let mut planner = Planner::new(settings(Loss::Mppi { temperature: 1.0 }), 1, 2).unwrap();
    let t = planner.plan(&mut model, None, Some(&mut Critic), ActionMode::Evaluation).trace;
    for n in 0..t.sequence_count() {
        let e = expected(t.sequence(n), &model, H - 1, Some(critic), n, 2);
        assert!((t.scores[n] as f64 - e).abs() < 1e-3, "{n}: {} vs {e}", t.scores[n]);
    }
    // Termination at the last transition still gets the value (s_{H-1} was reached).
    let mut model = scripted(Some(H as u32 - 1));
    let t = planner.plan(&mut model, None, Some(&mut Critic), ActionMode::Evaluation).trace;
    for n in 0..t.sequence_count() {
        let e = expected(t.sequence(n), &model, H - 1, Some(critic), n, 2);
        assert!((t.scores[n] as f64 - e).abs() < 1e-3);
    }
}

#[test]
fn terminated_rollouts_stop_accumulating() {
    for value in [false, true] {
        let mut model = scripted(Some(2));
        let mut planner = Planner::new(settings(Loss::Cem { elite_fraction: 0.1 }), 1, 3).unwrap();
        let t = if value {
            planner.plan(&mut model, None, Some(&mut Critic), ActionMode::Evaluation)
        } else {
            planner.plan(&mut model, None, None, ActionMode::Evaluation)
        }
        .trace;
        for n in 0..t.sequence_count() {
            // Steps 0..=2 count, nothing after, and no terminal value (terminated before H-1).
            let e = expected(t.sequence(n), &model, 3, None, n, 2);
            assert!((t.scores[n] as f64 - e).abs() < 1e-4, "{n}: {} vs {e}", t.scores[n]);
            assert!(t.scores[n] < 10.0);
        }
    }
}

/// Reward = first action, but NaN whenever the first action exceeds 0.3: the sequences
/// that would score best are exactly the broken ones.
struct NanWhenGreedy {
    all_nan: bool,
}

impl Model for NanWhenGreedy {
    fn action_dim(&self) -> usize {
        1
    }
    fn obs_dim(&self) -> usize {
        1
    }
    fn point_count(&self) -> usize {
        0
    }
    fn particles(&self, _: usize) -> usize {
        1
    }
    fn rollout(&mut self, batch: &SequenceBatch, particles: usize, out: &mut RolloutBatch) {
        out.resize(batch.count, particles, batch.horizon, 1, 0);
        for n in 0..batch.count {
            let a = batch.action(n, 0)[0];
            let r = if a > 0.3 || self.all_nan { f32::NAN } else { a };
            out.rewards_of_mut(n, 0)[0] = r;
        }
    }
}

#[test]
fn nan_scores_are_never_chosen() {
    for loss in [Loss::Cem { elite_fraction: 0.1 }, Loss::Mppi { temperature: 0.01 }, Loss::ExpectedCost] {
        let s = PlannerSettings {
            samples: 200,
            iterations: 1,
            particles: 1,
            policy_fraction: 0.0,
            training_action: ActionChoice::SampleByWeight,
            ..settings(loss)
        };
        let mut model = NanWhenGreedy { all_nan: false };
        let mut planner = Planner::new(s, 1, 4).unwrap();
        let out = planner.plan(&mut model, None, None, ActionMode::Training);
        let t = &out.trace;
        let nans = t.scores.iter().filter(|s| s.is_nan()).count();
        assert!(nans > 20, "the test needs NaN candidates ({nans})");
        assert_eq!(t.iterations[0].valid, 200 - nans);
        for n in 0..t.sequence_count() {
            if t.scores[n].is_nan() {
                assert_eq!(t.weights[n], 0.0);
                assert!(!t.elite[n]);
            }
        }
        assert!(t.weights.iter().all(|w| w.is_finite()));
        assert!(t.mean_actions.iter().all(|m| m.is_finite()));
        assert!(t.iterations[0].best <= 0.3);
        if let Some(i) = t.chosen {
            assert!(t.scores[i].is_finite());
        }
        assert!(out.action[0] <= 0.3 + 1e-6 || loss == Loss::ExpectedCost);
    }
}

#[test]
fn all_nan_keeps_the_mean_and_says_so() {
    let s = PlannerSettings { iterations: 3, particles: 1, ..settings(Loss::Mppi { temperature: 1.0 }) };
    let mut model = NanWhenGreedy { all_nan: true };
    let mut planner = Planner::new(s, 1, 5).unwrap();
    let out = planner.plan(&mut model, None, None, ActionMode::Training);
    assert!(out.trace.iterations.iter().all(|it| it.all_invalid && it.valid == 0));
    assert!(out.trace.summary.any_all_invalid);
    assert_eq!(out.trace.mean_actions, [0.0; H]);
    assert_eq!(out.trace.chosen, None);
    assert_eq!(out.action, [0.0]);
    assert!(out.trace.weights.iter().all(|&w| w == 0.0));
}

/// Always proposes the best possible sequence for `Scripted` (reward grows with the action),
/// plus a value outside the bounds that must be clipped; counts its calls.
struct Greedy {
    calls: usize,
}

impl PolicyPrior for Greedy {
    fn propose(&mut self, count: usize, horizon: usize, da: usize, out: &mut Vec<f32>) {
        self.calls += 1;
        assert_eq!(out.len(), count * horizon * da);
        out.fill(3.0);
    }
}

#[test]
fn prior_sequences_are_scored_fixed_and_can_win() {
    let s = PlannerSettings {
        samples: 40,
        iterations: 1,
        initial_std: 0.2,
        policy_fraction: 0.05,
        loss: Loss::Cem { elite_fraction: 0.01 },
        ..settings(Loss::ExpectedCost)
    };
    let mut model = scripted(None);
    let mut prior = Greedy { calls: 0 };
    let mut planner = Planner::new(s.clone(), 1, 6).unwrap();
    let out = planner.plan(&mut model, Some(&mut prior), None, ActionMode::Evaluation);
    let t = &out.trace;
    assert_eq!((t.sample_count, t.prior_count), (40, 2));
    assert!(t.is_prior[40] && t.is_prior[41] && !t.is_prior[39]);
    assert_eq!(t.is_prior.iter().filter(|&&p| p).count(), 2);
    // Clipped into bounds.
    assert_eq!(t.sequence(40), &[1.0; H]);
    for n in 40..42 {
        let e = expected(t.sequence(n), &model, H, None, n, 2);
        assert!((t.scores[n] as f64 - e).abs() < 1e-4);
    }
    // K = ceil(0.01 * 42) = 1: the first of the two tied prior sequences wins.
    assert_eq!(t.elite.iter().position(|&e| e), Some(40));
    assert_eq!(t.elite.iter().filter(|&&e| e).count(), 1);
    assert!(t.scores[..40].iter().all(|&s| s < t.scores[40]));
    // CEM with one elite moves the mean straight onto the prior.
    assert!(t.mean_actions.iter().all(|&m| (m - 1.0).abs() < 1e-6));

    // Over several iterations the prior is asked once and its sequences never change.
    let mut planner = Planner::new(PlannerSettings { iterations: 4, ..s }, 1, 7).unwrap();
    let mut prior = Greedy { calls: 0 };
    let t = planner.plan(&mut model, Some(&mut prior), None, ActionMode::Evaluation).trace;
    assert_eq!(prior.calls, 1);
    assert_eq!(t.iterations.len(), 4);
    assert_eq!(t.sequence(40), &[1.0; H]);
    assert_eq!(t.sequence(41), &[1.0; H]);

    // Without a prior hook there are no prior sequences.
    let t = planner.plan(&mut model, None, None, ActionMode::Evaluation).trace;
    assert_eq!(t.prior_count, 0);
    assert_eq!(t.sequence_count(), 40);
}

/// Proposes sequence n with the actions `0.1 (n + 1) + 0.01 h` at step h (one action dimension).
struct Ramp;

impl PolicyPrior for Ramp {
    fn propose(&mut self, count: usize, horizon: usize, _: usize, out: &mut Vec<f32>) {
        for n in 0..count {
            for h in 0..horizon {
                out[n * horizon + h] = 0.1 * (n + 1) as f32 + 0.01 * h as f32;
            }
        }
    }
}

/// With `start_at_prior` each plan's mean starts at the average of the prior's sequences (so the
/// kept mean, the first sample, is that average); without it, or without a prior, at the
/// shifted plan (zero for a fresh one), and then the option changes nothing.
#[test]
fn start_at_prior_starts_the_mean_at_the_priors_average() {
    let s = PlannerSettings {
        samples: 20,
        iterations: 1,
        keep_mean: true,
        policy_fraction: 0.2,
        ..settings(Loss::ExpectedCost)
    };
    let mut model = scripted(None);
    let plan = |start_at_prior: bool, prior: Option<&mut dyn PolicyPrior>, model: &mut Scripted| {
        let mut planner = Planner::new(PlannerSettings { start_at_prior, ..s.clone() }, 1, 9).unwrap();
        planner.plan(model, prior, None, ActionMode::Evaluation)
    };
    let started = plan(true, Some(&mut Ramp), &mut model);
    assert_eq!(started.trace.prior_count, 4);
    // Sequences 1..4 average to 0.25 + 0.01 h.
    for (h, &a) in started.trace.sequence(0).iter().enumerate() {
        assert!((a - (0.25 + 0.01 * h as f32)).abs() < 1e-6, "step {h}: {a}");
    }
    let shifted = plan(false, Some(&mut Ramp), &mut model);
    assert_eq!(shifted.trace.sequence(0), &[0.0; H]);
    assert_ne!(started.action, shifted.action);
    // Without a prior the option has nothing to start from: the same plan either way.
    let alone = plan(true, None, &mut model);
    let plain = plan(false, None, &mut model);
    assert_eq!((alone.action, alone.trace.scores), (plain.action, plain.trace.scores));
}

/// Two particles whose rewards differ by a known amount: the penalised score is the mean return
/// minus κ times half their difference (the population standard deviation of two values).
#[test]
fn a_disagreement_penalty_subtracts_kappa_standard_deviations_of_the_particles_returns() {
    let (count, particles, horizon) = (3, 2, 4);
    let batch = SequenceBatch::new(count, horizon, 1);
    let mut rollout = RolloutBatch::default();
    rollout.resize(count, particles, horizon, 1, 0);
    // Sequence n, particle p: reward 1 + n + 2·p·n at every step, so the spread grows with n.
    for n in 0..count {
        for p in 0..particles {
            rollout.rewards_of_mut(n, p).fill((1 + n + 2 * p * n) as f32);
        }
    }
    let discounted = |r: f64| (0..horizon).map(|h| 0.5f64.powi(h as i32) * r).sum::<f64>();
    let mut scorer = Scorer::default();
    let (mut plain, mut penalised) = (Vec::new(), Vec::new());
    scorer.score(&batch, &rollout, ScoreRule::discounted(0.5), None, &mut plain);
    let rule = ScoreRule { discount: 0.5, disagreement_penalty: 1.5 };
    scorer.score(&batch, &rollout, rule, None, &mut penalised);
    for n in 0..count {
        let (low, high) = (discounted((1 + n) as f64), discounted((1 + 3 * n) as f64));
        let mean = 0.5 * (low + high);
        assert!((f64::from(plain[n]) - mean).abs() < 1e-5, "sequence {n}: {} vs {mean}", plain[n]);
        let want = mean - 1.5 * 0.5 * (high - low);
        assert!((f64::from(penalised[n]) - want).abs() < 1e-5, "sequence {n}: {} vs {want}", penalised[n]);
    }
    assert_eq!(plain[0], penalised[0], "particles that agree are not penalised");
    // Back to κ = 0 on the same scorer: the mean alone, bit for bit.
    let mut again = Vec::new();
    scorer.score(&batch, &rollout, ScoreRule { disagreement_penalty: 0.0, ..rule }, None, &mut again);
    assert_eq!(again, plain);
}

#[test]
fn a_negative_disagreement_penalty_is_refused_by_name() {
    let settings = PlannerSettings { disagreement_penalty: -0.5, ..PlannerSettings::default() };
    let error = settings.validate().unwrap_err().to_string();
    assert!(error.contains("planner.disagreement_penalty"), "{error}");
}
