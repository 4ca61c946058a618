//! Same seed, same plans; and the trace's scores are what the model and scorer say about its sequences.

use crate::planner_common;

use demorl_studio::config::{Loss, PlannerSettings};
use demorl_studio::plan::{
    ActionMode, PlanOutput, Planner, PolicyPrior, ScoreRule, Scorer, SequenceBatch, TerminalValue,
};
use planner_common::Lqr;

struct ConstantPrior(f32);

impl PolicyPrior for ConstantPrior {
    fn propose(&mut self, _: usize, _: usize, _: usize, out: &mut Vec<f32>) {
        out.fill(self.0);
    }
}

/// Q(s, a) = -(position^2) + 0.1 a, enough to make the terminal term matter.
struct ToyCritic;

impl TerminalValue for ToyCritic {
    fn values(&mut self, obs: &[f32], obs_dim: usize, actions: &[f32], da: usize, out: &mut [f32]) {
        for ((o, a), v) in obs.chunks(obs_dim).zip(actions.chunks(da)).zip(out) {
            *v = -o[0] * o[0] + 0.1 * a[0];
        }
    }
}

fn settings(loss: Loss) -> PlannerSettings {
    PlannerSettings {
        horizon: 8,
        samples: 40,
        iterations: 3,
        loss,
        policy_fraction: 0.1,
        particles: 1,
        ..PlannerSettings::default()
    }
}

fn run(seed: u64, loss: Loss, plans: usize) -> Vec<PlanOutput> {
    let mut model = Lqr::standard();
    let mut planner = Planner::new(settings(loss), 1, seed).unwrap();
    (0..plans)
        .map(|_| planner.plan(&mut model, Some(&mut ConstantPrior(-0.3)), Some(&mut ToyCritic), ActionMode::Training))
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn same_seed_gives_bitwise_identical_plans() {
    for loss in [Loss::Mppi { temperature: 1.0 }, Loss::Cem { elite_fraction: 0.1 }, Loss::ExpectedCost] {
        let a = run(11, loss, 4);
        let b = run(11, loss, 4);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(bits(&x.action), bits(&y.action));
            assert_eq!(bits(&x.trace.sequences), bits(&y.trace.sequences));
            assert_eq!(bits(&x.trace.scores), bits(&y.trace.scores));
            assert_eq!(bits(&x.trace.weights), bits(&y.trace.weights));
            assert_eq!(bits(&x.trace.mean_actions), bits(&y.trace.mean_actions));
            assert_eq!(bits(&x.trace.std), bits(&y.trace.std));
            assert_eq!(x.trace.chosen, y.trace.chosen);
            assert_eq!(x.trace.mean_score.to_bits(), y.trace.mean_score.to_bits());
        }
        // A different seed explores differently.
        let c = run(12, loss, 1);
        assert_ne!(bits(&a[0].trace.sequences), bits(&c[0].trace.sequences));
    }
}

#[test]
fn trace_scores_match_reevaluation() {
    let outputs = run(5, Loss::Mppi { temperature: 1.0 }, 3);
    let mut model = Lqr::standard();
    let mut scorer = Scorer::default();
    let mut rollout = Default::default();
    let mut scores = Vec::new();
    for out in &outputs {
        let t = &out.trace;
        assert_eq!(t.prior_count, 4);
        let batch = SequenceBatch {
            count: t.sequence_count(),
            horizon: t.horizon,
            action_dim: t.action_dim,
            actions: t.sequences.clone(),
        };
        use demorl_studio::plan::Model;
        model.rollout(&batch, 1, &mut rollout);
        scorer.score(&batch, &rollout, ScoreRule::discounted(0.99), Some(&mut ToyCritic), &mut scores);
        assert_eq!(bits(&scores), bits(&t.scores));
        assert_eq!(rollout.points, t.points);

        let mean =
            SequenceBatch { count: 1, horizon: t.horizon, action_dim: t.action_dim, actions: t.mean_actions.clone() };
        model.rollout(&mean, 1, &mut rollout);
        scorer.score(&mean, &rollout, ScoreRule::discounted(0.99), Some(&mut ToyCritic), &mut scores);
        assert_eq!(scores[0].to_bits(), t.mean_score.to_bits());
        assert_eq!(rollout.points, t.mean_points);
    }
}
