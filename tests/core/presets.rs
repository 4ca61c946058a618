//! User presets: saved and loaded back unchanged, built-ins read-only, nothing overwritten
//! unasked, and bad files refused with file, line and field.

use std::path::Path;

use demorl_studio::config::{Loss, PlannerSettings, preset};
use demorl_studio::plan::{PresetError, PresetStore, load_preset_file, parse_preset};

fn store() -> (tempfile::TempDir, PresetStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = PresetStore::new(dir.path().join("presets"));
    (dir, store)
}

fn custom() -> PlannerSettings {
    PlannerSettings { horizon: 17, samples: 48, loss: Loss::Cem { elite_fraction: 0.15 }, ..preset("mppi").unwrap() }
}

#[test]
fn saved_preset_loads_back_identical_and_is_listed() {
    let (_dir, store) = store();
    assert!(store.list().unwrap().is_empty(), "an absent folder holds no presets");
    let path = store.save("my-cem_15", &custom(), false).unwrap();
    assert!(path.ends_with("my-cem_15.ron"));
    assert_eq!(store.load("my-cem_15").unwrap(), custom());
    assert_eq!(store.list().unwrap(), vec!["my-cem_15".to_string()]);
    // No temporary file is left behind.
    let files: Vec<_> = std::fs::read_dir(store.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
}

#[test]
fn builtins_load_by_name_and_are_read_only() {
    let (_dir, store) = store();
    assert_eq!(store.load("paper-cem").unwrap(), preset("paper-cem").unwrap());
    let error = store.save("reference", &custom(), true).unwrap_err();
    assert!(matches!(error, PresetError::BadName { .. }), "{error}");
    assert!(error.to_string().contains("read-only"), "{error}");
    assert!(!store.dir().exists(), "nothing was written");
}

#[test]
fn existing_preset_is_not_overwritten_unless_asked() {
    let (_dir, store) = store();
    store.save("mine", &custom(), false).unwrap();
    let other = PlannerSettings { horizon: 5, ..custom() };
    let error = store.save("mine", &other, false).unwrap_err();
    assert!(matches!(error, PresetError::Exists { .. }), "{error}");
    assert_eq!(store.load("mine").unwrap(), custom(), "the first preset is intact");
    store.save("mine", &other, true).unwrap();
    assert_eq!(store.load("mine").unwrap(), other);
}

#[test]
fn unsafe_names_and_invalid_settings_are_refused() {
    let (_dir, store) = store();
    for name in ["", "../escape", "a/b", "with space", "-dash", &"x".repeat(65)] {
        let error = store.save(name, &custom(), false).unwrap_err();
        assert!(matches!(error, PresetError::BadName { .. }), "`{name}`: {error}");
    }
    let invalid = PlannerSettings { samples: 0, ..custom() };
    let error = store.save("fine", &invalid, false).unwrap_err();
    assert!(error.to_string().contains("planner.samples"), "{error}");
    assert!(!store.path_of("fine").exists());
    let error = store.load("nothing-here").unwrap_err();
    assert!(matches!(error, PresetError::Unknown { .. }), "{error}");
    assert!(error.to_string().contains("paper-cem"), "lists the built-ins: {error}");
}

#[test]
fn out_of_range_value_in_a_file_names_field_line_and_column() {
    let text = "(\n    horizon: 10,\n    samples: 64,\n    loss: Mppi(temperature: -2.0),\n)\n";
    let PresetError::File(error) = parse_preset(text, Path::new("bad.ron")).unwrap_err() else {
        panic!("expected a located file error")
    };
    assert_eq!(error.field.as_deref(), Some("loss.temperature"), "{error}");
    assert_eq!(error.line, Some(4), "{error}");
    assert!(error.column.is_some());
    assert!(error.to_string().starts_with("bad.ron:4:"), "{error}");
}

#[test]
fn syntax_and_type_errors_name_their_position() {
    let cases = [
        ("(\n    horizon: 10,\n    samples: \"many\",\n)\n", 3),
        ("(\n    horizon: 10,\n    sampels: 64,\n)\n", 3),
        ("(\n    horizon: 10\n    samples: 64,\n)\n", 3),
    ];
    for (text, line) in cases {
        let PresetError::File(error) = parse_preset(text, Path::new("bad.ron")).unwrap_err() else {
            panic!("expected a located file error for {text}")
        };
        assert_eq!(error.line, Some(line), "{error}");
    }
}

#[test]
fn unreadable_and_truncated_files_are_refused_with_their_path() {
    let (dir, store) = store();
    store.save("whole", &custom(), false).unwrap();
    let path = store.path_of("whole");
    let text = std::fs::read_to_string(&path).unwrap();
    let truncated = dir.path().join("truncated.ron");
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    let error = load_preset_file(&truncated).unwrap_err();
    assert!(error.to_string().contains("truncated.ron"), "{error}");
    let binary = dir.path().join("binary.ron");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let error = load_preset_file(&binary).unwrap_err();
    assert!(error.to_string().contains("UTF-8"), "{error}");
    let error = load_preset_file(&dir.path().join("missing.ron")).unwrap_err();
    assert!(error.to_string().contains("missing.ron"), "{error}");
}

/// `--preset` resolves a file path, a built-in or a studio-saved preset, in that order, and the
/// learning modes record the resolved settings.
#[test]
fn a_preset_argument_names_a_file_a_builtin_or_a_saved_preset() {
    use demorl_studio::plan::resolve_preset;
    let (_dir, store) = store();
    let saved = store.save("tuned", &custom(), false).unwrap();
    assert_eq!(resolve_preset("tuned", store.dir()).unwrap(), custom());
    assert_eq!(resolve_preset("mppi", store.dir()).unwrap(), preset("mppi").unwrap());
    assert_eq!(resolve_preset(saved.to_str().unwrap(), Path::new("/nonexistent")).unwrap(), custom());
    let error = resolve_preset("fast", store.dir()).unwrap_err().to_string();
    assert!(error.contains("`fast`") && error.contains("paper-cem") && error.contains("presets"), "{error}");
    let error = resolve_preset("missing.ron", store.dir()).unwrap_err().to_string();
    assert!(error.contains("missing.ron"), "{error}");

    let scene_path = Path::new("scenes/pendulum.ron");
    let scene = demorl_studio::scene::load_scene(scene_path).unwrap();
    let mode = demorl_studio::config::RunMode::Demorl;
    let file = saved.to_str().unwrap();
    let config = demorl_studio::agent::learning_config(scene_path, &scene, mode, Some(file), 0, 1).unwrap();
    assert_eq!((config.preset.as_str(), &config.planner), (file, &custom()));
}

/// The preset files the docs' commands name all load.
#[test]
fn the_documented_preset_files_load() {
    let files: Vec<_> = std::fs::read_dir("docs/presets").unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!files.is_empty());
    for path in files {
        let settings = load_preset_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(settings.horizon > 0, "{}", path.display());
    }
}

/// docs/presets/quadruped-realtime.ron, the real-time quadruped plan of docs/BENCHMARKS.md, is the
/// scene's own planner with 8 samples and 1 iteration, so a change to the scene carries over.
#[test]
fn the_real_time_quadruped_preset_is_the_scenes_planner_with_fewer_rollouts() {
    let shipped = load_preset_file(Path::new("docs/presets/quadruped-realtime.ron")).unwrap();
    let scene = demorl_studio::scene::load_scene(Path::new("scenes/quadruped.ron")).unwrap();
    let want = PlannerSettings { samples: 8, iterations: 1, ..scene.planner.clone() };
    assert_eq!(shipped, want);
    let rollouts = |s: &PlannerSettings| s.samples * s.iterations;
    assert_eq!(rollouts(&scene.planner), 8 * rollouts(&shipped), "an eighth of the scene's rollouts");
}
