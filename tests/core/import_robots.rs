//! The URDF/MJCF importer against the numbers in the source files (Unitree Go1 from MuJoCo
//! Menagerie, Solo12 from example-robot-data), standing tests of the imported robots, malformed
//! files that must be refused with file, line and element, and a seeded fuzz test.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use demorl_studio::format::FileError;
use demorl_studio::scene::import::{ImportOptions, Imported, TaskKind, UrdfDrive, import};
use demorl_studio::scene::{Actuator, Observation, Scene, Shape, load_scene};
use demorl_studio::sim::{Env, RobotSummary, measure};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const GO1: &str = "assets/robots/go1/go1.xml";
const SOLO12: &str = "assets/robots/solo12/example-robot-data/robots/solo_description/robots/solo12.urdf";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("demorl-import-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn import_go1(task: TaskKind) -> Imported {
    let options = ImportOptions { task, ..ImportOptions::default() };
    import(Path::new(GO1), &scratch("go1").join("go1.ron"), &options).unwrap()
}

/// Solo12 as `scenes/solo12.ron` is made (README): PD motors and a standing pose.
fn solo12_options() -> ImportOptions {
    let home = [
        "FL_HFE=0.8",
        "FL_KFE=-1.6",
        "FR_HFE=0.8",
        "FR_KFE=-1.6",
        "HL_HFE=-0.8",
        "HL_KFE=1.6",
        "HR_HFE=-0.8",
        "HR_KFE=1.6",
    ]
    .iter()
    .map(|s| {
        let (n, a) = s.split_once('=').unwrap();
        (n.to_string(), a.parse().unwrap())
    })
    .collect();
    ImportOptions {
        home,
        urdf_drive: UrdfDrive { position_gains: Some((5.0, 0.1)), max_effort: Some(2.7) },
        ..ImportOptions::default()
    }
}

/// The masses a file declares, summed from its text (independently of the importer).
fn declared_masses(path: &str, pattern: &str) -> f64 {
    let text = std::fs::read_to_string(path).unwrap();
    text.match_indices(pattern)
        .map(|(at, _)| {
            let rest = &text[at + pattern.len()..];
            rest[..rest.find('"').unwrap()].parse::<f64>().unwrap()
        })
        .sum()
}

#[test]
fn go1_keeps_the_mjcf_files_masses_joints_ranges_and_actuators() {
    let imported = import_go1(TaskKind::Stand);
    let scene = &imported.scene;
    let file_mass = declared_masses(GO1, "mass=\"");
    assert!((file_mass - 12.743448).abs() < 1e-6, "the file's masses sum to {file_mass}");
    let summary = RobotSummary::of(&Env::new(scene));
    assert!(((summary.mass as f64) - file_mass).abs() / file_mass < 0.005, "{summary}");
    assert_eq!((summary.links, summary.joints, summary.actuated), (13, 12, 12), "{summary}");
    let trunk = &scene.robot.links[0];
    let inertia = trunk.inertia.as_ref().expect("the trunk's <inertial>");
    assert_eq!(inertia.mass, 5.204);
    assert_eq!(inertia.moments, [0.0716565, 0.0630105, 0.0168101]);
    assert_eq!(inertia.centre, [0.0223, 0.002, -0.0005]);
    assert_eq!(trunk.shapes.len(), 8, "the trunk's eight collision geoms");
    for joint in &scene.robot.joints {
        let (limits, force, damping, home) = match &joint.name[3..] {
            "hip_joint" => ((-0.863, 0.863), 23.7, 1.0, 0.0),
            "thigh_joint" => ((-0.686, (std::f64::consts::PI - 0.25) as f32), 23.7, 2.0, 0.9),
            "calf_joint" => ((-2.818, -0.888), 35.55, 2.0, -1.8),
            other => panic!("unexpected joint {other}"),
        };
        assert_eq!(joint.limits, Some(limits), "{}", joint.name);
        assert_eq!(joint.home, home, "{}", joint.name);
        let Actuator::Position { stiffness, damping: d, max_force, range } = &joint.actuator else {
            panic!("{} should have a position actuator", joint.name)
        };
        assert_eq!((*stiffness, *d, *max_force, *range), (100.0, damping, force, None), "{}", joint.name);
    }
    let feet: Vec<_> =
        scene.robot.links.iter().flat_map(|l| &l.shapes).filter(|s| matches!(s.shape, Shape::Sphere { .. })).collect();
    assert_eq!(feet.len(), 4);
    assert!(feet.iter().all(|f| f.shape == Shape::Sphere { radius: 0.023 } && f.friction == Some(0.8)));
    // The hip's range is clipped to what angles are measured in, and what the file says but the
    // simulator does not do is named.
    let warnings = imported.warnings.join("\n");
    for expected in ["clipped", "armature", "frictionloss", "visual mesh"] {
        assert!(warnings.contains(expected), "no warning about {expected}:\n{warnings}");
    }
}

