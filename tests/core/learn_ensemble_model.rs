//! The ensemble as the planner's model: fast inference path vs burn, rollouts vs manual steps,
//! round-robin particle binding, deterministic noise, and reproducible planner trace scores.

use std::path::Path;

use demorl_studio::config::{EnsembleSettings, PlannerSettings, preset};
use demorl_studio::learn::{EnsembleModel, ModelNoise, ProbabilisticEnsemble, ReplayBuffer, StateDelta, StepEnd};
use demorl_studio::plan::{ActionMode, Model, Planner, RolloutBatch, ScoreRule, Scorer, SequenceBatch};
use demorl_studio::scene::load_scene;
use demorl_studio::sim::{Env, ObservedLimit, ObservedTermination};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Random-action pendulum transitions and a small ensemble fitted on them.
fn fitted_ensemble() -> (ProbabilisticEnsemble, ReplayBuffer, Vec<f32>) {
    let scene = load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    let mut env = Env::new(&scene);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut buf = ReplayBuffer::new(3, 1, 10_000, 0);
    env.reset(1);
    for k in 0..600 {
        let obs = env.observation();
        let a = [rng.random_range(-1.0f32..1.0)];
        let out = env.step(&a);
        buf.push(
            &obs,
            &a,
            out.reward,
            &env.observation(),
            if out.truncated { StepEnd::Truncated } else { StepEnd::Continues },
        );
        if out.done() {
            env.reset(2 + k);
        }
    }
    let settings = EnsembleSettings {
        members: 4,
        elites: 3,
        hidden_layers: 2,
        hidden_width: 32,
        max_epochs: 15,
        batch_size: 64,
        ..Default::default()
    };
    let mut ens = ProbabilisticEnsemble::new(4, 4, settings, 3);
    let (x, y) = buf.model_dataset(&StateDelta::plain(), 0.0);
    ens.fit(&x, &y);
    env.reset(77);
    (ens, buf, env.observation())
}

#[test]
fn fast_inference_matches_burn_forward() {
    let (ens, buf, _) = fitted_ensemble();
    let (x, _) = buf.model_dataset(&StateDelta::plain(), 0.0);
    let x = &x[..50 * 4];
    let burn = ens.predict(x);
    let all: Vec<usize> = (0..4).collect();
    let fast = ens.fast_members(&all);
    let mut worst = 0.0f32;
    for m in 0..4 {
        let (mean, var) = fast.predict(m, x);
        let block = 50 * 4;
        for (a, b) in mean
            .iter()
            .zip(&burn.mean[m * block..(m + 1) * block])
            .chain(var.iter().zip(&burn.var[m * block..(m + 1) * block]))
        {
            let err = (a - b).abs() / (1.0 + b.abs());
            worst = worst.max(err);
        }
    }
    println!("fast vs burn: worst relative error {worst:e}");
    assert!(worst < 1e-4, "{worst}");
}

