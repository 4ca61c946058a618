//! Model-generated transitions for SAC: drawn from the right member's Gaussian, mixed into SAC's
//! batches in the set proportion, and generated on schedule by the DeMoRL agent.

use crate::learning_common;

use std::path::Path;

use demorl_studio::agent::{LearnedPlannerAgent, ModelData, Trainer};
use demorl_studio::learn::{ProbabilisticEnsemble, ReplayBuffer, Sac, StateDelta, StepEnd};
use demorl_studio::scene::load_scene;
use demorl_studio::sim::{ObservedLimit, ObservedTermination};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use demorl_studio::config::{EnsembleSettings, ModelDataSettings, SacSettings, TrainSettings};
use learning_common::{small_planner, small_train};

/// A buffer of a noisy 2-D system: r = s0 + a, s' = s + (0.1 a, −0.2 s1), with noise 0.05.
fn system_buffer(n: usize, seed: u64) -> ReplayBuffer {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut buf = ReplayBuffer::new(2, 1, n, seed);
    for _ in 0..n {
        let s = [rng.random_range(-1.0..1.0f32), rng.random_range(-1.0..1.0f32)];
        let a = [rng.random_range(-1.0..1.0f32)];
        let noise = |rng: &mut ChaCha8Rng| 0.05 * rng.random_range(-1.7..1.7f32);
        let next = [s[0] + 0.1 * a[0] + noise(&mut rng), s[1] - 0.2 * s[1] + noise(&mut rng)];
        buf.push(&s, &a, s[0] + a[0] + noise(&mut rng), &next, StepEnd::Continues);
    }
    buf
}

#[test]
fn generated_transitions_are_draws_from_their_members_gaussian() {
    check_generated_draws(None);
}

#[test]
fn generated_transitions_end_where_the_known_termination_says_with_its_penalty() {
    // s1 must stay within ±0.5: rows drawn from s1 ∈ (−1, 1) shrinking by 0.8 cross it often.
    let limit = ObservedLimit { index: 1, min: -0.5, max: 0.5, what: "s1".into() };
    let terminated = check_generated_draws(Some(ObservedTermination::new(vec![limit], 50.0)));
    assert!((100..900).contains(&terminated), "{terminated} of 1000 generated rows terminal");
}

/// Generates 1000 transitions and checks each output is a draw from its member's Gaussian
/// (standardised residuals ~ N(0, 1), the penalty added back on terminal rows) and that exactly
/// the rows whose next state breaks `termination` are terminal. Returns how many are.
fn check_generated_draws(termination: Option<ObservedTermination>) -> usize {
    let mut real = system_buffer(1500, 1);
    let settings = EnsembleSettings { members: 4, elites: 3, hidden_layers: 2, hidden_width: 32, ..Default::default() };
    let mut ensemble = ProbabilisticEnsemble::new(3, 3, settings, 2);
    let (x, y) = real.model_dataset(&StateDelta::plain(), 0.0);
    ensemble.fit(&x, &y);
    let members = ensemble.fast_elites();
    let mut sac = Sac::new(2, 1, SacSettings { hidden: vec![16], ..Default::default() }, 3);
    let per_step = 1000;
    let mut data = ModelData::new(2, 1, ModelDataSettings { per_step, keep_steps: 1, ..Default::default() }, 4)
        .expect("per_step > 0 generates");
    data.generate(&mut real, &mut sac, &members, &StateDelta::plain(), termination.as_ref());
    let generated = data.buffer.all();
    assert_eq!(generated.n, per_step);

    // Rows are stored member by member (row i of the draw used elite i mod K). Standardise each
    // output by its member's predicted mean and variance: a correct draw gives N(0, 1) residuals.
    let k = members.members();
    let (mut sum, mut sum_sq, mut count, mut terminated) = (0.0f64, 0.0f64, 0usize, 0);
    let mut row = 0;
    for m in 0..k {
        for _ in (m..per_step).step_by(k) {
            let (obs, act) = (&generated.obs[row * 2..row * 2 + 2], &generated.actions[row..row + 1]);
            let input = [obs[0], obs[1], act[0]];
            let (mean, var) = members.predict(m, &input);
            let next = &generated.next_obs[row * 2..row * 2 + 2];
            let ends = termination.as_ref().is_some_and(|t| t.ends(next));
            assert_eq!(generated.terminals[row], if ends { 1.0 } else { 0.0 }, "row {row}: next {next:?}");
            terminated += usize::from(ends);
            let penalty = if ends { termination.as_ref().unwrap().penalty() } else { 0.0 };
            let outputs = [generated.rewards[row] + penalty, next[0] - obs[0], next[1] - obs[1]];
            for (o, value) in outputs.iter().enumerate() {
                let z = f64::from((value - mean[o]) / var[o].sqrt());
                (sum, sum_sq, count) = (sum + z, sum_sq + z * z, count + 1);
            }
            row += 1;
        }
    }
    let (z_mean, z_var) = (sum / count as f64, sum_sq / count as f64 - (sum / count as f64).powi(2));
    println!("standardised residuals over {count}: mean {z_mean:.4}, variance {z_var:.4}");
    assert!(z_mean.abs() < 0.08 && (z_var - 1.0).abs() < 0.1, "mean {z_mean}, variance {z_var}");
    terminated
}

