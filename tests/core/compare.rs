//! `compare`: steps-to-threshold logic on synthetic curves, the plot writer, and a tiny grid on
//! the pendulum that gives the same files with one and two jobs and resumes without retraining.

use crate::compare_common;

use std::path::{Path, PathBuf};

use clap::Parser;
use compare_common::{finished, scratch, write_tiny_settings};
use demorl_studio::cli::{Cli, Command, compare_options};
use demorl_studio::compare::{
    CurvePoint, SeedCurve, TableRule, TrainingEnds, TrainingMean, build_table, grid_runs, median_steps, mode_bands,
    mode_colour, parse_seeds, parse_settings_for, run_compare, write_curves, write_table_csv,
};
use demorl_studio::config::{Loss, RunMode, read_run_config};

/// Episode steps of the synthetic scene: evaluations here last that long unless they fell.
const EPISODE_STEPS: u32 = 200;

fn curve(mode: &str, seed: u64, means: &[f64]) -> SeedCurve {
    let points = means
        .iter()
        .enumerate()
        .map(|(k, &mean)| CurvePoint {
            env_steps: 100 * k as u64,
            mean,
            std: 10.0 * k as f64,
            length_mean: f64::from(EPISODE_STEPS),
            falls: None,
        })
        .collect();
    SeedCurve { mode: mode.to_string(), seed, points, training: None }
}

/// The table's rule with `threshold`, counting evaluations with falls or not.
fn rule(threshold: Option<f64>, without_falls: bool) -> TableRule {
    TableRule { threshold, episode_steps: EPISODE_STEPS, without_falls }
}

#[test]
fn first_crossing_is_the_first_evaluation_at_or_above_the_threshold() {
    let c = curve("sac", 1, &[-1000.0, -300.0, -150.0, -250.0, -100.0]);
    let first_crossing = |c: &SeedCurve, threshold| rule(None, false).first_crossing(c, threshold);
    assert_eq!(first_crossing(&c, -200.0), Some(200), "first crossing, not the best or the last");
    assert_eq!(first_crossing(&c, -300.0), Some(100), "a mean equal to the threshold reaches it");
    assert_eq!(first_crossing(&c, -1000.0), Some(0), "the evaluation before training counts");
    assert_eq!(first_crossing(&c, -99.0), None, "never reached");
    assert_eq!(first_crossing(&curve("sac", 1, &[]), -1.0), None);
}

#[test]
fn without_falls_an_evaluation_with_a_short_episode_does_not_reach_the_threshold() {
    let mut c = curve("demorl", 1, &[-1000.0, -150.0, -120.0, -100.0]);
    // Step 100's evaluation reached the return with an episode cut short (a fall).
    c.points[1].length_mean = f64::from(EPISODE_STEPS) - 0.5;
    assert_eq!(rule(None, false).first_crossing(&c, -200.0), Some(100), "the return alone");
    assert_eq!(rule(None, true).first_crossing(&c, -200.0), Some(200), "the next evaluation without a fall");
    // The last evaluation falling: counted in the table whichever way crossings are read.
    c.points[3].length_mean = 150.0;
    let modes = vec!["demorl".to_string()];
    for without_falls in [false, true] {
        let table = build_table(std::slice::from_ref(&c), &modes, &rule(Some(-200.0), without_falls));
        let mode = &table.modes[0];
        assert_eq!((mode.final_falling, mode.seeds[0].final_fell), (1, true));
        let md = table.markdown("hopper");
        assert!(md.contains(" | -100.0 ± 0.0 | 1/1 |"), "{md}");
        assert_eq!(md.contains("does not count (--without-falls)"), without_falls, "{md}");
    }
    let flag = |extra: &[&str]| {
        let args = parse_compare(&[&["scenes/hopper.ron", "--modes", "sac", "--out", "/tmp/unused"], extra].concat());
        compare_options(&args).unwrap().without_falls
    };
    assert_eq!((flag(&[]), flag(&["--without-falls"])), (false, true));

    // Evaluations that counted their falls are judged by the count, not the mean length: a short
    // episode that did not fall (a blow-up) reaches the threshold, a counted fall does not.
    let mut counted = curve("demorl", 2, &[-1000.0, -150.0, -120.0]);
    counted.points[1].length_mean = 150.0;
    counted.points[1].falls = Some(0);
    assert_eq!(rule(None, true).first_crossing(&counted, -200.0), Some(100), "a short episode, no fall");
    counted.points[1].falls = Some(1);
    counted.points[2].falls = Some(3);
    assert_eq!(rule(None, true).first_crossing(&counted, -200.0), None, "falls at full mean length still count");
    let table = build_table(std::slice::from_ref(&counted), &["demorl".to_string()], &rule(Some(-200.0), true));
    assert_eq!((table.modes[0].seeds[0].final_fell, table.modes[0].seeds[0].final_falls), (true, Some(3)));
}