#[test]
fn go1_is_placed_in_the_studios_y_up_world_at_its_home_keyframe() {
    let scene = import_go1(TaskKind::Stand).scene;
    let env = Env::new(&scene);
    let robot = env.robot();
    // Trunk at the keyframe's 0.27 m (lifted only if the keyframe sinks the feet into the ground).
    let trunk = env.physics().bodies[robot.links[0].body].translation();
    assert!((0.27..0.30).contains(&trunk.y), "trunk at {trunk:?}");
    // FL is on the robot's left: +Y in MuJoCo, −Z here; front is +X in both.
    let fl = robot.site_index("FL").unwrap();
    let foot = measure::site_position(env.physics(), robot, fl);
    assert!(foot.x > 0.1 && foot.z < -0.05, "FL foot at {foot:?}");
    // At home (thigh 0.9, knee −1.8) each foot is under its hip, 2 × 0.213 × cos 0.9 below it.
    let below_hip = 2.0 * 0.213 * 0.9f32.cos();
    assert!((trunk.y - foot.y - below_hip).abs() < 0.01, "foot {foot:?}, trunk {trunk:?}");
}

/// Holds the action that targets the home pose for `seconds`; returns the base heights and
/// the largest excursion of any joint beyond its limits.
fn stand(scene: &Scene, seconds: f32) -> (Vec<f32>, f32) {
    let mut env = Env::new(scene);
    let robot = env.robot().clone();
    let action = scene.robot.home_action();
    let steps = (seconds * scene.physics.control_rate) as usize;
    let mut heights = Vec::new();
    let mut excursion = 0.0f32;
    for step in 0..steps {
        let outcome = env.step(&action);
        assert!(!outcome.terminated, "fell at step {step}: {:?}", outcome.reason);
        heights.push(env.physics().bodies[robot.links[0].body].translation().y);
        for joint in &robot.joints {
            let angle = measure::joint_angle(env.physics(), &robot, joint);
            if let Some((lo, hi)) = joint.limits {
                excursion = excursion.max(lo - angle).max(angle - hi);
            }
        }
        if env.is_done() {
            env.reset(1);
        }
    }
    (heights, excursion)
}

fn assert_stands(name: &str, heights: &[f32], excursion: f32, control_rate: f32) {
    let settled = *heights.last().unwrap();
    let after_first_second = &heights[control_rate as usize..];
    let worst = after_first_second.iter().map(|h| (h - settled).abs()).fold(0.0f32, f32::max);
    println!(
        "{name}: settles at {settled:.4} m; after 1 s within {worst:.4} m of it; joints beyond limits by {excursion:.4} rad"
    );
    assert!(worst < 0.02, "{name}'s base wanders {worst} m from where it settles ({settled} m)");
    assert!(excursion < 0.01, "{name}: a joint leaves its range by {excursion} rad");
    assert!(settled > 0.1, "{name} collapsed to {settled} m");
}

#[test]
fn go1_stands_for_ten_seconds_at_its_home_pose() {
    let scene = import_go1(TaskKind::Stand).scene;
    let (heights, excursion) = stand(&scene, 10.0);
    assert_stands("Go1", &heights, excursion, scene.physics.control_rate);
}