#[test]
fn rollout_matches_manual_steps_with_round_robin_members() {
    let (ens, _, start) = fitted_ensemble();
    let elites = ens.elites().to_vec();
    let mut model = EnsembleModel::new(3, 1, ModelNoise::Mean, 9);
    model.set_members(ens.fast_elites());
    model.set_start(&start);
    let (count, horizon, particles) = (4, 6, 5);
    let mut batch = SequenceBatch::new(count, horizon, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    batch.actions.iter_mut().for_each(|a| *a = rng.random_range(-1.0..1.0));
    let mut out = RolloutBatch::default();
    assert_eq!(model.particles(particles), 3, "mean predictions need one particle per elite at most");
    model.set_noise(ModelNoise::Sampled);
    assert_eq!(model.particles(particles), particles);
    model.set_noise(ModelNoise::Mean);
    model.rollout(&batch, particles, &mut out);
    assert!(out.is_consistent());
    assert_eq!((out.count, out.particles, out.horizon, out.point_count), (count, particles, horizon, 0));
    for n in 0..count {
        for p in 0..particles {
            // Particle p follows elite p mod K: step it by hand with burn's prediction of that member.
            let member = elites[p % elites.len()];
            let mut s = start.clone();
            for h in 0..horizon {
                if h + 1 == horizon {
                    let fo = out.final_obs_of(n, p);
                    assert!(s.iter().zip(fo).all(|(a, b)| (a - b).abs() < 1e-4), "final obs {s:?} vs {fo:?}");
                }
                let input: Vec<f32> = s.iter().copied().chain(batch.action(n, h).iter().copied()).collect();
                let pred = ens.predict(&input);
                let y = &pred.mean[member * 4..member * 4 + 4];
                let r = out.rewards_of(n, p)[h];
                assert!((r - y[0]).abs() < 1e-3 * (1.0 + y[0].abs()), "n {n} p {p} h {h}: reward {r} vs {}", y[0]);
                s.iter_mut().zip(&y[1..]).for_each(|(x, d)| *x += d);
            }
            assert_eq!(out.terminated_at[out.lane(n, p)], horizon as u32, "the learned model never terminates");
        }
    }
    // Particles bound to the same member agree exactly under mean predictions.
    assert_eq!(out.rewards_of(1, 0), out.rewards_of(1, 3));
    assert_ne!(out.rewards_of(1, 0), out.rewards_of(1, 1));
}

/// Rewards and states (after each step) of lane (n, p) stepped by hand with burn's mean
/// prediction of elite p mod K.
fn manual_lane(
    ens: &ProbabilisticEnsemble,
    start: &[f32],
    batch: &SequenceBatch,
    n: usize,
    p: usize,
) -> Vec<(f32, Vec<f32>)> {
    let elites = ens.elites();
    let (member, od) = (elites[p % elites.len()], start.len());
    let mut s = start.to_vec();
    (0..batch.horizon)
        .map(|h| {
            let input: Vec<f32> = s.iter().copied().chain(batch.action(n, h).iter().copied()).collect();
            let pred = ens.predict(&input);
            let y = &pred.mean[member * (1 + od)..(member + 1) * (1 + od)];
            s.iter_mut().zip(&y[1..]).for_each(|(x, d)| *x += d);
            (y[0], s.clone())
        })
        .collect()
}

#[test]
fn known_termination_ends_each_lane_at_its_first_predicted_violation() {
    let (ens, _, start) = fitted_ensemble();
    let (count, horizon, particles, penalty) = (6, 8, 3, 5.0);
    let mut batch = SequenceBatch::new(count, horizon, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    batch.actions.iter_mut().for_each(|a| *a = rng.random_range(-1.0..1.0));
    let lanes: Vec<Vec<(f32, Vec<f32>)>> =
        (0..count * particles).map(|l| manual_lane(&ens, &start, &batch, l / particles, l % particles)).collect();
    // A speed limit that half the lanes cross at some step: the median of their peak |θ̇|.
    let mut peaks: Vec<f32> = lanes.iter().map(|l| l.iter().map(|(_, s)| s[2].abs()).fold(0.0, f32::max)).collect();
    peaks.sort_by(f32::total_cmp);
    let limit = peaks[peaks.len() / 2];
    let termination =
        ObservedTermination::new(vec![ObservedLimit { index: 2, min: -limit, max: limit, what: "θ̇".into() }], penalty);

    let mut model = EnsembleModel::new(3, 1, ModelNoise::Mean, 9);
    model.set_members(ens.fast_elites());
    model.set_termination(Some(termination));
    model.set_start(&start);
    let mut out = RolloutBatch::default();
    model.rollout(&batch, particles, &mut out);
    let mut ended = 0;
    for (l, lane) in lanes.iter().enumerate() {
        let (n, p) = (l / particles, l % particles);
        // Strictly beyond the limit, as the simulator's conditions; the margin keeps float noise
        // between the fast path and burn from deciding a lane that grazes the limit.
        let end = lane.iter().position(|(_, s)| s[2].abs() > limit);
        if lane.iter().any(|(_, s)| (s[2].abs() - limit).abs() < 1e-3) {
            continue;
        }
        assert_eq!(out.terminated_at[out.lane(n, p)], end.unwrap_or(horizon) as u32, "lane {l}");
        let rewards = out.rewards_of(n, p);
        for (h, (r, _)) in lane.iter().enumerate() {
            let expected = match end {
                Some(e) if h > e => 0.0,
                Some(e) if h == e => r - penalty,
                _ => *r,
            };
            assert!((rewards[h] - expected).abs() < 1e-3 * (1.0 + expected.abs()), "lane {l} step {h}");
        }
        ended += usize::from(end.is_some());
    }
    assert!(ended >= 3 && ended < count * particles, "{ended} of {} lanes ended", count * particles);
    // Without the termination no lane ends.
    model.set_termination(None);
    model.rollout(&batch, particles, &mut out);
    assert!(out.terminated_at.iter().all(|&t| t == horizon as u32));
}

#[test]
fn sampled_noise_is_reproducible_per_start() {
    let (ens, _, start) = fitted_ensemble();
    let mut model = EnsembleModel::new(3, 1, ModelNoise::Sampled, 9);
    model.set_members(ens.fast_elites());
    let mut batch = SequenceBatch::new(3, 5, 1);
    batch.actions.iter_mut().enumerate().for_each(|(i, a)| *a = (i as f32 * 0.37).sin());
    let roll = |model: &mut EnsembleModel, obs: &[f32]| {
        model.set_start(obs);
        let mut out = RolloutBatch::default();
        model.rollout(&batch, 4, &mut out);
        out
    };
    let a = roll(&mut model, &start);
    let other: Vec<f32> = start.iter().map(|x| x + 0.01).collect();
    let b = roll(&mut model, &other);
    let c = roll(&mut model, &start);
    assert_eq!(a, c);
    assert_ne!(a.rewards, b.rewards);
    // Sampled particles on the same member differ (P = 4 > K = 3: particles 0 and 3 share elite 0).
    assert_ne!(a.rewards_of(0, 0), a.rewards_of(0, 3));
    let mut mean_model = EnsembleModel::new(3, 1, ModelNoise::Mean, 9);
    mean_model.set_members(ens.fast_elites());
    assert_ne!(roll(&mut mean_model, &start).rewards, a.rewards);
}

#[test]
fn rollouts_are_identical_on_one_and_two_threads_points_included() {
    use demorl_studio::plan::ObservationKinematics;
    let (ens, _, start) = fitted_ensemble();
    let scene = load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    let drawing = std::sync::Arc::new(ObservationKinematics::new(Env::new(&scene).robot().clone()).unwrap());
    let mut batch = SequenceBatch::new(7, 6, 1);
    batch.actions.iter_mut().enumerate().for_each(|(i, a)| *a = (i as f32 * 0.61).cos());
    let roll = |threads: usize| {
        let mut model = EnsembleModel::new(3, 1, ModelNoise::Sampled, 4);
        model.set_members(ens.fast_elites());
        model.set_drawing(drawing.clone());
        model.set_threads(threads).unwrap();
        model.set_start(&start);
        let mut out = RolloutBatch::default();
        // Twice: the second rollout reuses the scratch of the first.
        model.rollout(&batch, 4, &mut out);
        model.rollout(&batch, 4, &mut out);
        out
    };
    let (one, two) = (roll(1), roll(2));
    assert_eq!(one, two);
    assert!(one.points.iter().any(|p| p[1] != one.points[0][1]), "the drawn tip moves");
    assert!(one.rewards.iter().all(|r| r.is_finite() && *r != 0.0));
}

#[test]
fn planner_with_learned_model_reproduces_its_trace_scores() {
    let (ens, _, start) = fitted_ensemble();
    let mut model = EnsembleModel::new(3, 1, ModelNoise::Sampled, 4);
    model.set_members(ens.fast_elites());
    let mut settings = preset("reference").unwrap();
    settings.horizon = 8;
    // The planner must pass its disagreement penalty on to its scores.
    settings.disagreement_penalty = 1.0;
    let mut planner = Planner::new(settings.clone(), 1, 11).unwrap();
    model.set_start(&start);
    let t = std::time::Instant::now();
    let plan = planner.plan(&mut model, None, None, ActionMode::Evaluation);
    println!("plan with the learned model: {:.2} ms (H 8, N 100, I 5, P 4)", t.elapsed().as_secs_f64() * 1e3);
    assert_eq!(plan.trace.particles, 4);
    // The plan's own rollouts, rolled out again from the same start and scored with κ.
    let rescore = |model: &mut EnsembleModel, trace: &demorl_studio::plan::PlanTrace, kappa: f32| {
        let mut batch = SequenceBatch::new(trace.sequence_count(), trace.horizon, 1);
        batch.actions.copy_from_slice(&trace.sequences);
        let mut out = RolloutBatch::default();
        model.set_start(&start);
        model.rollout(&batch, trace.particles, &mut out);
        let mut scores = Vec::new();
        let rule = ScoreRule { discount: settings.discount, disagreement_penalty: kappa };
        Scorer::default().score(&batch, &out, rule, None, &mut scores);
        scores
    };
    let scores = rescore(&mut model, &plan.trace, 1.0);
    assert_eq!(scores, plan.trace.scores);
    assert!(scores.iter().all(|s| s.is_finite()));
    let unpenalised = rescore(&mut model, &plan.trace, 0.0);
    assert!(scores.iter().zip(&unpenalised).all(|(s, u)| s <= u), "the penalty only takes away");
    assert_ne!(scores, unpenalised, "the members disagree, so the penalty changes scores");

    // Evaluation's own κ scores evaluation plans and leaves training plans at the training κ.
    let mut two_kappas = settings.clone();
    two_kappas.evaluation_disagreement_penalty = Some(3.0);
    let plan_with = |mode: ActionMode, model: &mut EnsembleModel| {
        model.set_start(&start);
        Planner::new(two_kappas.clone(), 1, 11).unwrap().plan(model, None, None, mode)
    };
    let evaluation = plan_with(ActionMode::Evaluation, &mut model);
    let training = plan_with(ActionMode::Training, &mut model);
    assert_eq!(rescore(&mut model, &evaluation.trace, 3.0), evaluation.trace.scores, "evaluation plans score with κ 3");
    assert_eq!(rescore(&mut model, &training.trace, 1.0), training.trace.scores, "training plans keep κ 1");

    // κ set by the training falls (`train.fall_caution`) scores training plans, and evaluation
    // plans unless evaluation has its own κ; it survives the planner's saved state.
    let plan_adapted = |settings: &PlannerSettings, mode: ActionMode, model: &mut EnsembleModel| {
        let mut planner = Planner::new(settings.clone(), 1, 11).unwrap();
        planner.set_adapted_penalty(Some(2.5));
        let mut restored = Planner::new(settings.clone(), 1, 11).unwrap();
        restored.restore(planner.state()).unwrap();
        model.set_start(&start);
        restored.plan(model, None, None, mode)
    };
    let training = plan_adapted(&settings, ActionMode::Training, &mut model);
    assert_eq!(rescore(&mut model, &training.trace, 2.5), training.trace.scores, "training plans use the adapted κ");
    let evaluation = plan_adapted(&settings, ActionMode::Evaluation, &mut model);
    assert_eq!(rescore(&mut model, &evaluation.trace, 2.5), evaluation.trace.scores, "so do evaluation plans");
    let evaluation = plan_adapted(&two_kappas, ActionMode::Evaluation, &mut model);
    assert_eq!(rescore(&mut model, &evaluation.trace, 3.0), evaluation.trace.scores, "evaluation's own κ wins");
}

/// Timing at the benchmark sizes (cheetah: obs 17, act 6; 7 × 4 × 200 Swish, 5 elites,
/// 4 particles; reference preset; random weights). Run with `--ignored --nocapture`.
#[test]
#[ignore]
fn planner_step_at_cheetah_sizes() {
    let (od, ad) = (17, 6);
    let ens = ProbabilisticEnsemble::new(od + ad, 1 + od, EnsembleSettings::default(), 0);
    let mut model = EnsembleModel::new(od, ad, ModelNoise::Sampled, 0);
    model.set_members(ens.fast_members(&[0, 1, 2, 3, 4]));
    let mut planner = Planner::new(preset("reference").unwrap(), ad, 0).unwrap();
    let obs = vec![0.1f32; od];
    model.set_start(&obs);
    planner.plan(&mut model, None, None, ActionMode::Training);
    let n = 20;
    let t = std::time::Instant::now();
    for k in 0..n {
        let obs: Vec<f32> = (0..od).map(|i| ((i + k) as f32 * 0.1).sin()).collect();
        model.set_start(&obs);
        planner.plan(&mut model, None, None, ActionMode::Training);
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    // Work: (N + 0 prior) × P lanes × H steps × I iterations (+ the mean plan) through one member.
    let sizes = ens.layer_sizes();
    let flops_per_row: usize = sizes.windows(2).map(|w| 2 * w[0] * w[1]).sum();
    let rows = 100 * 4 * 3 * 5 + 4 * 3;
    let gflops = (rows * flops_per_row) as f64 / (ms * 1e-3) / 1e9;
    println!(
        "cheetah-size planner step with the learned model: {ms:.2} ms ({gflops:.1} GFLOP/s in the member matmuls)"
    );
}
