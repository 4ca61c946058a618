//! SAC: a one-step continuous bandit, batched critic/actor queries, determinism, behaviour cloning.

use demorl_studio::config::SacSettings;
use demorl_studio::learn::{ReplayBuffer, Sac, StepEnd};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const OBS: [f32; 1] = [1.0];

/// One-step episodes: reward −(a − 0.3)², always terminal.
fn bandit_buffer(n: usize, seed: u64) -> ReplayBuffer {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut buf = ReplayBuffer::new(1, 1, n, seed);
    for _ in 0..n {
        let a: f32 = rng.random_range(-1.0..1.0);
        buf.push(&OBS, &[a], -(a - 0.3) * (a - 0.3), &OBS, StepEnd::Terminated);
    }
    buf
}

fn small_settings() -> SacSettings {
    SacSettings {
        hidden: vec![32, 32],
        batch_size: 64,
        actor_lr: 1e-3,
        critic_lr: 1e-3,
        alpha_lr: 1e-3,
        ..Default::default()
    }
}

#[test]
fn solves_one_step_bandit() {
    let settings = small_settings();
    let mut sac = Sac::new(1, 1, settings.clone(), 1);
    let mut buf = bandit_buffer(2000, 2);
    let alpha0 = sac.alpha();
    let t = std::time::Instant::now();
    let mut last = Default::default();
    let updates = 2500;
    for i in 0..updates {
        // Mix in the agent's own (stochastic) actions, as an online learner would.
        if i % 4 == 0 {
            let a = sac.act(&OBS, false)[0];
            assert!((-1.0..=1.0).contains(&a));
            buf.push(&OBS, &[a], -(a - 0.3) * (a - 0.3), &OBS, StepEnd::Terminated);
        }
        last = sac.update(&buf.sample(settings.batch_size));
    }
    let elapsed = t.elapsed();
    let a = sac.act(&OBS, true)[0];
    let (q1, q2) = sac.q_values(&[1.0, 1.0, 1.0], &[0.3, -0.9, 0.9]);
    println!(
        "bandit: action {a:.4} after {updates} updates in {elapsed:.2?} ({:.0} updates/s); alpha {alpha0} -> {:.4}; \
         last {last:?}; Q1 {q1:?} Q2 {q2:?}",
        updates as f64 / elapsed.as_secs_f64(),
        sac.alpha()
    );
    assert!((a - 0.3).abs() < 0.05, "deterministic action {a}");
    assert!(sac.alpha() < 0.5 * alpha0, "alpha did not decrease: {}", sac.alpha());
    assert_eq!(sac.actor_mean(&[1.0, 1.0]), vec![a, a]);
    // The critics learned the reward landscape: the optimum scores best, and close to 0.
    for q in [&q1, &q2] {
        assert!(q[0] > q[1] && q[0] > q[2], "critic ordering {q:?}");
        assert!(q[0].abs() < 0.1 && (q[1] + 1.44).abs() < 0.3, "critic values {q:?}");
    }
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let run = |seed| {
        let mut sac = Sac::new(3, 2, small_settings(), seed);
        let mut buf = ReplayBuffer::new(3, 2, 100, 4);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for k in 0..100 {
            let o: Vec<f32> = (0..3).map(|_| rng.random_range(-1.0..1.0)).collect();
            let a = sac.act(&o, false);
            let end = if k % 10 == 9 { StepEnd::Truncated } else { StepEnd::Continues };
            buf.push(&o, &a, o[0] - a[1], &o.iter().map(|x| x * 0.9).collect::<Vec<_>>(), end);
        }
        let losses: Vec<_> = (0..30).map(|_| sac.update(&buf.sample(32))).collect();
        (sac.parameters(), losses)
    };
    let (a, la) = run(7);
    let (b, lb) = run(7);
    let (c, _) = run(8);
    assert_eq!(la, lb);
    assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()), "same seed, different weights");
    assert_ne!(a, c);
}

/// Learned Q of the single action-independent transition (reward 1, back to the same state).
fn loop_q(end: StepEnd) -> f32 {
    // Tiny fixed α: the soft value is the plain discounted return, 1 / (1 − γ) = 2 when the
    // episode goes on (even if cut by a time limit), 1 when it terminates.
    let settings = SacSettings { discount: 0.5, learn_alpha: false, initial_alpha: 1e-6, ..small_settings() };
    let mut sac = Sac::new(1, 1, settings, 3);
    let mut buf = ReplayBuffer::new(1, 1, 256, 3);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for _ in 0..256 {
        buf.push(&OBS, &[rng.random_range(-1.0..1.0)], 1.0, &OBS, end);
    }
    for _ in 0..1500 {
        sac.update(&buf.sample(64));
    }
    let (q1, q2) = sac.q_values(&OBS, &[0.0]);
    (q1[0] + q2[0]) / 2.0
}

#[test]
fn truncation_bootstraps_and_termination_does_not() {
    let (truncated, terminated) = (loop_q(StepEnd::Truncated), loop_q(StepEnd::Terminated));
    println!("Q with truncation {truncated:.3} (expect 2), with termination {terminated:.3} (expect 1)");
    assert!((truncated - 2.0).abs() < 0.15, "truncated {truncated}");
    assert!((terminated - 1.0).abs() < 0.05, "terminated {terminated}");
}