#[test]
fn sac_batches_mix_real_and_generated_rows_in_the_set_proportion() {
    let mut real = ReplayBuffer::new(1, 1, 100, 5);
    for _ in 0..100 {
        real.push(&[0.0], &[0.0], 1.0, &[0.0], StepEnd::Continues);
    }
    let settings = ModelDataSettings { per_step: 10, real_fraction: 0.25, keep_steps: 10 };
    let mut data = ModelData::new(1, 1, settings, 6).unwrap();
    // Nothing generated yet: all real.
    assert!(data.mixed_batch(&mut real, 20).rewards.iter().all(|&r| r == 1.0));
    for _ in 0..50 {
        data.buffer.push(&[0.0], &[0.0], -1.0, &[0.0], StepEnd::Continues);
    }
    let batch = data.mixed_batch(&mut real, 20);
    assert_eq!(batch.n, 20);
    assert_eq!(batch.rewards, [vec![1.0; 5], vec![-1.0; 15]].concat(), "5 real rows, then 15 generated");
    assert_eq!((batch.obs.len(), batch.actions.len(), batch.next_obs.len(), batch.terminals.len()), (20, 20, 20, 20));
    // Off when nothing is generated per step.
    assert!(ModelData::new(1, 1, ModelDataSettings::default(), 7).is_none());
}

#[test]
fn demorl_generates_on_schedule_and_keeps_a_bounded_window() {
    let scene = load_scene(Path::new("scenes/pendulum.ron")).unwrap();
    let settings = TrainSettings {
        eval_every: 1000,
        model_data: ModelDataSettings { per_step: 30, keep_steps: 40, ..Default::default() },
        ..small_train()
    };
    let planner = small_planner();
    let agent = LearnedPlannerAgent::new(3, 1, settings.clone(), planner.clone(), true, 8).unwrap();
    let mut t = Trainer::new(&scene, agent, settings.clone(), 8).unwrap();
    for _ in 0..100 {
        t.step();
    }
    assert_eq!(t.agent.model_data.as_ref().unwrap().buffer.len(), 0, "nothing generated during warm-up");
    for _ in 0..20 {
        t.step();
    }
    assert_eq!(t.agent.model_data.as_ref().unwrap().buffer.len(), 20 * 30);
    for _ in 0..40 {
        t.step();
    }
    assert_eq!(t.agent.model_data.as_ref().unwrap().buffer.len(), 40 * 30, "only the last keep_steps are kept");
    // PETS has no SAC to feed: no generated transitions.
    let pets = LearnedPlannerAgent::new(3, 1, settings, planner, false, 8).unwrap();
    assert!(pets.model_data.is_none());
}
