//! The shift between control steps, on the distribution directly and inside the planner.

use crate::planner_common;

use demorl_studio::config::{LastBlock, Loss, PlannerSettings, ShiftRule, VarianceShift};
use demorl_studio::plan::{ActionMode, Planner, SequenceGaussian};
use planner_common::{Breakable, Lqr};

/// H = 4, da = 2: mean block h is (h + 0.1, -(h + 0.1)) / 10, variance block h is 0.01 (h + 1).
fn numbered() -> SequenceGaussian {
    let mut g = SequenceGaussian::new(4, 2, 0.5, 0.05);
    let mean: Vec<f32> = (0..4)
        .flat_map(|h| {
            let v = (h as f32 + 0.1) / 10.0;
            [v, -v]
        })
        .collect();
    let var: Vec<f32> = (0..4).flat_map(|h| [0.01 * (h + 1) as f32; 2]).collect();
    g.set_mean(&mean);
    g.set_variance(&var);
    g
}

fn rule(last_block: LastBlock, variance: VarianceShift) -> ShiftRule {
    ShiftRule { last_block, variance }
}

#[test]
fn copy_last_block_and_reset_variance() {
    let mut g = numbered();
    g.shift(&rule(LastBlock::Copy, VarianceShift::Reset));
    assert_eq!(g.mean(), &[0.11, -0.11, 0.21, -0.21, 0.31, -0.31, 0.31, -0.31]);
    assert_eq!(g.variance(), &[0.25; 8]);
}

#[test]
fn reset_last_block_and_shift_inflate_variance() {
    let mut g = numbered();
    g.shift(&rule(LastBlock::Reset, VarianceShift::ShiftInflate { factor: 2.0 }));
    assert_eq!(g.mean(), &[0.11, -0.11, 0.21, -0.21, 0.31, -0.31, 0.0, 0.0]);
    assert_eq!(g.variance(), &[0.02, 0.02, 0.03, 0.03, 0.04, 0.04, 0.08, 0.08]);
}

#[test]
fn inflated_variance_is_capped_at_initial() {
    let mut g = numbered();
    g.shift(&rule(LastBlock::Copy, VarianceShift::ShiftInflate { factor: 100.0 }));
    assert_eq!(&g.variance()[6..], &[0.25, 0.25]);
    assert_eq!(&g.mean()[6..], &[0.31, -0.31]);
    // Factor 1 repeats the last variance block.
    let mut g = numbered();
    g.shift(&rule(LastBlock::Reset, VarianceShift::ShiftInflate { factor: 1.0 }));
    assert_eq!(&g.variance()[4..], &[0.04, 0.04, 0.04, 0.04]);
}

#[test]
fn reset_restores_episode_start() {
    let mut g = numbered();
    g.reset();
    assert_eq!(g.mean(), &[0.0; 8]);
    assert_eq!(g.variance(), &[0.25; 8]);
}

#[test]
fn planner_shifts_between_plans_but_not_after_reset() {
    for (shift, expect_last_copy) in [
        (rule(LastBlock::Copy, VarianceShift::ShiftInflate { factor: 1.5 }), true),
        (rule(LastBlock::Reset, VarianceShift::Reset), false),
    ] {
        let s = PlannerSettings {
            horizon: 6,
            samples: 64,
            iterations: 3,
            loss: Loss::Cem { elite_fraction: 0.2 },
            variance_step: 0.5,
            min_std: 0.01,
            shift,
            discount: 1.0,
            particles: 1,
            policy_fraction: 0.0,
            ..PlannerSettings::default()
        };
        let mut model = Breakable { inner: Lqr::standard(), broken: false };
        let mut planner = Planner::new(s, 1, 9).unwrap();
        planner.plan(&mut model, None, None, ActionMode::Evaluation);
        let mean = planner.distribution().mean().to_vec();
        let var = planner.distribution().variance().to_vec();
        assert!(mean.iter().all(|&m| m != 0.0));

        model.broken = true;
        let out = planner.plan(&mut model, None, None, ActionMode::Evaluation);
        assert!(out.trace.iterations.iter().all(|it| it.all_invalid));
        let dist = planner.distribution();
        assert_eq!(&dist.mean()[..5], &mean[1..]);
        let last = if expect_last_copy { mean[5] } else { 0.0 };
        assert_eq!(dist.mean()[5], last);
        if expect_last_copy {
            assert_eq!(&dist.variance()[..5], &var[1..]);
            assert_eq!(dist.variance()[5], (var[5] * 1.5).min(0.25));
        } else {
            assert_eq!(dist.variance(), &[0.25; 6]);
        }
        assert_eq!(out.action, [dist.mean()[0]]);

        // After a reset the next plan starts from zero without shifting.
        planner.reset();
        planner.plan(&mut model, None, None, ActionMode::Evaluation);
        assert_eq!(planner.distribution().mean(), &[0.0; 6]);
    }
}

/// With `keep_mean` the first sample of every iteration is the current mean, so with MPPI at a
/// tiny temperature (weights on the best sample only) the best score never drops between
/// iterations: a good plan survives a batch of worse draws.
#[test]
fn keep_mean_scores_the_current_plan_first() {
    let s = PlannerSettings {
        horizon: 6,
        samples: 8,
        iterations: 6,
        loss: Loss::Mppi { temperature: 1e-4 },
        variance_step: 0.0,
        initial_std: 0.6,
        min_std: 0.6,
        discount: 1.0,
        particles: 1,
        policy_fraction: 0.0,
        ..PlannerSettings::default()
    };
    for keep_mean in [true, false] {
        let mut model = Lqr::standard();
        let mut planner = Planner::new(PlannerSettings { keep_mean, iterations: 1, ..s.clone() }, 1, 4).unwrap();
        let out = planner.plan(&mut model, None, None, ActionMode::Evaluation);
        // A fresh plan's mean is zero: the first sequence is that mean only with `keep_mean`.
        assert_eq!(out.trace.sequence(0) == [0.0; 6], keep_mean);
    }
    let mut drops = 0;
    for seed in 0..8 {
        let mut model = Lqr::standard();
        let mut planner = Planner::new(PlannerSettings { keep_mean: true, ..s.clone() }, 1, seed).unwrap();
        for _ in 0..3 {
            let out = planner.plan(&mut model, None, None, ActionMode::Evaluation);
            for pair in out.trace.iterations.windows(2) {
                assert!(pair[1].best >= pair[0].best - 1e-5, "seed {seed}: {} after {}", pair[1].best, pair[0].best);
            }
        }
        let mut planner = Planner::new(PlannerSettings { keep_mean: false, ..s.clone() }, 1, seed).unwrap();
        let out = planner.plan(&mut model, None, None, ActionMode::Evaluation);
        drops += out.trace.iterations.windows(2).filter(|p| p[1].best < p[0].best - 1e-5).count();
    }
    // Without it, eight wide draws often all miss the last mean.
    assert!(drops > 0);
}