#[test]
fn median_counts_seeds_that_never_reach_as_infinite() {
    assert_eq!(median_steps(&[Some(300), Some(100), None]), Some(300.0));
    assert_eq!(median_steps(&[Some(100), Some(300)]), Some(200.0));
    assert_eq!(median_steps(&[Some(200), Some(400), Some(200)]), Some(200.0), "ties");
    assert_eq!(median_steps(&[Some(100), None]), None, "half never reached: no finite median");
    assert_eq!(median_steps(&[None, Some(5), None]), None);
    assert_eq!(median_steps(&[]), None);
}

#[test]
fn seed_lists_parse_inclusive_ranges_and_lists() {
    assert_eq!(parse_seeds("1..5").unwrap(), vec![1, 2, 3, 4, 5]);
    assert_eq!(parse_seeds("1..=3").unwrap(), vec![1, 2, 3]);
    assert_eq!(parse_seeds("7").unwrap(), vec![7]);
    assert_eq!(parse_seeds("1, 2,7").unwrap(), vec![1, 2, 7]);
    for bad in ["5..1", "1,1", "x", "", "1..b"] {
        assert!(parse_seeds(bad).is_err(), "`{bad}` should be rejected");
    }
}

#[test]
fn settings_for_takes_a_known_mode_and_a_file() {
    assert_eq!(parse_settings_for("demorl=docs/x.ron").unwrap(), (RunMode::Demorl, PathBuf::from("docs/x.ron")));
    for bad in ["zero=a.ron", "sac", "sac=", "=a.ron"] {
        assert!(parse_settings_for(bad).is_err(), "`{bad}` should be rejected");
    }
}

fn synthetic_grid() -> (Vec<SeedCurve>, Vec<String>) {
    let curves = vec![
        curve("sac", 1, &[-1200.0, -900.0, -400.0, -300.0]),
        curve("sac", 2, &[-1100.0, -800.0, -200.0, -100.0]),
        curve("demorl", 1, &[-1300.0, -200.0, -150.0, -160.0]),
        curve("demorl", 2, &[-1250.0, -600.0, -210.0, -180.0]),
    ];
    (curves, vec!["sac".to_string(), "demorl".to_string()])
}

