//! Learned-model MPC (PETS-like) and DeMoRL agents: hooks, stored actions, schedules, determinism.

use crate::learning_common;

use std::path::Path;

use demorl_studio::agent::{ActorPrior, CriticValue, LearnedPlannerAgent, TrainAgent, Trainer, run_learning};
use demorl_studio::config::{
    EnsembleSettings, PlannerSettings, PlannerStart, RunConfig, RunMode, TerminalChoice, TrainSettings, preset,
};
use demorl_studio::learn::StateDelta;
use demorl_studio::plan::{ActionMode, PolicyPrior, RolloutBatch, ScoreRule, Scorer, SequenceBatch, TerminalValue};
use demorl_studio::scene::{Scene, load_scene};
use demorl_studio::sim::Env;
use learning_common::{small_planner, small_train};

fn pendulum() -> Scene {
    load_scene(Path::new("scenes/pendulum.ron")).unwrap()
}

fn trainer(with_sac: bool, seed: u64) -> Trainer<LearnedPlannerAgent> {
    let agent = LearnedPlannerAgent::new(3, 1, small_train(), small_planner(), with_sac, seed).unwrap();
    Trainer::new(&pendulum(), agent, small_train(), seed).unwrap()
}

#[test]
fn demorl_stores_planner_actions_and_learns_on_schedule() {
    let mut t = trainer(true, 2);
    for _ in 0..100 {
        t.step();
    }
    // The warm-up ended with the first model fit; SAC has not updated yet.
    assert!(t.agent.model.is_ready());
    assert_eq!(t.agent.sac.as_ref().unwrap().updates(), 0);
    assert!(t.agent.last_plan.is_none(), "warm-up acts at random");
    for _ in 0..50 {
        t.step();
        // What the planner executed is what the replay buffer holds.
        let plan = t.agent.last_plan.as_ref().expect("plans after warm-up");
        let stored = t.agent.replay.get(t.agent.replay.len() - 1);
        assert_eq!(stored.actions, plan.action);
        assert_eq!(plan.trace.prior_count, small_planner().prior_count());
        assert!(plan.trace.prior_count > 0);
    }
    assert_eq!(t.agent.sac.as_ref().unwrap().updates(), 50, "one SAC update per env step after warm-up");
    let last = t.state.rows.last().unwrap();
    assert_eq!((last.env_steps, last.model_fits), (150, 2), "fits at 100 and then every 50 steps");
    assert!(last.model_holdout_mse.is_finite() && last.critic_loss.is_finite());
    assert!(last.actor_action_gap > 0.0 && last.actor_action_gap.is_finite(), "{last:?}");
    assert_eq!(last.plans, 50, "every planned step is logged");
    assert!(last.plan_effective_sample_size >= 1.0 && last.plan_best_score.is_finite(), "{last:?}");
    assert!(t.agent.plan_ms() > 0.0);
}

fn gated_trainer(start: PlannerStart, with_sac: bool, seed: u64) -> Trainer<LearnedPlannerAgent> {
    let settings = TrainSettings { planner_start: start, ..small_train() };
    let agent = LearnedPlannerAgent::new(3, 1, settings.clone(), small_planner(), with_sac, seed).unwrap();
    Trainer::new(&pendulum(), agent, settings, seed).unwrap()
}

#[test]
fn before_the_planner_starts_the_actor_acts() {
    let mut demorl = gated_trainer(PlannerStart::Step(130), true, 2);
    let mut pets = gated_trainer(PlannerStart::Step(130), false, 2);
    for step in 0..160u64 {
        let (ours, random) = (demorl.step(), pets.step());
        assert_eq!(ours.stats.plan.is_some(), step >= 130, "DeMoRL plans from step 130 only (step {step})");
        assert_eq!(random.stats.plan.is_some(), step >= 130, "PETS plans from step 130 only (step {step})");
        // Warm-up draws the same uniform actions in both; after it DeMoRL's actor samples while
        // PETS goes on drawing from the warm-up stream.
        assert_eq!(ours.action == random.action, step < 100, "step {step}: {:?} {:?}", ours.action, random.action);
    }
    assert_eq!(demorl.agent.planning_since(), Some(130));
    let stored = demorl.agent.replay.get(demorl.agent.replay.len() - 1);
    assert_eq!(stored.actions, demorl.agent.last_plan.as_ref().unwrap().action, "the plan's action is executed");
}

