//! Settings: validation messages, RON, presets, and live changes that wait for the next plan.

use crate::planner_common;

use demorl_studio::config::{
    ActionChoice, LastBlock, Loss, MirrorMap, PRESET_NAMES, PlannerSettings, SettingsError, ShiftRule, TerminalChoice,
    VarianceShift, preset,
};
use demorl_studio::plan::{ActionMode, Planner, preset_argument};
use planner_common::Lqr;

fn field_of(s: &PlannerSettings) -> &'static str {
    match s.validate() {
        Err(SettingsError::OutOfRange { field, .. }) => field,
        other => panic!("expected an out-of-range error, got {other:?} for {s:?}"),
    }
}

#[test]
fn each_invalid_value_names_its_field() {
    let ok = PlannerSettings::default();
    type Edit = fn(&mut PlannerSettings);
    let cases: Vec<(&str, Edit)> = vec![
        ("planner.horizon", |s| s.horizon = 0),
        ("planner.horizon", |s| s.horizon = 1001),
        ("planner.samples", |s| s.samples = 0),
        ("planner.samples", |s| s.samples = 100_001),
        ("planner.iterations", |s| s.iterations = 0),
        ("planner.loss.elite_fraction", |s| s.loss = Loss::Cem { elite_fraction: 0.0 }),
        ("planner.loss.elite_fraction", |s| s.loss = Loss::Cem { elite_fraction: 1.5 }),
        ("planner.loss.elite_fraction", |s| s.loss = Loss::Cem { elite_fraction: f32::NAN }),
        ("planner.loss.temperature", |s| s.loss = Loss::Mppi { temperature: 0.0 }),
        ("planner.loss.temperature", |s| s.loss = Loss::Mppi { temperature: -1.0 }),
        ("planner.loss.temperature", |s| s.loss = Loss::Mppi { temperature: f32::NAN }),
        ("planner.loss.temperature", |s| s.loss = Loss::Mppi { temperature: f32::INFINITY }),
        ("planner.loss.temperature", |s| s.loss = Loss::MppiRelative { temperature: 0.0 }),
        ("planner.mean_step", |s| s.mean_step = 0.0),
        ("planner.mean_step", |s| s.mean_step = 1.5),
        ("planner.mean_step", |s| s.mean_step = f32::NAN),
        ("planner.mean_step", |s| {
            s.mirror_map = MirrorMap::Euclidean;
            s.mean_step = f32::INFINITY;
        }),
        ("planner.mean_step", |s| {
            s.mirror_map = MirrorMap::Euclidean;
            s.mean_step = -0.1;
        }),
        ("planner.variance_step", |s| s.variance_step = -0.1),
        ("planner.variance_step", |s| s.variance_step = 1.1),
        ("planner.variance_step", |s| s.variance_step = f32::NAN),
        ("planner.initial_std", |s| s.initial_std = 0.0),
        ("planner.initial_std", |s| s.initial_std = f32::INFINITY),
        ("planner.initial_std", |s| s.initial_std = f32::NAN),
        ("planner.min_std", |s| s.min_std = -0.01),
        ("planner.min_std", |s| s.min_std = 0.6),
        ("planner.min_std", |s| s.min_std = f32::NAN),
        ("planner.noise_correlation", |s| s.noise_correlation = 1.0),
        ("planner.noise_correlation", |s| s.noise_correlation = -0.1),
        ("planner.noise_correlation", |s| s.noise_correlation = f32::NAN),
        ("planner.shift.variance.factor", |s| s.shift.variance = VarianceShift::ShiftInflate { factor: 0.5 }),
        ("planner.shift.variance.factor", |s| s.shift.variance = VarianceShift::ShiftInflate { factor: f32::NAN }),
        ("planner.discount", |s| s.discount = 0.0),
        ("planner.discount", |s| s.discount = 1.01),
        ("planner.discount", |s| s.discount = f32::NAN),
        ("planner.particles", |s| s.particles = 0),
        ("planner.particles", |s| s.particles = 100_000),
        ("planner.disagreement_penalty", |s| s.disagreement_penalty = -0.5),
        ("planner.disagreement_penalty", |s| s.disagreement_penalty = f32::NAN),
        ("planner.evaluation_disagreement_penalty", |s| s.evaluation_disagreement_penalty = Some(-0.5)),
        ("planner.evaluation_disagreement_penalty", |s| s.evaluation_disagreement_penalty = Some(f32::INFINITY)),
        ("planner.policy_fraction", |s| s.policy_fraction = 1.0),
        ("planner.policy_fraction", |s| s.policy_fraction = -0.1),
        ("planner.policy_fraction", |s| s.policy_fraction = f32::NAN),
        // Individually valid, together an absurd allocation.
        ("planner.samples", |s| {
            s.samples = 100_000;
            s.particles = 100;
            s.horizon = 100;
        }),
    ];
    for (field, edit) in cases {
        let mut s = ok.clone();
        edit(&mut s);
        assert_eq!(field_of(&s), field);
        let message = s.validate().unwrap_err().to_string();
        assert!(message.starts_with(field) && message.contains("must be"), "{message}");
    }
    // Valid edge values.
    for edit in [
        (|s: &mut PlannerSettings| s.loss = Loss::Cem { elite_fraction: 1.0 }) as fn(&mut _),
        |s| s.variance_step = 0.0,
        |s| s.min_std = s.initial_std,
        |s| s.noise_correlation = 0.99,
        |s| s.discount = 1.0,
        |s| s.policy_fraction = 0.0,
        |s| s.evaluation_disagreement_penalty = Some(0.0),
        |s| s.shift.variance = VarianceShift::ShiftInflate { factor: 1.0 },
        |s| {
            s.mirror_map = MirrorMap::Euclidean;
            s.mean_step = 5.0;
        },
        |s| s.loss = Loss::Mppi { temperature: 1e-6 },
    ] {
        let mut s = ok.clone();
        edit(&mut s);
        assert_eq!(s.validate(), Ok(()), "{s:?}");
    }
}

