//! Malformed scene files give specific errors naming the field and its position; never a panic.

use std::path::Path;

use demorl_studio::scene::{FileError, load_scene, parse_scene};

fn pendulum() -> String {
    std::fs::read_to_string("scenes/pendulum.ron").unwrap()
}

/// Parses `text` (which must be invalid) and returns the error.
fn error_of(text: &str) -> FileError {
    parse_scene(text, Path::new("bad.ron")).expect_err("scene should be rejected")
}

/// Replaces exactly one occurrence of `from` in the pendulum scene.
fn mutate(from: &str, to: &str) -> String {
    let text = pendulum();
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once");
    text.replacen(from, to, 1)
}

/// 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).expect("needle in text")].matches('\n').count() + 1
}

fn assert_error(text: &str, field: &str, needle: &str, message_part: &str) {
    let e = error_of(text);
    assert_eq!(e.field.as_deref(), Some(field), "{e}");
    assert_eq!(e.line, Some(line_of(text, needle)), "{e}");
    assert!(e.column.is_some(), "{e}");
    assert!(e.message.contains(message_part), "`{}` lacks `{message_part}`", e.message);
    let shown = e.to_string();
    assert!(shown.starts_with("bad.ron:"), "{shown}");
}

#[test]
fn the_unmodified_scene_is_valid() {
    parse_scene(&pendulum(), Path::new("pendulum.ron")).unwrap();
}

#[test]
fn negative_mass() {
    let text = mutate("mass: Some(1.0), position: (0.0, 2.0", "mass: Some(-1.0), position: (0.0, 2.0");
    assert_error(&text, "robot.links[1].mass", "mass: Some(-1.0)", "positive");
}

#[test]
fn negative_radius() {
    let text = mutate("Sphere(radius: 0.06)", "Sphere(radius: -0.06)");
    assert_error(&text, "robot.links[0].shape.radius", "radius: -0.06", "positive");
}

#[test]
fn zero_control_rate() {
    let text = mutate("control_rate: 20.0", "control_rate: 0.0");
    assert_error(&text, "physics.control_rate", "control_rate: 0.0", "(0, 10000]");
}

#[test]
fn unknown_parent_link() {
    let text = mutate("parent: \"pivot\"", "parent: \"pivott\"");
    assert_error(&text, "robot.joints[0].parent", "parent: \"pivott\"", "no link named \"pivott\"");
}

#[test]
fn inverted_limits() {
    let text =
        mutate("actuator: Torque(max_torque: 2.0)", "limits: Some((1.0, -1.0)), actuator: Torque(max_torque: 2.0)");
    assert_error(&text, "robot.joints[0].limits", "limits: Some((1.0, -1.0))", "lo < hi");
}

#[test]
fn both_mass_and_density() {
    let text =
        mutate("mass: Some(1.0), position: (0.0, 2.0", "mass: Some(1.0), density: Some(500.0), position: (0.0, 2.0");
    assert_error(&text, "robot.links[1].density", "density: Some(500.0)", "not several");
}

#[test]
fn position_actuator_without_limits() {
    let text = mutate("Torque(max_torque: 2.0)", "Position(stiffness: 10.0, damping: 1.0, max_force: 5.0)");
    assert_error(&text, "robot.joints[0].limits", "(name: \"hinge\"", "limits");
}

#[test]
fn reward_names_an_unknown_joint() {
    let text = mutate("JointAngleSquared(\"hinge\")", "JointAngleSquared(\"elbow\")");
    assert_error(&text, "task.reward[0].term", "JointAngleSquared(\"elbow\")", "no joint named \"elbow\"");
}

#[test]
fn planner_elite_fraction_out_of_range() {
    let text = mutate("loss: Mppi(temperature: 1.0)", "loss: Cem(elite_fraction: 1.5)");
    assert_error(&text, "planner.loss.elite_fraction", "elite_fraction: 1.5", "(0, 1]");
}

#[test]
fn zero_episode_length() {
    let text = mutate("episode_steps: 200", "episode_steps: 0");
    assert_error(&text, "task.episode_steps", "episode_steps: 0", "[1, 1000000]");
}

#[test]
fn duplicate_link_name() {
    let text = mutate("(name: \"pole\"", "(name: \"pivot\"");
    let e = error_of(&text);
    assert_eq!(e.field.as_deref(), Some("robot.links[1].name"), "{e}");
    assert!(e.message.contains("used twice"), "{e}");
}

#[test]
fn unknown_field_is_rejected_with_its_position() {
    let text = mutate("control_rate: 20.0,", "control_rate: 20.0,\n        substepz: 3,");
    let e = error_of(&text);
    assert_eq!(e.line, Some(line_of(&text, "substepz")), "{e}");
    assert!(e.message.contains("substepz"), "{e}");
    assert_eq!(e.field.as_deref(), Some("physics.substepz"), "{e}");
}

#[test]
fn wrong_type_names_the_field() {
    let text = mutate("rate: 20.0,\n        substeps: 10,", "rate: 20.0,\n        substeps: \"five\",");
    let e = error_of(&text);
    assert_eq!(e.field.as_deref(), Some("physics.substeps"), "{e}");
    assert_eq!(e.line, Some(line_of(&text, "\"five\"")), "{e}");
}