#[test]
fn the_planner_starts_at_the_first_fit_whose_error_is_low_enough() {
    // The first fit (step 100) sees the same uniform warm-up data whatever the gate, so its
    // error is known in advance: a limit just below it must not open the gate then.
    let mut paper = gated_trainer(PlannerStart::WarmUp, true, 4);
    let first_error = (0..=100).find_map(|_| paper.step().stats.model_fit).unwrap().holdout_mse;
    assert_eq!(paper.agent.planning_since(), None, "not yet acted after the first fit");
    paper.step();
    assert_eq!(paper.agent.planning_since(), Some(100), "the paper's loop plans from the first fit");

    let limit = 0.999 * first_error;
    let mut gated = gated_trainer(PlannerStart::ModelError(limit), true, 4);
    let mut opened_at = None;
    for step in 0..400u64 {
        let out = gated.step();
        assert_eq!(out.stats.plan.is_some(), opened_at.is_some_and(|s| step >= s), "step {step}");
        if let Some(fit) = out.stats.model_fit {
            if step == 99 {
                assert_eq!(fit.holdout_mse, first_error, "the first fit is the paper loop's");
            }
            if opened_at.is_none() && fit.holdout_mse <= limit {
                opened_at = Some(step + 1);
            }
        }
    }
    let opened_at = opened_at.expect("a later fit reaches the limit");
    assert!(opened_at > 100, "{opened_at}");
    assert_eq!(gated.agent.planning_since(), Some(opened_at));

    let mut never = gated_trainer(PlannerStart::ModelError(1e-12), true, 4);
    assert!((0..300).all(|_| never.step().stats.plan.is_none()), "an unreachable error never lets the planner act");
}

/// DeMoRL on the pendulum whose plans end in the first critic from `terminal_value_start` on
/// (`Some`), or never (`None`: `planner.terminal_value = None`).
fn valued_trainer(terminal_value_start: Option<u64>) -> Trainer<LearnedPlannerAgent> {
    let settings = TrainSettings { terminal_value_start: terminal_value_start.unwrap_or(0), ..small_train() };
    let terminal_value =
        if terminal_value_start.is_some() { TerminalChoice::FirstCritic } else { TerminalChoice::None };
    let planner = PlannerSettings { terminal_value, ..small_planner() };
    let agent = LearnedPlannerAgent::new(3, 1, settings.clone(), planner, true, 5).unwrap();
    Trainer::new(&pendulum(), agent, settings, 5).unwrap()
}

#[test]
fn plans_score_predicted_rewards_until_the_terminal_value_starts() {
    // Until step 121 the run plans exactly as one without a terminal value (same actions, so the
    // same data and the same SAC); an evaluation at step 110 too, one at step 121 not.
    let (mut late, mut never) = (valued_trainer(Some(121)), valued_trainer(None));
    for step in 0..121u64 {
        let (ours, plain) = (late.step(), never.step());
        assert_eq!(ours.action, plain.action, "step {step}: the critic steered a plan before its start");
        assert_eq!(ours.stats.plan.is_some(), step >= 100, "step {step}");
        if step == 109 {
            assert_eq!(late.evaluate().eval_return_mean, never.evaluate().eval_return_mean, "evaluation at 110");
        }
    }
    let (ours, plain) = (late.evaluate(), never.evaluate());
    assert_ne!(ours.eval_return_mean, plain.eval_return_mean, "the evaluation at step 121 ignored the critic");
    assert_ne!(late.step().action, never.step().action, "the plan at step 121 ignored the critic");
}