#[test]
fn error_message_reads_like_the_spec() {
    let s = PlannerSettings { loss: Loss::Cem { elite_fraction: 1.5 }, ..PlannerSettings::default() };
    assert_eq!(s.validate().unwrap_err().to_string(), "planner.loss.elite_fraction = 1.5: must be in (0, 1]");
}

#[test]
fn ron_round_trip_and_strictness() {
    for name in PRESET_NAMES {
        let s = preset(name).unwrap();
        let text = s.to_ron();
        assert_eq!(PlannerSettings::from_ron(&text).unwrap(), s, "{text}");
    }
    let custom = PlannerSettings {
        loss: Loss::Cem { elite_fraction: 0.25 },
        mirror_map: MirrorMap::Euclidean,
        mean_step: 0.01,
        shift: ShiftRule { last_block: LastBlock::Copy, variance: VarianceShift::ShiftInflate { factor: 2.0 } },
        training_action: ActionChoice::Mean,
        terminal_value: TerminalChoice::MinCritic,
        ..PlannerSettings::default()
    };
    assert_eq!(PlannerSettings::from_ron(&custom.to_ron()).unwrap(), custom);

    // Missing fields take the defaults.
    let partial = PlannerSettings::from_ron("(horizon: 7, loss: Mppi(temperature: 0.5))").unwrap();
    assert_eq!(partial.horizon, 7);
    assert_eq!(partial.loss, Loss::Mppi { temperature: 0.5 });
    assert_eq!(partial.samples, PlannerSettings::default().samples);

    // Unknown fields, at the top and inside a variant, are errors; so are invalid values.
    assert!(matches!(PlannerSettings::from_ron("(horizn: 7)"), Err(SettingsError::Parse(_))));
    assert!(matches!(
        PlannerSettings::from_ron("(loss: Cem(elite_fraction: 0.1, extra: 1.0))"),
        Err(SettingsError::Parse(_))
    ));
    assert!(matches!(PlannerSettings::from_ron("(shift: (last_block: Copy, bogus: 1))"), Err(SettingsError::Parse(_))));
    assert_eq!(field_of(&ron::from_str::<PlannerSettings>("(discount: 2.0)").unwrap()), "planner.discount");
    assert!(matches!(
        PlannerSettings::from_ron("(discount: 2.0)"),
        Err(SettingsError::OutOfRange { field: "planner.discount", .. })
    ));
}

