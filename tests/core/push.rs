//! Pushes against known answers: a push changes a free-falling robot's momentum by exactly
//! force × duration; scripted pushes repeat, and change nothing before their step; a world's
//! periodic pushes are horizontal, seeded and repeatable; forks carry a push in progress;
//! planning copies do not see pushes; bad pushes are refused with their field.

use std::path::Path;

use demorl_studio::scene::{Scene, load_scene, parse_scene};
use demorl_studio::sim::{Env, Push, PushError, WorldChoice};

fn quadruped_text() -> String {
    std::fs::read_to_string("scenes/quadruped.ron").unwrap()
}

fn scene_from(text: &str) -> Result<Scene, String> {
    parse_scene(text, Path::new("scenes/quadruped.ron")).map_err(|e| e.to_string())
}

/// The quadruped with `pushes` in its task.
fn with_pushes(pushes: &str) -> Result<Scene, String> {
    scene_from(&quadruped_text().replacen("episode_steps:", &format!("pushes: {pushes}, episode_steps:"), 1))
}

/// The robot's total linear momentum.
fn momentum(env: &Env) -> [f64; 3] {
    let mut p = [0.0f64; 3];
    for link in &env.robot().links {
        let body = &env.physics().bodies[link.body];
        let v = body.linvel();
        for (k, vk) in [v.x, v.y, v.z].into_iter().enumerate() {
            p[k] += f64::from(body.mass()) * f64::from(vk);
        }
    }
    p
}

/// The quadruped without ground: it falls freely.
fn falling_quadruped() -> Scene {
    scene_from(&quadruped_text().replacen("ground: Some((friction: 1.0)),", "ground: None,", 1)).unwrap()
}

fn run(env: &mut Env, steps: usize) -> Vec<Vec<f32>> {
    (0..steps)
        .map(|t| {
            let action: Vec<f32> = (0..8).map(|k| ((t * 3 + k) as f32 * 0.41).sin() * 0.1).collect();
            env.step(&action);
            env.observation()
        })
        .collect()
}

#[test]
fn a_push_changes_a_falling_robots_momentum_by_force_times_duration() {
    // No ground: the robot falls freely, joint forces are internal, so over T seconds the
    // momentum changes by (m g + F) T; the difference to an unpushed fall is F T.
    let scene = falling_quadruped();
    let (mut pushed, mut free) = (Env::new(&scene), Env::new(&scene));
    let force = [30.0, 20.0, -12.0];
    pushed.push(Push { link: 0, force, at: None, steps: 3 }).unwrap();
    let (p0, q0) = (momentum(&pushed), momentum(&free));
    run(&mut pushed, 3);
    run(&mut free, 3);
    let seconds = 3.0 / 25.0;
    let (p1, q1) = (momentum(&pushed), momentum(&free));
    for k in 0..3 {
        let change = (p1[k] - p0[k]) - (q1[k] - q0[k]);
        let expected = f64::from(force[k]) * seconds;
        assert!((change - expected).abs() < 0.01 * expected.abs().max(1.0), "axis {k}: {change} vs {expected}");
    }
    assert!(pushed.active_pushes().is_empty(), "a 3-step push ends after 3 steps");
}

#[test]
fn a_push_off_the_centre_of_mass_also_turns_the_link() {
    let scene = falling_quadruped();
    let (mut at_centre, mut off_centre) = (Env::new(&scene), Env::new(&scene));
    let force = [0.0, 0.0, 40.0];
    at_centre.push(Push { link: 0, force, at: None, steps: 1 }).unwrap();
    off_centre.push(Push { link: 0, force, at: Some([0.2, 0.0, 0.0]), steps: 1 }).unwrap();
    run(&mut at_centre, 1);
    run(&mut off_centre, 1);
    // In free fall a sideways (Z) force ahead of the centre yaws the torso about Y; at the
    // centre it does not (the legs hang symmetrically).
    let yaw_rate = |e: &Env| e.physics().bodies[e.robot().links[0].body].angvel().y.abs();
    assert!(
        yaw_rate(&off_centre) > 5.0 * yaw_rate(&at_centre) + 0.05,
        "{} vs {}",
        yaw_rate(&off_centre),
        yaw_rate(&at_centre)
    );
}

#[test]
fn scripted_pushes_repeat_and_change_nothing_before_their_step() {
    let scene = with_pushes("[(step: 20, link: \"torso\", force: (0.0, 0.0, 60.0), duration_steps: 4)]").unwrap();
    let plain = load_scene(Path::new("scenes/quadruped.ron")).unwrap();
    let episode = |scene: &Scene| {
        let mut env = Env::new(scene);
        env.reset(3);
        run(&mut env, 40)
    };
    let (first, second, unpushed) = (episode(&scene), episode(&scene), episode(&plain));
    assert_eq!(first, second, "same seed, same pushes: the same episode");
    assert_eq!(first[..20], unpushed[..20], "nothing changes before step 20");
    assert_ne!(first[20], unpushed[20], "the push acts during step 20");
}