#[test]
fn critic_value_and_actor_prior_hooks() {
    let mut t = trainer(true, 3);
    for _ in 0..130 {
        t.step();
    }
    let agent = &mut t.agent;
    let sac = agent.sac.as_ref().unwrap();
    let obs = [0.5f32, 0.8, -0.2, -1.0, 0.0, 1.0];
    let act = [0.3f32, -0.7];
    let (q1, q2) = sac.q_values(&obs, &act);
    let mut out = [0.0f32; 2];
    CriticValue { sac, choice: TerminalChoice::FirstCritic }.values(&obs, 3, &act, 1, &mut out);
    assert_eq!(out.to_vec(), q1);
    CriticValue { sac, choice: TerminalChoice::MinCritic }.values(&obs, 3, &act, 1, &mut out);
    assert_eq!(out.to_vec(), q1.iter().zip(&q2).map(|(a, b)| a.min(*b)).collect::<Vec<_>>());
    // At the actor's action: the planned last actions are ignored.
    let (q_actor, _) = sac.q_values(&obs, &sac.actor_mean(&obs));
    for planned in [act, [-0.9, 0.9]] {
        CriticValue { sac, choice: TerminalChoice::ActorCritic }.values(&obs, 3, &planned, 1, &mut out);
        assert_eq!(out.to_vec(), q_actor);
    }
    assert_ne!(q_actor, q1, "the actor's actions differ from the planned ones, so the test can tell");

    // The prior's sequences are the actor's mean actions along each elite's mean rollout.
    let members = agent.model.members().unwrap().clone();
    let start = [1.0f32, 0.0, 0.5];
    let (count, horizon) = (3, 4);
    let mut seqs = vec![0.0; count * horizon];
    ActorPrior { sac, members: members.clone(), start: &start, state_delta: &StateDelta::plain() }
        .propose(count, horizon, 1, &mut seqs);
    for n in 0..count {
        let mut s = start.to_vec();
        for h in 0..horizon {
            let a = sac.actor_mean(&s);
            assert_eq!(seqs[n * horizon + h], a[0], "sequence {n} step {h}");
            let input: Vec<f32> = s.iter().chain(&a).copied().collect();
            let (mean, _) = members.predict(n % members.members(), &input);
            s.iter_mut().zip(&mean[1..]).for_each(|(x, d)| *x += d);
        }
    }
    assert_ne!(seqs[..horizon], seqs[horizon..2 * horizon], "different elites give different prior sequences");
}

#[test]
fn demorl_plan_scores_reproduce_with_critic_terminal_value() {
    let mut t = trainer(true, 4);
    for _ in 0..120 {
        t.step();
    }
    let obs = t.train_env.observation();
    let agent = &mut t.agent;
    agent.model.set_start(&obs);
    let sac = agent.sac.as_ref().unwrap();
    let members = agent.model.members().unwrap().clone();
    let mut value = CriticValue { sac, choice: TerminalChoice::FirstCritic };
    let mut prior = ActorPrior { sac, members, start: &obs, state_delta: &StateDelta::plain() };
    let plan = agent.eval_planner.plan(&mut agent.model, Some(&mut prior), Some(&mut value), ActionMode::Evaluation);
    let trace = &plan.trace;
    let mut batch = SequenceBatch::new(trace.sequence_count(), trace.horizon, 1);
    batch.actions.copy_from_slice(&trace.sequences);
    let mut out = RolloutBatch::default();
    agent.model.set_start(&obs);
    demorl_studio::plan::Model::rollout(&mut agent.model, &batch, trace.particles, &mut out);
    let mut scores = Vec::new();
    Scorer::default().score(
        &batch,
        &out,
        ScoreRule::discounted(small_planner().discount),
        Some(&mut value),
        &mut scores,
    );
    assert_eq!(scores, trace.scores);
    // Without the critic the scores differ: the terminal value is really used.
    let mut plain = Vec::new();
    Scorer::default().score(&batch, &out, ScoreRule::discounted(small_planner().discount), None, &mut plain);
    assert_ne!(plain, scores);
}