#[test]
fn presets() {
    assert_eq!(PRESET_NAMES, ["reference", "paper-cem", "mppi", "mirror-descent", "demorl-h15"]);
    for name in PRESET_NAMES {
        assert_eq!(preset(name).unwrap().validate(), Ok(()), "{name}");
        assert_eq!(preset_argument(name).unwrap(), preset(name).unwrap());
    }
    let r = preset("reference").unwrap();
    assert_eq!(r, PlannerSettings::default());
    assert_eq!((r.horizon, r.samples, r.iterations, r.particles), (3, 100, 5, 4));
    assert_eq!(r.policy_fraction, 0.05);
    assert_eq!(r.prior_count(), 5);
    assert_eq!(r.loss, Loss::Mppi { temperature: 1.0 });
    assert_eq!((r.mean_step, r.variance_step, r.initial_std), (1.0, 0.9, 0.5));
    assert_eq!(r.mirror_map, MirrorMap::Kl);
    assert_eq!(r.terminal_value, TerminalChoice::FirstCritic);
    let c = preset("paper-cem").unwrap();
    assert_eq!(c.loss, Loss::Cem { elite_fraction: 0.1 });
    assert_eq!(PlannerSettings { loss: r.loss, ..c }, r);
    let m = preset("mirror-descent").unwrap();
    assert_eq!((m.loss, m.mirror_map), (Loss::ExpectedCost, MirrorMap::Kl));
    assert!(m.mean_step < 1.0);
    assert!(matches!(preset("mppi").unwrap().loss, Loss::Mppi { .. }));

    assert_eq!(preset("Reference"), None);
    let message = preset_argument("fast").unwrap_err().to_string();
    for name in PRESET_NAMES {
        assert!(message.contains(name), "{message}");
    }
    assert!(message.contains("fast"));
}

#[test]
fn a_settings_change_applies_on_the_next_plan_only() {
    let mut model = Lqr::standard();
    let start = PlannerSettings { horizon: 4, samples: 20, iterations: 2, particles: 1, ..PlannerSettings::default() };
    let mut planner = Planner::new(start.clone(), 1, 0).unwrap();
    let t = planner.plan(&mut model, None, None, ActionMode::Evaluation).trace;
    assert_eq!((t.horizon, t.sample_count, t.iterations.len()), (4, 20, 2));

    // An invalid change is refused and leaves nothing pending.
    let bad = PlannerSettings { horizon: 0, ..start.clone() };
    assert!(planner.set_settings(bad).is_err());
    assert!(planner.pending_settings().is_none());

    let next = PlannerSettings { horizon: 7, samples: 30, iterations: 3, ..start.clone() };
    planner.set_settings(next.clone()).unwrap();
    // Queued, not yet in force.
    assert_eq!(planner.settings(), &start);
    assert_eq!(planner.pending_settings(), Some(&next));
    assert_eq!(planner.distribution().horizon(), 4);
    let old_mean = planner.distribution().mean().to_vec();

    let t = planner.plan(&mut model, None, None, ActionMode::Evaluation).trace;
    assert_eq!((t.horizon, t.sample_count, t.iterations.len()), (7, 30, 3));
    assert_eq!(t.mean_actions.len(), 7);
    assert_eq!(planner.settings(), &next);
    assert!(planner.pending_settings().is_none());
    assert_ne!(old_mean, planner.distribution().mean()[..4]);
}

#[test]
fn planner_rejects_invalid_settings() {
    let bad = PlannerSettings { samples: 0, ..PlannerSettings::default() };
    assert!(matches!(Planner::new(bad, 1, 0), Err(SettingsError::OutOfRange { field: "planner.samples", .. })));
}