#[test]
fn a_worlds_periodic_pushes_are_horizontal_seeded_and_repeatable() {
    let text = quadruped_text().replacen(
        "\"laggy\":",
        "\"pushed_often\": (push: Some((every_steps: 10, force: 50.0, duration_steps: 2))), \"laggy\":",
        1,
    );
    let scene = scene_from(&text).unwrap();
    let world = scene.task.worlds["pushed_often"].clone();
    let pushed_env = |seed: u64| {
        let mut env = Env::new(&scene);
        env.set_world(WorldChoice::Fixed(world.clone()));
        env.reset(seed);
        env
    };
    let mut env = pushed_env(1);
    let mut forces = Vec::new();
    for step in 0..31 {
        run(&mut env, 1);
        if let Some(p) = env.active_pushes().first() {
            forces.push((step, p.force));
        }
    }
    // Steps 10 and 20 and 30 start a 2-step push: active after the first of its two steps.
    assert_eq!(forces.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [10, 20, 30]);
    for (_, f) in &forces {
        assert_eq!(f[1], 0.0, "horizontal");
        assert!(((f[0] * f[0] + f[2] * f[2]).sqrt() - 50.0).abs() < 1e-3, "{f:?}");
    }
    assert_ne!(forces[0].1, forces[1].1, "a new direction per push");
    let (mut again, mut other) = (pushed_env(1), pushed_env(2));
    let mut nominal = Env::new(&scene);
    nominal.reset(1);
    let (a, b) = (run(&mut again, 30), run(&mut pushed_env(1), 30));
    assert_eq!(a, b, "repeatable per seed");
    assert_eq!(a[..10], run(&mut nominal, 10)[..], "nothing before the first push");
    assert_ne!(run(&mut other, 12)[11], a[11], "another seed pushes another way");
}

#[test]
fn forks_carry_a_push_in_progress_and_planning_copies_ignore_pushes() {
    let scene = load_scene(Path::new("scenes/quadruped.ron")).unwrap();
    let mut env = Env::new(&scene);
    env.push(Push { link: 0, force: [0.0, 0.0, 50.0], at: None, steps: 5 }).unwrap();
    run(&mut env, 2);
    let mut fork = env.fork();
    assert_eq!(run(&mut env, 6), run(&mut fork, 6), "the fork finishes the push");
    // A planning copy (disturbances off) continues as if nobody pushed.
    let (mut pushed, mut unpushed) = (Env::new(&scene), Env::new(&scene));
    pushed.set_disturbances(false);
    pushed.push(Push { link: 0, force: [0.0, 0.0, 50.0], at: None, steps: 5 }).unwrap();
    assert_eq!(run(&mut pushed, 8), run(&mut unpushed, 8));
}

#[test]
fn bad_pushes_are_refused_with_their_field() {
    let bad = [
        ("[(step: 5, link: \"tail\", force: (1.0, 0.0, 0.0))]", "task.pushes[0].link"),
        ("[(step: 5, link: \"torso\", force: (1.0, 0.0, 0.0), duration_steps: 0)]", "task.pushes[0].duration_steps"),
        ("[(step: 5000, link: \"torso\", force: (1.0, 0.0, 0.0))]", "task.pushes[0].step"),
        ("[(step: 5, link: \"torso\", force: (1.0, NaN, 0.0))]", "task.pushes[0].force"),
    ];
    for (pushes, field) in bad {
        let e = with_pushes(pushes).expect_err(pushes);
        assert!(e.contains(field), "{pushes}: {e}");
    }
    let world = |push: &str| {
        scene_from(&quadruped_text().replacen(
            "\"laggy\":",
            &format!("\"pushed_badly\": (push: Some({push})), \"laggy\":"),
            1,
        ))
    };
    let e = world("(every_steps: 0, force: 5.0)").unwrap_err();
    assert!(e.contains("task.worlds.pushed_badly.push.every_steps"), "{e}");
    let e = world("(every_steps: 10, force: 5.0, duration_steps: 11)").unwrap_err();
    assert!(e.contains("task.worlds.pushed_badly.push.duration_steps"), "{e}");
    let e = world("(every_steps: 10, force: 5.0, link: \"tail\")").unwrap_err();
    assert!(e.contains("task.worlds.pushed_badly.push.link"), "{e}");
    let mut env = Env::new(&load_scene(Path::new("scenes/quadruped.ron")).unwrap());
    assert_eq!(env.push(Push { link: 99, force: [0.0; 3], at: None, steps: 1 }), Err(PushError::UnknownLink(99, 9)));
    assert!(env.push(Push { link: 0, force: [f32::NAN, 0.0, 0.0], at: None, steps: 1 }).is_err());
}
