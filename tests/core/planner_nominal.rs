//! Planning around a periodic nominal schedule (a gait): the clock, the correction the
//! Gaussian holds, checkpoints, and the errors for schedules that do not fit the robot.

use crate::planner_common;

use demorl_studio::config::{LastBlock, Loss, PeriodicNominal, PlannerSettings, ShiftRule, VarianceShift};
use demorl_studio::plan::{ActionMode, Planner};
use planner_common::{Breakable, Lqr};

fn schedule() -> PeriodicNominal {
    PeriodicNominal { period_steps: 7.0, amplitude: vec![0.5], phase: vec![0.25], offset: vec![0.1] }
}

fn settings(last_block: LastBlock) -> PlannerSettings {
    PlannerSettings {
        horizon: 6,
        samples: 64,
        iterations: 3,
        loss: Loss::Cem { elite_fraction: 0.2 },
        variance_step: 0.5,
        min_std: 0.01,
        shift: ShiftRule { last_block, variance: VarianceShift::Reset },
        discount: 1.0,
        particles: 1,
        policy_fraction: 0.0,
        nominal: Some(schedule()),
        ..PlannerSettings::default()
    }
}

fn window(start: u64, horizon: usize) -> Vec<f32> {
    let mut w = Vec::new();
    schedule().window_into(start, horizon, 1, &mut w);
    w
}

/// With nothing to learn from, the plan is the schedule at the episode's clock, plan after
/// plan, and the Gaussian's own mean stays the zero correction; a reset restarts the clock.
#[test]
fn without_information_the_plan_is_the_schedule() {
    for last_block in [LastBlock::Copy, LastBlock::Reset] {
        let mut model = Breakable { inner: Lqr::standard(), broken: true };
        let mut planner = Planner::new(settings(last_block), 1, 3).unwrap();
        for step in 0..20u64 {
            let out = planner.plan(&mut model, None, None, ActionMode::Evaluation);
            assert_eq!(out.trace.mean_actions, window(step, 6), "{last_block:?}, step {step}");
            assert_eq!(out.action, [schedule().value(step, 0)]);
            assert_eq!(planner.distribution().mean(), &[0.0; 6]);
        }
        planner.reset();
        let out = planner.plan(&mut model, None, None, ActionMode::Evaluation);
        assert_eq!(out.action, [schedule().value(0, 0)]);
    }
}

/// The Gaussian carries the correction to the schedule from one plan to the next: after a
/// shift, step h of the new plan is the old correction at h + 1 plus the schedule one step
/// later; `Reset` brings in the schedule itself as the new last step, `Copy` repeats the
/// last correction on top of it.
#[test]
fn the_correction_shifts_and_the_schedule_moves_on() {
    for last_block in [LastBlock::Copy, LastBlock::Reset] {
        let mut model = Breakable { inner: Lqr::standard(), broken: false };
        let mut planner = Planner::new(settings(last_block), 1, 5).unwrap();
        let first = planner.plan(&mut model, None, None, ActionMode::Evaluation);
        let correction = planner.distribution().mean().to_vec();
        assert!(correction.iter().all(|&c| c != 0.0), "the LQR plan differs from the schedule");
        let rebuilt: Vec<f32> = correction.iter().zip(window(0, 6)).map(|(c, g)| (c + g).clamp(-1.0, 1.0)).collect();
        for (a, b) in rebuilt.iter().zip(&first.trace.mean_actions) {
            assert!((a - b).abs() < 1e-6, "correction + schedule {rebuilt:?} != plan {:?}", first.trace.mean_actions);
        }

        model.broken = true;
        let out = planner.plan(&mut model, None, None, ActionMode::Evaluation);
        let next = window(1, 6);
        let last = if last_block == LastBlock::Copy { correction[5] } else { 0.0 };
        let expected: Vec<f32> = (0..6)
            .map(|h| {
                let c = if h < 5 { correction[h + 1] } else { last };
                (c + next[h]).clamp(-1.0, 1.0)
            })
            .collect();
        for (a, b) in expected.iter().zip(&out.trace.mean_actions) {
            assert!(
                (a - b).abs() < 1e-6,
                "{last_block:?}: expected {expected:?}, planned {:?}",
                out.trace.mean_actions
            );
        }
    }
}

/// A checkpointed planner continues on the same clock: the restored copy plans exactly
/// what the original plans next.
#[test]
fn the_clock_survives_a_checkpoint() {
    let mut model = Breakable { inner: Lqr::standard(), broken: false };
    let mut planner = Planner::new(settings(LastBlock::Reset), 1, 8).unwrap();
    for _ in 0..4 {
        planner.plan(&mut model, None, None, ActionMode::Evaluation);
    }
    let state = planner.state();
    assert_eq!(state.step, 3);
    let mut restored = Planner::new(PlannerSettings::default(), 1, 0).unwrap();
    restored.restore(state).unwrap();
    let a = planner.plan(&mut model, None, None, ActionMode::Evaluation);
    let b = restored.plan(&mut model, None, None, ActionMode::Evaluation);
    assert_eq!(a.action, b.action);
    assert_eq!(a.trace.mean_actions, b.trace.mean_actions);
}

#[test]
fn a_schedule_for_more_actions_than_the_robot_has_is_refused() {
    let mut s = settings(LastBlock::Reset);
    s.nominal.as_mut().unwrap().amplitude = vec![0.1, 0.2, 0.3];
    let message = Planner::new(s.clone(), 2, 0).err().expect("refused").to_string();
    assert!(message.contains("planner.nominal") && message.contains("at most the robot's 2 actions"), "{message}");
    assert!(Planner::new(s.clone(), 3, 0).is_ok());
    // Also when the schedule arrives as a live settings change.
    let mut planner = Planner::new(PlannerSettings::default(), 2, 0).unwrap();
    assert!(planner.set_settings(s.clone()).is_err());
    assert!(planner.pending_settings().is_none());
    // And when a saved planner state carries it.
    let mut state = planner.state();
    state.settings = s;
    assert!(planner.restore(state).unwrap_err().to_string().contains("planner.nominal"));
}

#[test]
fn schedules_round_trip_through_ron_and_bad_values_are_named() {
    let s = settings(LastBlock::Reset);
    assert_eq!(PlannerSettings::from_ron(&s.to_ron()).unwrap(), s);
    // Phase and offset may be left out.
    let text = "(nominal: Some((period_steps: 8.0, amplitude: [0.1, 0.0])))";
    let read = PlannerSettings::from_ron(text).unwrap();
    assert_eq!(read.nominal.unwrap().phase, Vec::<f32>::new());
    let bad = "(nominal: Some((period_steps: 0.0, amplitude: [0.1])))";
    let message = PlannerSettings::from_ron(bad).unwrap_err().to_string();
    assert!(message.contains("planner.nominal.period_steps"), "{message}");
    let bad = "(nominal: Some((period_steps: 8.0, amplitude: [0.1, NaN])))";
    let message = PlannerSettings::from_ron(bad).unwrap_err().to_string();
    assert!(message.contains("planner.nominal.amplitude") && message.contains("entry 1"), "{message}");
}