#[test]
fn table_defaults_to_the_first_modes_mean_final_return() {
    let (curves, modes) = synthetic_grid();
    let table = build_table(&curves, &modes, &rule(None, false));
    assert_eq!(table.threshold, -200.0, "mean of sac's final returns -300 and -100");
    assert!(table.threshold_source.contains("sac"), "{}", table.threshold_source);
    let (sac, demorl) = (&table.modes[0], &table.modes[1]);
    let steps = |m: &demorl_studio::compare::ModeRow| m.seeds.iter().map(|s| s.steps_to_threshold).collect::<Vec<_>>();
    assert_eq!(steps(sac), vec![None, Some(200)]);
    assert_eq!(steps(demorl), vec![Some(100), Some(300)], "tie at -200 counts; -210 does not");
    assert_eq!((sac.reached, sac.median_steps), (1, None));
    assert_eq!((demorl.reached, demorl.median_steps), (2, Some(200.0)));
    assert_eq!((demorl.final_mean, demorl.final_std), (-170.0, 10.0));
    assert_eq!(demorl.seeds[1].final_return_std, 30.0);

    let given = build_table(&curves, &modes, &rule(Some(-1000.0), false));
    assert_eq!(given.threshold_source, "--threshold");
    assert_eq!(given.modes[0].seeds[1].steps_to_threshold, Some(100));

    let dir = scratch("table");
    write_table_csv(&dir.join("t.csv"), &table).unwrap();
    let csv = std::fs::read_to_string(dir.join("t.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * 3, "{csv}");
    assert_eq!(lines[1], "sac,1,-200.0000,,false,300,-300.0000,30.0000,false,,,");
    assert_eq!(lines[3], "sac,all,-200.0000,,1/2,300,-200.0000,100.0000,0/2,,,");
    assert_eq!(lines[6], "demorl,all,-200.0000,200,2/2,300,-170.0000,10.0000,0/2,,,");
    let md = table.markdown("pendulum");
    assert!(md.contains("| sac | 1/2 | — | — | 200 | -200.0 ± 100.0 | 0/2 | — |"), "{md}");
    assert!(md.contains("| demorl | 2/2 | 200 | 100 | 300 | -170.0 ± 10.0 | 0/2 | — |"), "{md}");
}

#[test]
fn the_table_counts_training_falls_per_run_and_averages_them_over_the_seeds_that_recorded_them() {
    let (mut curves, modes) = synthetic_grid();
    let ends = |episodes, falls| Some(TrainingEnds { episodes, falls });
    curves[0].training = ends(60, 45);
    curves[1].training = ends(80, 66);
    curves[2].training = ends(14, 3);
    let table = build_table(&curves, &modes, &rule(None, false));
    let (sac, demorl) = (&table.modes[0], &table.modes[1]);
    assert_eq!(sac.training, Some(TrainingMean { episodes: 70.0, falls: 55.5, runs: 2 }));
    assert_eq!(demorl.training, Some(TrainingMean { episodes: 14.0, falls: 3.0, runs: 1 }), "seed 2 has no record");
    let md = table.markdown("go1");
    assert!(md.contains("| 0/2 | 55.5 of 70.0 |"), "{md}");
    assert!(md.contains("| 0/2 | 3.0 of 14.0 (1 seeds) |"), "{md}");
    let dir = scratch("training-falls");
    write_table_csv(&dir.join("t.csv"), &table).unwrap();
    let csv = std::fs::read_to_string(dir.join("t.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with("final_fell,final_falls,train_episodes,train_falls"), "{csv}");
    assert!(lines[1].ends_with(",60,45") && lines[3].ends_with(",70.00,55.50"), "{csv}");
    assert!(lines[5].ends_with("false,,,") && lines[6].ends_with(",14.00,3.00"), "{csv}");

    // A run folder written before the `fell` column: falls are read from the end text.
    let old = "env_steps,episode_return,length,end\n263,10.5,263,terminated: trunk tilt above 1.0 rad\n\
               1263,900.0,1000,time limit\n1300,-2.0,37,physics blow-up: speed 1e9\n";
    std::fs::write(dir.join("train_episodes.csv"), old).unwrap();
    assert_eq!(TrainingEnds::read(&dir).unwrap(), Some(TrainingEnds { episodes: 3, falls: 1 }));
    std::fs::write(dir.join("train_episodes.csv"), "env_steps,episode_return\n1,oops\n").unwrap();
    let error = format!("{:#}", TrainingEnds::read(&dir).unwrap_err());
    assert!(error.contains("train_episodes.csv"), "the error names the file: {error}");
    std::fs::remove_file(dir.join("train_episodes.csv")).unwrap();
    assert_eq!(TrainingEnds::read(&dir).unwrap(), None, "a run from before the file has no record");
}

/// Counts pixels of exactly `rgb` in an 8-bit RGB PNG and checks its size.
fn count_colour(png_path: &Path, rgb: (u8, u8, u8)) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height, info.color_type), (1000, 620, png::ColorType::Rgb));
    buf[..info.buffer_size()].chunks_exact(3).filter(|p| (p[0], p[1], p[2]) == rgb).count()
}

#[test]
fn plot_has_every_mode_colour_and_names() {
    let (mut curves, mut modes) = synthetic_grid();
    curves.push(curve("mpc", 1, &[-1000.0, -700.0, -500.0, -450.0]));
    modes.push("mpc".to_string());
    let bands = mode_bands(&curves, &modes);
    assert_eq!(bands[1].steps, vec![0, 100, 200, 300]);
    assert_eq!(bands[1].mean[1], -400.0);
    assert_eq!((bands[1].min[1], bands[1].max[1]), (-600.0, -200.0));
    let dir = scratch("plot");
    let (png_path, svg_path) = (dir.join("c.png"), dir.join("c.svg"));
    write_curves(&png_path, &svg_path, "pendulum: test", &bands, Some(-250.0)).unwrap();
    for (k, mode) in modes.iter().enumerate() {
        let n = count_colour(&png_path, mode_colour(k));
        assert!(n > 300, "mode {mode} colour {:?}: {n} pixels", mode_colour(k));
    }
    assert!(count_colour(&png_path, (255, 255, 255)) > 100_000, "white background");
    // Text is drawn (dark, anti-aliased glyphs from the embedded font), not left out.
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
    for name in [
        "sac: mean of 2 seeds",
        "demorl: mean of 2 seeds",
        "mpc: mean of 1 seed,",
        "env steps",
        "pendulum: test",
        "threshold -250.0",
    ] {
        assert!(svg.contains(name), "SVG lacks `{name}`");
    }
}

fn compare_args(out: &Path, jobs: usize, sac: &Path, demorl: &Path) -> demorl_studio::cli::CompareArgs {
    let args: Vec<String> = [
        "demorl-studio",
        "compare",
        "scenes/pendulum.ron",
        "--modes",
        "sac,demorl",
        "--seeds",
        "1..2",
        "--steps",
        "200",
        "--eval-every",
        "100",
        "--eval-episodes",
        "1",
        "--jobs",
        &jobs.to_string(),
        "--out",
        out.to_str().unwrap(),
        "--settings-for",
        &format!("sac={}", sac.display()),
        "--settings-for",
        &format!("demorl={}", demorl.display()),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match Cli::try_parse_from(args).unwrap().command {
        Some(Command::Compare(args)) => args,
        other => panic!("parsed {other:?}"),
    }
}

/// Every file under `dir` (relative path → bytes); summary.json without its wall-clock fields.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let mut bytes = std::fs::read(&path).unwrap();
            if path.file_name().unwrap() == "summary.json" {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                for key in ["wall_seconds", "steps_per_second", "mean_plan_ms"] {
                    v.as_object_mut().unwrap().remove(key).expect("field present");
                }
                bytes = v.to_string().into_bytes();
            }
            files.push((path.strip_prefix(dir).unwrap().display().to_string(), bytes));
        }
    }
    files.sort();
    files
}