#[test]
fn solo12_keeps_the_urdf_masses_draws_its_meshes_and_stands() {
    let imported = import(Path::new(SOLO12), &scratch("solo").join("solo12.ron"), &solo12_options()).unwrap();
    let scene = &imported.scene;
    let file_mass = declared_masses(SOLO12, "<mass value=\"");
    let summary = RobotSummary::of(&Env::new(scene));
    assert!(((summary.mass as f64) - file_mass).abs() / file_mass < 1e-4, "{summary} vs {file_mass} kg in the file");
    // Four fixed foot links are merged into the lower legs (and kept as sites).
    assert_eq!((summary.links, summary.joints, summary.actuated), (13, 12, 12), "{summary}");
    assert!(scene.robot.sites.iter().any(|s| s.name == "FL_FOOT" && s.link == "FL_LOWER_LEG"));
    assert!(scene.robot.links.iter().all(|l| !l.visuals.is_empty()), "every Solo12 link has its STL drawn");
    assert!(scene.robot.links.iter().all(|l| l.shapes.iter().all(|s| matches!(s.shape, Shape::ConvexMesh { .. }))));
    let (heights, excursion) = stand(scene, 10.0);
    assert_stands("Solo12", &heights, excursion, scene.physics.control_rate);
}

#[test]
fn the_shipped_robot_scenes_are_what_import_writes() {
    // scenes/go1.ron and scenes/solo12.ron are made by the commands in the README; a change to
    // the importer that changes them must come with the regenerated files.
    let go1 = import(
        Path::new(GO1),
        Path::new("scenes/go1.ron"),
        &ImportOptions { task: TaskKind::Walk, ..Default::default() },
    )
    .unwrap();
    assert_eq!(go1.text, std::fs::read_to_string("scenes/go1.ron").unwrap());
    let options = ImportOptions { task: TaskKind::Walk, ..solo12_options() };
    let solo = import(Path::new(SOLO12), Path::new("scenes/solo12.ron"), &options).unwrap();
    assert_eq!(solo.text, std::fs::read_to_string("scenes/solo12.ron").unwrap());
}

/// Writes `text` as a robot file named `name` next to the real ones (so relative mesh paths and
/// includes resolve) and imports it.
fn import_text(name: &str, text: &str) -> Result<Imported, FileError> {
    let folder =
        if name.ends_with(".urdf") { Path::new(SOLO12).parent().unwrap() } else { Path::new(GO1).parent().unwrap() };
    let dir = scratch("malformed");
    let path = folder.join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let result = import(&path, &dir.join("out.ron"), &solo12_or_default(name));
    std::fs::remove_file(&path).unwrap();
    result
}

fn solo12_or_default(name: &str) -> ImportOptions {
    if name.ends_with(".urdf") {
        ImportOptions { home: Vec::new(), ..solo12_options() }
    } else {
        ImportOptions::default()
    }
}

fn go1_with(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(GO1).unwrap();
    assert!(text.contains(from), "the Go1 file no longer contains {from}");
    text.replacen(from, to, 1)
}

fn solo_with(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(SOLO12).unwrap();
    assert!(text.contains(from), "the Solo12 file no longer contains {from}");
    text.replacen(from, to, 1)
}