#[test]
fn target_critics_follow_by_polyak_averaging() {
    let settings = small_settings();
    let mut sac = Sac::new(1, 1, settings.clone(), 6);
    let mut buf = bandit_buffer(64, 6);
    // Layout of `parameters()`: actor | critics | target critics | log α.
    // Layers 1→32, 32→32, 32→2 (weights + biases).
    let actor_len = (32 + 32) + (32 * 32 + 32) + (32 * 2 + 2);
    let critic_len = 2 * ((2 * 32 + 32) + (32 * 32 + 32) + (32 + 1));
    let before = sac.parameters();
    assert_eq!(before.len(), actor_len + 2 * critic_len + 1);
    let target_before = &before[actor_len + critic_len..actor_len + 2 * critic_len];
    // Fresh targets are exact copies of the critics.
    assert_eq!(&before[actor_len..actor_len + critic_len], target_before);
    sac.update(&buf.sample(32));
    let after = sac.parameters();
    let critic = &after[actor_len..actor_len + critic_len];
    let target = &after[actor_len + critic_len..actor_len + 2 * critic_len];
    assert_ne!(critic, &before[actor_len..actor_len + critic_len]);
    for ((t, t0), c) in target.iter().zip(target_before).zip(critic) {
        let expected = settings.polyak * t0 + (1.0 - settings.polyak) * c;
        assert!((t - expected).abs() <= 1e-6, "target {t} vs {expected}");
    }
}

/// Deterministic actions at observations ±1 after training on one-step episodes whose reward is
/// −1 whatever the action (so the critic gives the actor no direction), with stored actions
/// spread ±0.2 around 0.6 at obs +1 and around −0.4 at obs −1. A tiny fixed α keeps the
/// entropy term (whose tanh Jacobian favours actions near 0) out of the answer.
fn cloned_actions(behaviour_cloning: f32) -> (f32, f32) {
    let settings = SacSettings { behaviour_cloning, learn_alpha: false, initial_alpha: 1e-4, ..small_settings() };
    let mut sac = Sac::new(1, 1, settings.clone(), 9);
    let mut buf = ReplayBuffer::new(1, 1, 1000, 9);
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    for k in 0..1000 {
        let (obs, centre) = if k % 2 == 0 { (1.0, 0.6) } else { (-1.0, -0.4) };
        let a = centre + rng.random_range(-0.2..0.2);
        buf.push(&[obs], &[a], -1.0, &[obs], StepEnd::Terminated);
    }
    for _ in 0..1500 {
        sac.update(&buf.sample(settings.batch_size));
    }
    (sac.actor_mean(&[1.0])[0], sac.actor_mean(&[-1.0])[0])
}

#[test]
fn behaviour_cloning_pulls_the_mean_action_to_the_stored_actions_mean() {
    // argmin over m of E[(m − a)²] is E[a]: with a flat critic the cloned mean is the behaviour
    // policy's mean in each state. Without the term nothing pulls the actor there.
    let (plus, minus) = cloned_actions(1.0);
    let (plain_plus, plain_minus) = cloned_actions(0.0);
    println!(
        "cloned: {plus:.3} at +1 (expect 0.6), {minus:.3} at −1 (expect −0.4); plain: {plain_plus:.3}, {plain_minus:.3}"
    );
    assert!((plus - 0.6).abs() < 0.02 && (minus + 0.4).abs() < 0.02, "cloned {plus} {minus}");
    assert!((plain_plus - 0.6).abs() > 0.2 || (plain_minus + 0.4).abs() > 0.2, "plain {plain_plus} {plain_minus}");
}

#[test]
fn the_reported_action_gap_is_the_actors_distance_to_the_stored_actions() {
    let mut sac = Sac::new(1, 1, small_settings(), 11);
    let mut buf = bandit_buffer(200, 12);
    for _ in 0..3 {
        let batch = buf.sample(32);
        let means = sac.actor_mean(&batch.obs); // before the update, as the loss sees them
        let expected = means.iter().zip(&batch.actions).map(|(m, a)| (m - a).powi(2)).sum::<f32>() / 32.0;
        let reported = sac.update(&batch).actor_action_gap;
        assert!((reported - expected).abs() < 1e-5, "reported {reported} vs {expected}");
    }
}

/// Throughput at cheetah sizes (obs 17, act 6, 256×256, batch 256). Run with `--ignored`.
#[test]
#[ignore]
fn timing_cheetah_sized_updates() {
    let settings = SacSettings::default();
    let mut sac = Sac::new(17, 6, settings.clone(), 1);
    let mut buf = ReplayBuffer::new(17, 6, 10_000, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..10_000 {
        let o: Vec<f32> = (0..17).map(|_| rng.random_range(-1.0..1.0)).collect();
        let a: Vec<f32> = (0..6).map(|_| rng.random_range(-1.0..1.0)).collect();
        buf.push(&o, &a, rng.random_range(-1.0..1.0), &o, StepEnd::Continues);
    }
    for _ in 0..20 {
        sac.update(&buf.sample(256));
    }
    let n = 200;
    let t = std::time::Instant::now();
    for _ in 0..n {
        sac.update(&buf.sample(256));
    }
    let dt = t.elapsed();
    println!(
        "SAC 17/6, 256x256, batch 256: {:.2} ms/update, {:.0} updates/s",
        dt.as_secs_f64() * 1e3 / n as f64,
        n as f64 / dt.as_secs_f64()
    );
}