#[test]
fn tiny_pendulum_grid_is_identical_with_one_and_two_jobs_and_resumes() {
    let t = std::time::Instant::now();
    let root = scratch("grid");
    let (sac, demorl) = write_tiny_settings(&root);
    let (one, two) = (root.join("jobs1"), root.join("jobs2"));
    let quiet = |_: &str| {};
    let first = finished(run_compare(&compare_options(&compare_args(&one, 1, &sac, &demorl)).unwrap(), &quiet));
    assert_eq!((first.trained, first.reused), (4, 0));
    finished(run_compare(&compare_options(&compare_args(&two, 2, &sac, &demorl)).unwrap(), &quiet));

    let files = snapshot(&one);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for mode in ["sac", "demorl"] {
        for seed in [1, 2] {
            for f in ["eval.csv", "train.csv", "train_episodes.csv", "summary.json", "settings.ron"] {
                let name = format!("{mode}/seed-{seed}/{f}");
                assert!(names.contains(&name.as_str()), "missing {name} in {names:?}");
            }
        }
    }
    // The pendulum's episodes always run their 200 steps: no run falls at the end, and each
    // run's one training episode ended at the time limit.
    let table = std::fs::read_to_string(one.join("steps_to_threshold.csv")).unwrap();
    let column = |name: &str| {
        let k = table.lines().next().unwrap().split(',').position(|c| c == name).unwrap();
        table.lines().skip(1).map(|l| l.split(',').nth(k).unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(column("final_fell"), ["false", "false", "0/2", "false", "false", "0/2"], "{table}");
    assert_eq!(column("final_falls"), ["0", "0", "0", "0", "0", "0"], "evaluations count their falls: {table}");
    assert_eq!(column("train_episodes"), ["1", "1", "1.00", "1", "1", "1.00"], "{table}");
    assert_eq!(column("train_falls"), ["0", "0", "0.00", "0", "0", "0.00"], "{table}");
    for f in ["curves.png", "curves.svg", "steps_to_threshold.csv", "steps_to_threshold.md", "grid.ron"] {
        assert!(names.contains(&f), "missing {f}");
    }
    assert_eq!(files.len(), 4 * 5 + 5, "{names:?}");
    let other = snapshot(&two);
    for ((name, a), (name_b, b)) in files.iter().zip(&other) {
        assert_eq!(name, name_b);
        assert!(a == b, "{name} differs between --jobs 1 and --jobs 2");
    }
    // Each run evaluates at 0, 100 and 200 steps, and the seeds differ.
    let curves = &first.curves;
    assert!(curves.iter().all(|c| c.points.iter().map(|p| p.env_steps).eq([0, 100, 200])));
    assert_ne!(curves[0].points, curves[1].points);

    // A rerun reuses every finished run and writes the same outputs; a changed run is retrained.
    let again = finished(run_compare(&compare_options(&compare_args(&one, 2, &sac, &demorl)).unwrap(), &quiet));
    assert_eq!((again.trained, again.reused), (0, 4));
    assert!(snapshot(&one) == files, "outputs changed on a resumed rerun");
    std::fs::remove_file(one.join("demorl/seed-2/summary.json")).unwrap();
    let resumed = finished(run_compare(&compare_options(&compare_args(&one, 1, &sac, &demorl)).unwrap(), &quiet));
    assert_eq!((resumed.trained, resumed.reused), (1, 3));
    assert!(snapshot(&one) == files, "a retrained run differs from its first training");
    // Other settings in the same folder: every run is retrained, and the log says why.
    let mut args = compare_args(&one, 1, &sac, &demorl);
    args.schedule.eval_episodes = Some(2);
    let lines = std::sync::Mutex::new(Vec::new());
    let changed =
        finished(run_compare(&compare_options(&args).unwrap(), &|l| lines.lock().unwrap().push(l.to_string())));
    assert_eq!((changed.trained, changed.reused), (4, 0));
    assert_eq!(lines.into_inner().unwrap().iter().filter(|l| l.contains("other settings, retraining")).count(), 4);
    println!("tiny grid test: {:.1} s", t.elapsed().as_secs_f64());
}

fn parse_compare(args: &[&str]) -> demorl_studio::cli::CompareArgs {
    let all = ["demorl-studio", "compare"].iter().chain(args).map(|s| s.to_string());
    match Cli::try_parse_from(all).unwrap().command {
        Some(Command::Compare(args)) => args,
        other => panic!("parsed {other:?}"),
    }
}

#[test]
fn a_sweep_runs_every_combination_for_the_modes_that_use_the_field() {
    let root = scratch("sweep");
    let (sac, demorl) = write_tiny_settings(&root);
    let out = root.join("out");
    let (sac_for, demorl_for) = (format!("sac={}", sac.display()), format!("demorl={}", demorl.display()));
    let base = [
        "scenes/pendulum.ron",
        "--modes",
        "sac,demorl",
        "--seeds",
        "1",
        "--steps",
        "100",
        "--eval-every",
        "100",
        "--eval-episodes",
        "1",
        "--settings-for",
        &sac_for,
        "--settings-for",
        &demorl_for,
        "--out",
        out.to_str().unwrap(),
    ];
    let sweep = |extra: &[&str]| -> demorl_studio::cli::CompareArgs {
        parse_compare(&base.iter().chain(extra).copied().collect::<Vec<_>>())
    };
    let args = sweep(&[
        "--vary",
        "planner.horizon=3,4",
        "--vary",
        "planner.loss=Cem(elite_fraction:0.25),MppiRelative(temperature:2.0)",
    ]);
    let report = finished(run_compare(&compare_options(&args).unwrap(), &|_| {}));
    // SAC does not plan: it runs once; DeMoRL runs 2 × 2 combinations.
    let groups: Vec<&str> = report.table.modes.iter().map(|m| m.mode.as_str()).collect();
    assert_eq!(
        groups,
        [
            "sac",
            "demorl planner.horizon=3,planner.loss=Cem(elite_fraction:0.25)",
            "demorl planner.horizon=3,planner.loss=MppiRelative(temperature:2.0)",
            "demorl planner.horizon=4,planner.loss=Cem(elite_fraction:0.25)",
            "demorl planner.horizon=4,planner.loss=MppiRelative(temperature:2.0)",
        ]
    );
    let settings = read_run_config(
        &out.join("demorl/planner.horizon=4,planner.loss=Cem(elite_fraction:0.25)/seed-1/settings.ron"),
    )
    .unwrap();
    assert_eq!(settings.planner.horizon, 4);
    assert_eq!(settings.planner.loss, Loss::Cem { elite_fraction: 0.25 });
    // Everything else is the --settings-for file's (and the schedule flags').
    let tiny = read_run_config(&demorl).unwrap();
    assert_eq!((&settings.train.sac, &settings.train.ensemble), (&tiny.train.sac, &tiny.train.ensemble));
    assert_eq!(settings.planner.samples, tiny.planner.samples);
    assert!(out.join("sac/seed-1/eval.csv").is_file());
    let csv = std::fs::read_to_string(out.join("steps_to_threshold.csv")).unwrap();
    assert!(csv.contains("demorl planner.horizon=3,planner.loss=MppiRelative(temperature:2.0)"), "{csv}");

    // A field inside the current enum variant; then bad paths and values, refused before anything runs.
    let inner = compare_options(&sweep(&["--vary", "planner.loss.elite_fraction=0.1,0.2"])).unwrap();
    let runs = grid_runs(&inner, &demorl_studio::scene::load_scene(Path::new("scenes/pendulum.ron")).unwrap()).unwrap();
    let losses: Vec<Loss> = runs.iter().skip(1).map(|r| r.config.planner.loss).collect();
    assert_eq!(losses, [Loss::Cem { elite_fraction: 0.1 }, Loss::Cem { elite_fraction: 0.2 }]);
    assert_eq!(runs[1].dir, out.join("demorl/planner.loss.elite_fraction=0.1/seed-1"));
    let refused = |extra: &[&str]| -> String {
        let fresh = root.join("refused");
        let mut args = sweep(extra);
        args.out = Some(fresh.clone());
        let error = match compare_options(&args) {
            Err(e) => e,
            Ok(options) => run_compare(&options, &|_| {}).unwrap_err(),
        };
        assert!(!fresh.exists(), "{extra:?} created the grid folder before refusing");
        format!("{error:#}")
    };
    let e = refused(&["--vary", "planner.horizn=3"]);
    assert!(e.contains("`planner` has no field `horizn`") && e.contains("horizon"), "{e}");
    let e = refused(&["--vary", "planner.horizon=0,3"]);
    assert!(e.contains("planner.horizon = 0") && e.contains("[1, 1000]"), "{e}");
    let e = refused(&["--vary", "train.ensemble.patience=soon"]);
    assert!(e.contains("train.ensemble.patience=soon"), "{e}");
    let e = refused(&["--vary", "planner.loss.temperature=1.0"]);
    assert!(e.contains("no field `temperature`") && e.contains("elite_fraction"), "{e}");
    let e = refused(&["--vary", "planner=3"]);
    assert!(e.contains("is a section"), "{e}");
    let e = refused(&["--vary", "seed=1,2"]);
    assert!(e.contains("--seeds"), "{e}");
    let e = refused(&["--vary", "planner.horizon=3", "--vary", "planner.horizon=4"]);
    assert!(e.contains("twice"), "{e}");
}