#[test]
fn malformed_robot_files_are_refused_naming_file_line_and_element() {
    let cases: Vec<(&str, String, &str, &str)> = vec![
        // (file name, text, element named, message fragment)
        (
            "slide.xml",
            go1_with(
                "<joint class=\"abduction\" name=\"FR_hip_joint\"/>",
                "<joint type=\"slide\" name=\"FR_hip_joint\"/>",
            ),
            "FR_hip_joint",
            "slide",
        ),
        (
            "ball.xml",
            go1_with(
                "<joint class=\"abduction\" name=\"FL_hip_joint\"/>",
                "<joint type=\"ball\" name=\"FL_hip_joint\"/>",
            ),
            "FL_hip_joint",
            "ball",
        ),
        ("zeromass.xml", go1_with("mass=\"5.204\"", "mass=\"0\""), "inertial", "positive mass"),
        ("nan.xml", go1_with("pos=\"0.1881 -0.04675 0\"", "pos=\"NaN -0.04675 0\""), "FR_hip", "finite"),
        ("huge.xml", go1_with("pos=\"0.1881 0.04675 0\"", "pos=\"1e9 0.04675 0\""), "FL_hip", "within"),
        (
            "class.xml",
            go1_with("<geom class=\"thigh1\"/>", "<geom class=\"no_such_class\"/>"),
            "geom",
            "no default class",
        ),
        ("actuator.xml", go1_with("joint=\"FR_calf_joint\"", "joint=\"FR_ankle_joint\""), "position", "FR_ankle_joint"),
        (
            "key.xml",
            go1_with("0 0.9 -1.8 0 0.9 -1.8 0 0.9 -1.8 0 0.9 -1.8\"\n      ctrl", "0 0.9\"\n      ctrl"),
            "key",
            "expected 19 numbers",
        ),
        (
            "twojoints.xml",
            go1_with(
                "<joint class=\"knee\" name=\"FR_calf_joint\"/>",
                "<joint class=\"knee\" name=\"FR_calf_joint\"/><joint class=\"knee\" name=\"FR_extra\"/>",
            ),
            "FR_extra",
            "more than one joint",
        ),
        (
            "ellipsoid.xml",
            go1_with(
                "<geom class=\"collision\" size=\"0.125 0.04 0.057\" type=\"box\"/>",
                "<geom class=\"collision\" size=\"0.125 0.04 0.057\" type=\"ellipsoid\"/>",
            ),
            "geom",
            "ellipsoid",
        ),
        (
            "mesh.xml",
            go1_with(
                "<geom class=\"collision\" size=\"0.125 0.04 0.057\" type=\"box\"/>",
                "<geom type=\"mesh\" mesh=\"trunk\"/>",
            ),
            "trunk",
            "collision mesh",
        ),
        ("notxml.xml", "this is not <xml".to_string(), "", "well-formed"),
        (
            "equality.xml",
            go1_with("<actuator>", "<equality><weld body1=\"trunk\"/></equality>\n  <actuator>"),
            "equality",
            "not supported",
        ),
        ("include.xml", go1_with("<asset>", "<include file=\"missing.xml\"/><asset>"), "", "cannot read"),
        (
            "prismatic.urdf",
            solo_with("<joint name=\"FL_HAA\" type=\"revolute\">", "<joint name=\"FL_HAA\" type=\"prismatic\">"),
            "FL_HAA",
            "prismatic",
        ),
        (
            "parent.urdf",
            solo_with("<parent link=\"FL_SHOULDER\"/>", "<parent link=\"NO_SUCH_LINK\"/>"),
            "FL_HFE",
            "NO_SUCH_LINK",
        ),
        ("cycle.urdf", solo_with("<child link=\"FL_SHOULDER\"/>", "<child link=\"base_link\"/>"), "", "loop"),
        ("zeromass.urdf", solo_with("<mass value=\"1.16115091\"/>", "<mass value=\"0.0\"/>"), "mass", "positive mass"),
        (
            "meshmissing.urdf",
            solo_with(
                "solo12/solo_12_base.stl\"/>\n      </geometry>\n      <material name=\"grey\">\n        <color rgba=\"0.8 0.8 0.8 1.0\"/>\n      </material>\n    </collision>",
                "solo12/missing.stl\"/>\n      </geometry>\n      <material name=\"grey\">\n        <color rgba=\"0.8 0.8 0.8 1.0\"/>\n      </material>\n    </collision>",
            ),
            "base_link",
            "collision mesh",
        ),
        (
            "package.urdf",
            solo_with(
                "package://example-robot-data/robots/solo_description/meshes/stl/solo12/solo_12_base.stl",
                "package://no-such-package/base.stl",
            ),
            "base_link",
            "no-such-package",
        ),
        ("nan.urdf", solo_with("xyz=\"0.1946 0.0875 0\"", "xyz=\"0.1946 nan 0\""), "origin", "finite"),
        (
            "nolimit.urdf",
            solo_with(
                "<limit effort=\"1000\" lower=\"-10\" upper=\"10\" velocity=\"1000\"/>\n    <!-- joints rotates around the x-axis -->",
                "<!-- joints rotates around the x-axis -->",
            ),
            "FL_HAA",
            "<limit>",
        ),
        (
            "twice.urdf",
            solo_with("<link name=\"FL_SHOULDER\">", "<link name=\"base_link\">"),
            "base_link",
            "used twice",
        ),
        ("notrobot.urdf", "<?xml version=\"1.0\"?><model name=\"x\"/>".to_string(), "model", "<robot>"),
    ];
    assert!(cases.len() >= 15);
    for (name, text, element, fragment) in &cases {
        let error = match catch_unwind(AssertUnwindSafe(|| import_text(name, text))) {
            Ok(Ok(_)) => panic!("{name} was accepted"),
            Ok(Err(e)) => e,
            Err(_) => panic!("{name} panicked the importer"),
        };
        let shown = error.to_string();
        assert!(shown.contains(fragment), "{name}: expected \"{fragment}\" in: {shown}");
        assert!(shown.contains(element), "{name}: expected the element {element} in: {shown}");
        if *name != "include.xml" {
            assert!(error.line.is_some(), "{name}: no line in: {shown}");
        }
        assert!(shown.contains(&format!("-{name}")) || shown.contains("missing.xml"), "{name}: no file in: {shown}");
    }
}