#[test]
fn learned_runs_are_deterministic_and_evaluate_separately() {
    let scene = pendulum();
    let run = |mode: RunMode, seed| {
        let cfg = RunConfig {
            scene: "scenes/pendulum.ron".into(),
            mode,
            preset: "reference".into(),
            seed,
            steps: 200,
            threads: 1,
            train: small_train(),
            planner: small_planner(),
        };
        run_learning(&cfg, &scene, None, |_| {}, |_| {}).unwrap()
    };
    let t0 = std::time::Instant::now();
    for mode in [RunMode::MpcLearned, RunMode::Demorl] {
        let (a, b) = (run(mode, 1), run(mode, 1));
        assert_eq!(format!("{:?}", a.evals), format!("{:?}", b.evals), "{mode}");
        assert_eq!(format!("{:?}", a.rows), format!("{:?}", b.rows), "{mode}");
        assert_eq!(a.evals.len(), 3);
        assert!(a.rows.last().unwrap().model_fits >= 3, "{mode}: {:?}", a.rows);
        assert_eq!(a.rows.iter().any(|r| r.updates > 0), mode == RunMode::Demorl, "only DeMoRL trains SAC");
    }
    println!("two learned runs x 2 modes: {:.1} s", t0.elapsed().as_secs_f64());

    // Evaluation leaves the training env, planner and RNG streams alone.
    let (mut a, mut b) = (trainer(true, 6), trainer(true, 6));
    for _ in 0..110 {
        a.step();
        b.step();
    }
    let before = a.train_env.observation();
    a.evaluate();
    assert_eq!(a.train_env.observation(), before);
    for _ in 0..20 {
        a.step();
        b.step();
    }
    assert_eq!(a.train_env.observation(), b.train_env.observation());
    assert_eq!(a.agent.replay.all(), b.agent.replay.all());
    assert_eq!(a.agent.sac.as_ref().unwrap().parameters(), b.agent.sac.as_ref().unwrap().parameters());
}

/// A PETS-style planner (CEM, horizon 15) over a small learned model swings the pendulum up
/// within 1000 env steps, alone and as DeMoRL (critic terminal value, actor prior). One seed of
/// 1000 steps is a noisy measure (PETS alone improved by 500 to 1100 across seeds), so the check
/// is on four seeds: every one improves, and by 600 on average.
fn learned_model_planning_improves_pendulum(mode: RunMode) {
    let scene = pendulum();
    let train = TrainSettings {
        warmup_steps: 250,
        eval_every: 1000,
        eval_episodes: 2,
        model_train_every: 250,
        ensemble: EnsembleSettings {
            members: 4,
            elites: 3,
            hidden_layers: 3,
            hidden_width: 64,
            batch_size: 64,
            max_epochs: 100,
            ..Default::default()
        },
        ..small_train()
    };
    let planner = PlannerSettings {
        horizon: 15,
        samples: 64,
        iterations: 2,
        loss: demorl_studio::config::Loss::Cem { elite_fraction: 0.1 },
        initial_std: 0.6,
        min_std: 0.05,
        particles: 2,
        training_action: demorl_studio::config::ActionChoice::Mean,
        shift: demorl_studio::config::ShiftRule {
            last_block: demorl_studio::config::LastBlock::Copy,
            variance: demorl_studio::config::VarianceShift::Reset,
        },
        ..preset("reference").unwrap()
    };
    // Without the critic's help the planner needs more samples and particles to get there.
    let planner = match mode {
        RunMode::MpcLearned => PlannerSettings { samples: 100, iterations: 3, particles: 4, ..planner },
        _ => planner,
    };
    let mut gains = Vec::new();
    for seed in 0..4u64 {
        let t = std::time::Instant::now();
        let cfg = RunConfig {
            scene: "scenes/pendulum.ron".into(),
            mode,
            preset: "test".into(),
            seed,
            steps: 1000,
            threads: 1,
            train: train.clone(),
            planner: planner.clone(),
        };
        let out = run_learning(&cfg, &scene, None, |_| {}, |_| {}).unwrap();
        let curve: Vec<f64> = out.evals.iter().map(|r| r.eval_return_mean).collect();
        println!(
            "{mode} learned, pendulum, seed {seed}: eval {curve:.1?} at {:?} steps; {:.1} s, {:.2} ms per plan",
            out.evals.iter().map(|r| r.env_steps).collect::<Vec<_>>(),
            t.elapsed().as_secs_f64(),
            out.summary.mean_plan_ms
        );
        gains.push(curve[curve.len() - 1] - curve[0]);
    }
    let mean_gain = gains.iter().sum::<f64>() / gains.len() as f64;
    assert!(gains.iter().all(|&g| g > 300.0) && mean_gain > 600.0, "{mode}: gains {gains:.1?}");
}

