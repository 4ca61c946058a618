//! Property test: random and mutated scene and preset files never panic the loaders, every
//! refusal names its line and column, and every mutated file the loader accepts builds an
//! environment that steps without panicking (ending the episode with a reason if physics breaks).
//!
//! Seeded, so a failure reproduces; the mutation count bounds its time in CI (~seconds).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use demorl_studio::config::{PRESET_NAMES, preset};
use demorl_studio::plan::{PresetError, parse_preset};
use demorl_studio::scene::{load_scene, parse_scene, scene_files};
use demorl_studio::sim::Env;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Mutants per source file.
const MUTANTS_PER_FILE: usize = 3000;
/// Control steps taken on every accepted mutant scene.
const STEPS_PER_ACCEPTED_SCENE: usize = 10;

/// Values that stress range checks: zero, negatives, non-finite, huge and tiny.
const NASTY_NUMBERS: &[&str] =
    &["NaN", "inf", "-inf", "0.0", "-0.0", "-1.0", "1e30", "-1e30", "1e-30", "0", "4294967296", "-7", "1e309"];
/// Characters that RON's grammar cares about.
const SYNTAX_CHARS: &[char] = &['(', ')', '[', ']', ',', ':', '"', '.', '-', 'e', '0', '9', ' ', '\n', '/', '*'];

/// Byte ranges of the numeric literals in `text`.
fn numbers(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts =
            bytes[i].is_ascii_digit() && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if starts {
            let start = if i > 0 && bytes[i - 1] == b'-' { i - 1 } else { i };
            let mut end = i;
            while end < bytes.len() && (bytes[end].is_ascii_digit() || matches!(bytes[end], b'.' | b'e' | b'E')) {
                end += 1;
            }
            spans.push((start, end));
            i = end;
        } else {
            i += 1;
        }
    }
    spans
}

/// Nearest char boundary at or below `at`.
fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A random char boundary of `text`.
fn pick(text: &str, rng: &mut impl Rng) -> usize {
    floor_boundary(text, rng.random_range(0..=text.len()))
}

/// One random edit: replace a number, delete, duplicate or insert a span, or truncate.
fn mutate(text: &str, rng: &mut impl Rng) -> String {
    let spans = numbers(text);
    match rng.random_range(0..6) {
        0 | 1 if !spans.is_empty() => {
            let (start, end) = spans[rng.random_range(0..spans.len())];
            let value = NASTY_NUMBERS[rng.random_range(0..NASTY_NUMBERS.len())];
            format!("{}{value}{}", &text[..start], &text[end..])
        }
        2 => {
            let start = pick(text, rng);
            let end = floor_boundary(text, start + rng.random_range(1..40));
            format!("{}{}", &text[..start], &text[end..])
        }
        3 => {
            let start = pick(text, rng);
            let end = floor_boundary(text, start + rng.random_range(1..80));
            format!("{}{}", &text[..end], &text[start..])
        }
        4 => {
            let at = pick(text, rng);
            let c = SYNTAX_CHARS[rng.random_range(0..SYNTAX_CHARS.len())];
            format!("{}{c}{}", &text[..at], &text[at..])
        }
        _ => text[..pick(text, rng)].to_string(),
    }
}

/// A mutant with one to three edits.
fn mutant(text: &str, rng: &mut impl Rng) -> String {
    let mut out = text.to_string();
    for _ in 0..rng.random_range(1..=3) {
        out = mutate(&out, rng);
    }
    out
}

/// Steps an accepted scene with random actions; panics surface as test failures with the mutant.
fn exercise(scene: &demorl_studio::scene::Scene, rng: &mut impl Rng) {
    let mut env = Env::new(scene);
    env.reset(rng.random());
    for _ in 0..STEPS_PER_ACCEPTED_SCENE {
        let action: Vec<f32> = (0..env.action_dim()).map(|_| rng.random_range(-1.0..=1.0)).collect();
        let outcome = env.step(&action);
        assert!(
            outcome.reward.is_finite() || outcome.reason.is_some(),
            "a non-finite reward must end the episode with a reason"
        );
        if outcome.done() {
            env.reset(rng.random());
        }
    }
}

#[test]
fn mutated_scene_files_never_panic_and_errors_are_located() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xf022);
    let (mut accepted, mut refused) = (0, 0);
    for path in scene_files(Path::new("scenes")).unwrap() {
        let original = std::fs::read_to_string(&path).unwrap();
        for k in 0..MUTANTS_PER_FILE {
            let text = mutant(&original, &mut rng);
            let seed: u64 = rng.random();
            let outcome = catch_unwind(AssertUnwindSafe(|| match parse_scene(&text, Path::new("mutant.ron")) {
                Ok(scene) => {
                    exercise(&scene, &mut ChaCha8Rng::seed_from_u64(seed));
                    true
                }
                Err(error) => {
                    assert!(error.line.is_some() && error.column.is_some(), "error without position: {error}");
                    assert!(!error.message.is_empty());
                    false
                }
            }));
            match outcome {
                Ok(true) => accepted += 1,
                Ok(false) => refused += 1,
                Err(_) => {
                    let dump = std::env::temp_dir().join(format!("panicking-mutant-{k}.ron"));
                    std::fs::write(&dump, &text).unwrap();
                    panic!("mutant {k} of {} panicked; saved to {}", path.display(), dump.display());
                }
            }
        }
    }
    // Both branches must be exercised, or the mutations are too weak (or too strong) to test anything.
    assert!(accepted > 50 && refused > 500, "accepted {accepted}, refused {refused}");
}

#[test]
fn mutated_preset_files_never_panic_and_errors_are_located() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x9e5e7);
    let (mut accepted, mut refused) = (0, 0);
    for name in PRESET_NAMES {
        let original = preset(name).unwrap().to_ron();
        for _ in 0..MUTANTS_PER_FILE {
            let text = mutant(&original, &mut rng);
            let result = catch_unwind(|| parse_preset(&text, Path::new("mutant.ron")))
                .unwrap_or_else(|_| panic!("preset mutant panicked:\n{text}"));
            match result {
                Ok(settings) => {
                    settings.validate().expect("accepted settings are valid");
                    accepted += 1;
                }
                Err(PresetError::File(error)) => {
                    assert!(error.line.is_some() && error.column.is_some(), "error without position: {error}");
                    refused += 1;
                }
                Err(other) => panic!("a preset file error must be located, got: {other}"),
            }
        }
    }
    assert!(accepted > 10 && refused > 300, "accepted {accepted}, refused {refused}");
}

#[test]
fn random_bytes_are_refused_not_panicked_on() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noise.ron");
    for _ in 0..200 {
        let length = rng.random_range(0..400);
        let bytes: Vec<u8> = (0..length).map(|_| rng.random()).collect();
        std::fs::write(&path, &bytes).unwrap();
        let error = load_scene(&path).expect_err("noise is not a scene");
        assert!(error.to_string().contains("noise.ron"), "{error}");
    }
}