/// Numbers and XML syntax changed at random, seeded: the importer answers every mutant with a
/// scene or an error, never a panic, and every accepted scene steps.
#[test]
fn mutated_robot_files_never_panic_the_importer() {
    const NASTY: &[&str] = &["NaN", "inf", "-1", "0", "1e30", "-1e-30", "4294967296", "", "1 2", "x"];
    const SYNTAX: &[&str] = &["<", ">", "/", "\"", "=", "</body>", "<body>", "<joint/>", "&amp;", "<!--"];
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let (mut accepted, mut refused) = (0, 0);
    for (source, mutants) in [(GO1, 300), (SOLO12, 60)] {
        let text = std::fs::read_to_string(source).unwrap();
        let name = Path::new(source).file_name().unwrap().to_str().unwrap().to_string();
        for _ in 0..mutants {
            let mut mutant = text.clone();
            for _ in 0..rng.random_range(1..4) {
                let at = floor(&mutant, rng.random_range(0..mutant.len()));
                let end = floor(&mutant, (at + rng.random_range(1..12)).min(mutant.len()));
                let with = if rng.random_bool(0.5) {
                    NASTY[rng.random_range(0..NASTY.len())]
                } else {
                    SYNTAX[rng.random_range(0..SYNTAX.len())]
                };
                mutant.replace_range(at..end, with);
            }
            let result = catch_unwind(AssertUnwindSafe(|| {
                import_text(&name, &mutant).map(|imported| {
                    let mut env = Env::new(&imported.scene);
                    for _ in 0..3 {
                        env.step(&vec![0.0; env.action_dim()]);
                    }
                })
            }));
            match result {
                Ok(Ok(())) => accepted += 1,
                Ok(Err(_)) => refused += 1,
                Err(_) => panic!("a mutant of {name} panicked:\n{mutant}"),
            }
        }
    }
    println!("mutants: {accepted} accepted, {refused} refused");
    assert!(refused > 0 && accepted > 0, "{accepted} accepted, {refused} refused: the mutations should do both");
}