#[test]
fn pets_mpc_improves_pendulum() {
    learned_model_planning_improves_pendulum(RunMode::MpcLearned);
}

#[test]
fn demorl_improves_pendulum() {
    learned_model_planning_improves_pendulum(RunMode::Demorl);
}

/// DeMoRL's evaluations also play the same episodes with SAC's actor alone: the recorded figure
/// is exactly what the actor's mean action scores on those seeds. PETS has no actor, so its rows
/// carry NaN.
#[test]
fn demorl_evaluations_also_score_the_actor_alone() {
    let mut t = trainer(true, 3);
    for _ in 0..150 {
        t.step();
    }
    let row = t.evaluate();
    let episodes = small_train().eval_episodes;
    let sac = t.agent.sac.as_ref().unwrap();
    let returns: Vec<f64> = (0..episodes)
        .map(|k| {
            let mut env = Env::new(&pendulum());
            env.reset(t.eval_seed(k));
            let mut total = 0.0;
            loop {
                let outcome = env.step(&sac.actor_mean(&env.observation()));
                total += f64::from(outcome.reward);
                if outcome.done() {
                    break total;
                }
            }
        })
        .collect();
    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
    assert!(row.actor_return_mean.is_finite());
    assert!((row.actor_return_mean - mean).abs() < 1e-9, "{} vs {mean}", row.actor_return_mean);
    assert_ne!(row.actor_return_mean, row.eval_return_mean, "the planner's figure is a different measurement");
    assert!(row.return_text().contains("actor alone"), "{}", row.return_text());

    let mut pets = trainer(false, 3);
    for _ in 0..150 {
        pets.step();
    }
    let row = pets.evaluate();
    assert!(row.actor_return_mean.is_nan() && row.eval_return_mean.is_finite());
    assert!(!row.return_text().contains("actor alone"));
}

#[test]
fn known_termination_gives_the_model_the_scenes_limits_or_names_what_is_not_observed() {
    let mut scene = load_scene(Path::new("scenes/hopper.ron")).unwrap();
    let build = |scene: &Scene, known: bool| {
        let train = TrainSettings {
            ensemble: EnsembleSettings { known_termination: known, ..learning_common::small_ensemble() },
            ..small_train()
        };
        LearnedPlannerAgent::for_env(&Env::new(scene), train, small_planner(), true, 1)
    };
    assert!(build(&scene, false).unwrap().model.termination().is_none());
    let agent = build(&scene, true).unwrap();
    let limits: Vec<(usize, f32, f32)> =
        agent.model.termination().unwrap().limits().iter().map(|l| (l.index, l.min, l.max)).collect();
    // Hopper observes [torso height, torso angle, ...]: height in (0.7, 100), angle in (−0.2, 0.2).
    assert_eq!(limits, vec![(0, 0.7, 100.0), (1, -0.2, 0.2)]);
    scene.task.observation.remove(1);
    let error = build(&scene, true).err().expect("the angle is no longer observed").to_string();
    assert!(error.contains("train.ensemble.known_termination") && error.contains("LinkPlanarAngle"), "{error}");
}
