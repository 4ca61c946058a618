//! Every loss x mirror map drives the mean plan to the exact finite-horizon LQR optimum.

use crate::planner_common;

use demorl_studio::config::{ActionChoice, Loss, MirrorMap, PeriodicNominal, PlannerSettings, TerminalChoice};
use demorl_studio::plan::{ActionMode, Planner};
use planner_common::Lqr;

const HORIZON: usize = 15;
const SEEDS: u64 = 8;

/// A well-conditioned double integrator whose unconstrained optimum stays inside [-1, 1].
fn problem() -> Lqr {
    Lqr { r: 1.0, x0: [1.0, 0.0], ..Lqr::standard() }
}

fn settings(loss: Loss, map: MirrorMap, mean_step: f32, variance_step: f32) -> PlannerSettings {
    PlannerSettings {
        horizon: HORIZON,
        samples: 200,
        iterations: 50,
        loss,
        mirror_map: map,
        mean_step,
        variance_step,
        initial_std: 0.5,
        min_std: 0.05,
        discount: 1.0,
        particles: 1,
        policy_fraction: 0.0,
        training_action: ActionChoice::Mean,
        terminal_value: TerminalChoice::None,
        ..PlannerSettings::default()
    }
}

/// One configuration per loss x mirror map, with steps suited to each geometry.
fn cases() -> Vec<(&'static str, PlannerSettings)> {
    let cem = Loss::Cem { elite_fraction: 0.1 };
    let mppi = Loss::Mppi { temperature: 0.1 };
    vec![
        ("cem/kl", settings(cem, MirrorMap::Kl, 1.0, 0.5)),
        ("mppi/kl", PlannerSettings { min_std: 0.1, ..settings(mppi, MirrorMap::Kl, 1.0, 0.5) }),
        ("expected-cost/kl", settings(Loss::ExpectedCost, MirrorMap::Kl, 1.0, 1.0)),
        // The Euclidean step is not preconditioned by the variance, so it is much smaller.
        ("cem/euclidean", settings(cem, MirrorMap::Euclidean, 0.005, 0.5)),
        (
            "mppi/euclidean",
            PlannerSettings {
                min_std: 0.1,
                ..settings(Loss::Mppi { temperature: 0.3 }, MirrorMap::Euclidean, 0.01, 0.5)
            },
        ),
        // Classic Euclidean mirror descent with a fixed covariance.
        (
            "expected-cost/euclidean",
            PlannerSettings { initial_std: 0.1, ..settings(Loss::ExpectedCost, MirrorMap::Euclidean, 0.01, 0.0) },
        ),
    ]
}

/// Relative excess cost (J(mean) - J*) / J* of the final mean plan, one per seed.
fn relative_gaps(settings: &PlannerSettings, iterations: usize) -> Vec<f64> {
    let mut model = problem();
    let (_, optimum) = model.optimum(HORIZON);
    let s = PlannerSettings { iterations, ..settings.clone() };
    let mut planner = Planner::new(s, 1, 0).unwrap();
    (0..SEEDS)
        .map(|seed| {
            planner.reseed(seed);
            planner.reset();
            let out = planner.plan(&mut model, None, None, ActionMode::Evaluation);
            (model.cost_f32(&out.trace.mean_actions) - optimum) / optimum
        })
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn reference_problem_is_meaningful() {
    let model = problem();
    let (u, optimum) = model.optimum(HORIZON);
    assert!(u.iter().all(|v| v.abs() < 0.9), "optimum leaves the bounds: {u:?}");
    // Doing nothing costs three times the optimum, so a 5% gap is a real requirement.
    assert!(model.cost(&[0.0; HORIZON]) > 2.5 * optimum);
    // The solve is exact: perturbing any action increases the cost.
    for i in 0..HORIZON {
        for d in [-1e-3, 1e-3] {
            let mut v = u.clone();
            v[i] += d;
            assert!(model.cost(&v) > optimum);
        }
    }
}

#[test]
fn every_loss_and_map_reaches_the_optimum() {
    for (name, s) in cases() {
        let gaps = relative_gaps(&s, s.iterations);
        let worst = gaps.iter().cloned().fold(0.0, f64::max);
        assert!(
            worst <= 0.05,
            "{name}: final mean is {:.2}% above the optimum (worst seed; mean {:.2}%)",
            worst * 100.0,
            mean(&gaps) * 100.0
        );
    }
}

#[test]
fn more_iterations_never_hurt_on_average() {
    for (name, s) in cases() {
        let costs: Vec<f64> = [2, 5, 20].into_iter().map(|i| mean(&relative_gaps(&s, i))).collect();
        for w in costs.windows(2) {
            assert!(w[1] <= w[0] * 1.02 + 1e-3, "{name}: average gap rose with more iterations: {costs:?}");
        }
        assert!(costs[2] < costs[0], "{name}: 20 iterations did not improve on 2: {costs:?}");
    }
}

/// A nominal schedule only moves where the search starts: planning around a schedule far
/// from the optimum still ends at the LQR optimum (given twice the iterations, as the start
/// is further away than the zero plan).
#[test]
fn a_nominal_schedule_does_not_bias_the_optimum() {
    let schedule = PeriodicNominal { period_steps: 5.0, amplitude: vec![0.6], phase: vec![0.1], offset: vec![-0.2] };
    let model = problem();
    let mut start = Vec::new();
    schedule.window_into(0, HORIZON, 1, &mut start);
    let (_, optimum) = model.optimum(HORIZON);
    assert!(model.cost_f32(&start) > 2.0 * optimum, "the schedule must start far from the optimum");
    for (name, s) in cases() {
        let s = PlannerSettings { nominal: Some(schedule.clone()), ..s };
        let gaps = relative_gaps(&s, 2 * s.iterations);
        let worst = gaps.iter().cloned().fold(0.0, f64::max);
        assert!(worst <= 0.05, "{name} around a schedule: {:.2}% above the optimum (worst seed)", worst * 100.0);
    }
}