#[test]
fn syntax_error_gives_line_and_column() {
    let text = mutate("episode_steps: 200,", "episode_steps: 200,,");
    let e = error_of(&text);
    assert_eq!(e.line, Some(line_of(&text, "200,,")), "{e}");
    assert!(e.column.unwrap() > 1);
}

#[test]
fn unknown_enum_variant() {
    let text = mutate("Sphere(radius: 0.06)", "Ball(radius: 0.06)");
    let e = error_of(&text);
    assert!(e.message.contains("Ball"), "{e}");
    assert_eq!(e.line, Some(line_of(&text, "Ball")), "{e}");
}

#[test]
fn missing_required_field() {
    let text = mutate("        episode_steps: 200,\n", "");
    let e = error_of(&text);
    assert!(e.message.contains("episode_steps"), "{e}");
    assert!(e.line.is_some(), "{e}");
}

#[test]
fn joint_loop_is_rejected() {
    let text = mutate(
        "        ],\n        sites:",
        "            (name: \"back\", parent: \"pole\", child: \"pole\", anchor: (0.0, 1.0, 0.0), axis: (0.0, 0.0, 1.0)),\n        ],\n        sites:",
    );
    let e = error_of(&text);
    assert_eq!(e.field.as_deref(), Some("robot.joints[1].child"), "{e}");
}

#[test]
fn empty_and_garbage_files_are_errors_not_panics() {
    for text in ["", "(", ")", "[[[[", "\u{0}\u{1}", "(name: \"x\")", &"(".repeat(10_000)] {
        let e = error_of(text);
        assert!(!e.message.is_empty());
    }
}

#[test]
fn missing_and_non_utf8_files_name_the_file() {
    let e = load_scene(Path::new("scenes/does-not-exist.ron")).unwrap_err();
    assert!(e.to_string().contains("does-not-exist.ron") && e.message.contains("cannot read"), "{e}");
    let dir = std::env::temp_dir().join(format!("demorl-scene-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("binary.ron");
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let e = load_scene(&path).unwrap_err();
    assert!(e.message.contains("UTF-8"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn nominal_schedule_for_more_actions_than_the_robot_has() {
    let text = mutate(
        "        horizon: 20,",
        "        nominal: Some((period_steps: 8.0, amplitude: [0.1, 0.2])),\n        horizon: 20,",
    );
    assert_error(&text, "planner.nominal", "nominal: Some(", "at most the robot's 1 actions");
}

#[test]
fn nominal_schedule_with_a_bad_period() {
    let text = mutate(
        "        horizon: 20,",
        "        nominal: Some((period_steps: -3.0, amplitude: [0.1])),\n        horizon: 20,",
    );
    assert_error(&text, "planner.nominal.period_steps", "period_steps: -3.0", "[1, 100000]");
}

#[test]
fn an_inertia_that_is_not_positive_definite() {
    let text = mutate(
        "mass: Some(1.0), position: (0.0, 2.0",
        "inertia: Some((mass: 1.0, moments: (0.1, 0.1, 0.1), products: (0.2, 0.0, 0.0))), position: (0.0, 2.0",
    );
    assert_error(&text, "robot.links[1].inertia.moments", "moments: (0.1, 0.1, 0.1)", "positive definite");
}

#[test]
fn inertia_moments_that_break_the_triangle_inequality() {
    let text = mutate(
        "mass: Some(1.0), position: (0.0, 2.0",
        "inertia: Some((mass: 1.0, moments: (0.1, 0.1, 0.5))), position: (0.0, 2.0",
    );
    assert_error(&text, "robot.links[1].inertia.moments", "moments: (0.1, 0.1, 0.5)", "triangle inequality");
}

#[test]
fn a_home_angle_outside_the_limits() {
    let text = mutate(
        "actuator: Torque(max_torque: 2.0)",
        "limits: Some((-1.0, 1.0)), home: 2.0, actuator: Torque(max_torque: 2.0)",
    );
    assert_error(&text, "robot.joints[0].home", "home: 2.0", "outside the limits");
}

#[test]
fn a_missing_collision_mesh_is_named_at_its_field() {
    let text = mutate(
        "Sphere(radius: 0.06)",
        "Sphere(radius: 0.06), shapes: [(shape: ConvexMesh(file: \"meshes/nowhere.stl\"))]",
    );
    assert_error(&text, "robot.links[0].shapes[0].shape.file", "ConvexMesh(file:", "collision mesh");
}

#[test]
fn a_link_without_shapes_needs_an_inertia() {
    let text = mutate("shape: Sphere(radius: 0.06), ", "");
    assert_error(&text, "robot.links[0]", "(name: \"pivot\"", "needs an `inertia`");
}

#[test]
fn planning_physics_out_of_range_is_named_with_its_position() {
    let text = mutate("planning: Some((substeps: 10,", "planning: Some((substeps: 0,");
    assert_error(&text, "physics.planning.substeps", "substeps: 0", "");
}

#[test]
fn a_world_named_twice_is_refused_not_silently_replaced() {
    let text = mutate(
        "episode_steps: 200,",
        "episode_steps: 200,\n        worlds: {\"heavy\": (mass_scale: 1.3), \"heavy\": (mass_scale: 1.5)},",
    );
    assert_error(&text, "task.worlds", "worlds:", "\"heavy\" appears twice");
}