fn floor(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn train_args(words: &[&str]) -> demorl_studio::cli::TrainArgs {
    use clap::Parser;
    let mut argv = vec!["demorl-studio", "train"];
    argv.extend_from_slice(words);
    match demorl_studio::cli::Cli::try_parse_from(argv).unwrap().command {
        Some(demorl_studio::cli::Command::Train(args)) => args,
        other => panic!("parsed {other:?}"),
    }
}

#[test]
fn an_imported_robot_trains_checkpoints_and_resumes_like_a_hand_written_one() {
    // SAC on Solo12 (its warm-up acts at random, so episodes end in falls and checkpoints, which
    // are taken at episode starts, happen), then resumed for 100 more steps.
    let dir = scratch("train");
    let (first, saves, resumed) = (dir.join("first"), dir.join("saves"), dir.join("resumed"));
    let common = ["scenes/solo12.ron", "--mode", "sac", "--eval-every", "100", "--eval-episodes", "1", "--seed", "3"];
    let mut words: Vec<&str> = common.to_vec();
    words.extend([
        "--steps",
        "300",
        "--save-every",
        "100",
        "--save-to",
        saves.to_str().unwrap(),
        "--out",
        first.to_str().unwrap(),
    ]);
    demorl_studio::cli::train(&train_args(&words)).unwrap();
    let manifest = demorl_studio::agent::read_checkpoint(&saves).unwrap();
    let saved_at = manifest.trainer.env_steps;
    assert!((100..=300).contains(&saved_at), "checkpoint at {saved_at} steps");
    let more = (saved_at + 100).to_string();
    let words = [
        "scenes/solo12.ron",
        "--resume",
        saves.to_str().unwrap(),
        "--steps",
        &more,
        "--out",
        resumed.to_str().unwrap(),
    ];
    demorl_studio::cli::train(&train_args(&words)).unwrap();
    let summary = std::fs::read_to_string(resumed.join("summary.json")).unwrap();
    assert!(summary.contains(&format!("\"env_steps\": {more}")), "{summary}");
}

/// A joint's name, world anchor and world axis.
type JointFrame = (String, [f32; 3], [f32; 3]);

/// A two-hinge arm whose middle body is turned 90° about Z, written with each of MJCF's
/// orientation forms (and URDF's rpy): every form must give the same robot, and the known one.
fn arm_mjcf(orientation: &str, compiler: &str) -> String {
    format!(
        r#"<mujoco model="arm">
  <compiler {compiler}/>
  <worldbody>
    <body name="base" pos="0 0 1">
      <freejoint/>
      <geom type="box" size="0.1 0.1 0.1" mass="1"/>
      <inertial mass="1" diaginertia="0.01 0.01 0.01"/>
      <body name="arm" {orientation}>
        <joint name="shoulder" axis="1 0 0"/>
        <inertial mass="0.5" diaginertia="0.001 0.001 0.001"/>
        <geom type="capsule" fromto="0 0 0 1 0 0" size="0.02"/>
        <body name="tip" pos="1 0 0">
          <joint name="elbow" axis="0 1 0"/>
          <inertial mass="0.2" diaginertia="0.001 0.001 0.001"/>
          <geom type="sphere" size="0.05"/>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor joint="shoulder" gear="2" ctrlrange="-1 1"/>
    <motor joint="elbow" gear="3" ctrlrange="-1 1"/>
  </actuator>
</mujoco>"#
    )
}

#[test]
fn every_mjcf_orientation_form_and_urdf_rpy_give_the_same_known_frames() {
    let variants = [
        ("quat", arm_mjcf(r#"quat="0.70710678 0 0 0.70710678""#, r#"angle="radian""#)),
        ("axisangle in degrees", arm_mjcf(r#"axisangle="0 0 1 90""#, "")),
        ("euler in degrees", arm_mjcf(r#"euler="0 0 90""#, "")),
        ("euler, fixed axes", arm_mjcf(r#"euler="0 0 1.5707963""#, r#"angle="radian" eulerseq="XYZ""#)),
        ("xyaxes", arm_mjcf(r#"xyaxes="0 1 0 -1 0 0""#, "")),
    ];
    let mut first: Option<Vec<JointFrame>> = None;
    for (form, text) in &variants {
        // The geom `mass` is refused (the body has an <inertial>): remove it for this check.
        let text = text.replace(r#" mass="1"/>"#, "/>");
        let imported = import_text("arm.xml", &text).unwrap_or_else(|e| panic!("{form}: {e}"));
        let joints: Vec<JointFrame> =
            imported.scene.robot.joints.iter().map(|j| (j.name.clone(), j.anchor, j.axis)).collect();
        let (shoulder, elbow) = (&joints[0], &joints[1]);
        let close = |a: [f32; 3], b: [f32; 3]| (0..3).all(|k| (a[k] - b[k]).abs() < 1e-5);
        // Z up → Y up: (x, y, z) ↦ (x, z, −y). The arm's X axis points along the world's Y
        // (Z-up), i.e. −Z here; its Y axis along the world's −X.
        assert!(close(shoulder.2, [0.0, 0.0, -1.0]), "{form}: shoulder axis {:?}", shoulder.2);
        assert!(close(elbow.2, [-1.0, 0.0, 0.0]), "{form}: elbow axis {:?}", elbow.2);
        let offset = [elbow.1[0] - shoulder.1[0], elbow.1[1] - shoulder.1[1], elbow.1[2] - shoulder.1[2]];
        assert!(close(offset, [0.0, 0.0, -1.0]), "{form}: elbow − shoulder {offset:?}");
        let Actuator::Torque { max_torque } = imported.scene.robot.joints[1].actuator else { panic!("motor") };
        assert_eq!(max_torque, 3.0, "{form}: gear × |ctrl|");
        match &first {
            None => first = Some(joints),
            Some(reference) => {
                for (a, b) in reference.iter().zip(&joints) {
                    assert!(close(a.1, b.1) && close(a.2, b.2), "{form} differs from quat: {a:?} vs {b:?}");
                }
            }
        }
    }
    // URDF: the same arm, its joint frames turned by rpy (about fixed axes: yaw last).
    let urdf = r#"<robot name="arm">
  <link name="base"><inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><geometry><box size="0.2 0.2 0.2"/></geometry></collision></link>
  <link name="arm"><inertial><mass value="0.5"/><inertia ixx="0.001" iyy="0.001" izz="0.001" ixy="0" ixz="0" iyz="0"/></inertial></link>
  <link name="tip"><inertial><mass value="0.2"/><inertia ixx="0.001" iyy="0.001" izz="0.001" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><geometry><sphere radius="0.05"/></geometry></collision></link>
  <joint name="shoulder" type="revolute"><parent link="base"/><child link="arm"/><origin xyz="0 0 0" rpy="0 0 1.5707963"/>
    <axis xyz="1 0 0"/><limit lower="-1" upper="1" effort="2"/></joint>
  <joint name="elbow" type="revolute"><parent link="arm"/><child link="tip"/><origin xyz="1 0 0"/>
    <axis xyz="0 1 0"/><limit lower="-1" upper="1" effort="3"/></joint>
</robot>"#;
    let imported = import_text("arm.urdf", urdf).unwrap();
    let j = &imported.scene.robot.joints;
    let reference = first.unwrap();
    for (a, b) in reference.iter().zip(j) {
        assert!((0..3).all(|k| (a.2[k] - b.axis[k]).abs() < 1e-5), "URDF axis {:?} vs {:?}", b.axis, a.2);
    }
    let offset = [j[1].anchor[0] - j[0].anchor[0], j[1].anchor[1] - j[0].anchor[1], j[1].anchor[2] - j[0].anchor[2]];
    assert!((0..3).all(|k| (offset[k] - [0.0, 0.0, -1.0][k]).abs() < 1e-5), "URDF elbow − shoulder {offset:?}");
}

#[test]
fn a_walking_import_gets_a_trot_clock_and_the_shifted_worlds_with_a_push_sized_to_its_mass() {
    let scene = load_scene(Path::new("scenes/go1.ron")).unwrap();
    let mass = RobotSummary::of(&Env::new(&scene)).mass;
    let names: Vec<&str> = scene.task.worlds.keys().map(String::as_str).collect();
    assert_eq!(names, ["heavy", "laggy", "pushed", "slippery", "weak"]);
    let push = scene.task.worlds["pushed"].push.clone().unwrap();
    // 1 m/s for the whole robot in 3 control steps of 20 ms: F = m · 1 m/s / 0.06 s.
    let expected = (mass * 1.0 / (3.0 / scene.physics.control_rate)).round();
    assert_eq!((push.force, push.duration_steps, push.every_steps), (expected, 3, 100));
    assert!((push.force - 212.0).abs() < 1.0, "Go1's 12.74 kg need about 212 N, found {}", push.force);
    assert_eq!(push.link.as_deref(), Some("trunk"));
    assert_eq!(scene.task.worlds["heavy"].mass_scale, 1.3);
    // It observes where in its trot it is, on the trot's own period (residual runs need that).
    let trot = scene.planner.nominal.as_ref().expect("a trot");
    assert_eq!(scene.task.observation.last(), Some(&Observation::Phase));
    assert_eq!(scene.task.phase.as_ref().map(|clock| clock.period_steps as f32), Some(trot.period_steps));
    let ranges = scene.task.randomize.as_ref().expect("randomisation ranges");
    assert_eq!((ranges.mass_scale, ranges.push.as_ref().map(|p| p.force)), ((0.8, 1.35), Some(expected)));
    // A fixed-base robot, or the `none` task, gets none.
    let options = ImportOptions { task: TaskKind::None, ..Default::default() };
    let plain = import(Path::new(GO1), &scratch("go1-none").join("go1.ron"), &options).unwrap();
    assert!(plain.scene.task.worlds.is_empty() && plain.scene.task.randomize.is_none());
}
