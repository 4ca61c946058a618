//! `compare --backend slurm` on a real one-node SLURM cluster (`scripts/slurm-one-node.sh` starts
//! one; `.ci/run` does, and sets DEMORL_REQUIRE_SLURM=1 so a missing cluster fails there). The
//! grid's table, curves and every run's eval.csv equal the local backend's, and a task requeued
//! mid-run resumes from its checkpoint and ends bit-identical to an uninterrupted run.
//! Without a cluster (and without DEMORL_REQUIRE_SLURM) the tests print why and pass.

mod compare_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use compare_common::{finished, scratch, write_tiny_settings};
use demorl_studio::cli::{Cli, Command as CliCommand, compare_options};
use demorl_studio::compare::{CHECKPOINT_DIR, RunState, grid_status, run_compare, status_text, task_log};

const BINARY: &str = env!("CARGO_BIN_EXE_demorl-studio");
/// Longest wait for a grid's tasks (they take seconds; the cluster may be busy with the other test).
const PATIENCE: Duration = Duration::from_secs(900);
/// The grid both backends run: modes, seeds, env steps.
const GRID: (&str, &str, u64) = ("sac,demorl", "1..2", 200);

/// Whether a cluster answers; panics where one is required.
fn cluster_up(test: &str) -> bool {
    let up = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).lines().any(|l| !l.contains("down")));
    if !up {
        let why = "no SLURM cluster answers `sinfo` (start one with scripts/slurm-one-node.sh)";
        assert!(std::env::var_os("DEMORL_REQUIRE_SLURM").is_none(), "{test}: DEMORL_REQUIRE_SLURM is set but {why}");
        println!("{test}: skipped: {why}");
    }
    up
}

/// The grid arguments shared by the local and SLURM runs.
fn grid_args(out: &Path, settings_for: &[(&str, &Path)], runs: (&str, &str, u64), extra: &[&str]) -> Vec<String> {
    let (modes, seeds, steps) = runs;
    let mut args: Vec<String> = [
        "compare",
        "scenes/pendulum.ron",
        "--modes",
        modes,
        "--seeds",
        seeds,
        "--steps",
        &steps.to_string(),
        "--eval-episodes",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (mode, file) in settings_for {
        args.extend(["--settings-for".to_string(), format!("{mode}={}", file.display())]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn run_local(args: &[String]) -> demorl_studio::compare::CompareReport {
    let parsed = Cli::try_parse_from(std::iter::once("demorl-studio".to_string()).chain(args.iter().cloned())).unwrap();
    let Some(CliCommand::Compare(compare)) = parsed.command else { panic!("not a compare command") };
    finished(run_compare(&compare_options(&compare).unwrap(), &|_| {}))
}

/// Runs the binary as a user would; returns stdout, panicking with its output on failure.
fn run_binary(args: &[String]) -> String {
    let output = Command::new(BINARY).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "demorl-studio {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Every task log of the grid in `out`, for failure messages.
fn logs(out: &Path, tasks: usize) -> String {
    (0..tasks)
        .map(|k| format!("--- task {k}:\n{}", std::fs::read_to_string(task_log(out, k)).unwrap_or_default()))
        .collect()
}

/// Waits until `done` holds for the grid's statuses, failing with the status and logs after PATIENCE.
fn wait_for(out: &Path, tasks: usize, what: &str, done: impl Fn(&[demorl_studio::compare::RunStatus]) -> bool) {
    let start = Instant::now();
    // A task SLURM is moving between states can be missing from the queue for an instant: a
    // failure counts once it lasts.
    let mut failing_since: Option<Instant> = None;
    loop {
        let statuses = grid_status(out).unwrap();
        if done(&statuses) {
            return;
        }
        match statuses.iter().find(|s| matches!(s.state, RunState::Failed(_))) {
            Some(failed) if failing_since.is_some_and(|t| t.elapsed() > Duration::from_secs(5)) => {
                panic!(
                    "{} failed while waiting for {what}:\n{}\n{}",
                    failed.name,
                    status_text(&statuses),
                    logs(out, tasks)
                )
            }
            Some(_) => failing_since = failing_since.or(Some(Instant::now())),
            None => failing_since = None,
        }
        assert!(
            start.elapsed() < PATIENCE,
            "gave up waiting for {what} after {PATIENCE:?}:\n{}\n{}",
            status_text(&statuses),
            logs(out, tasks)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `scontrol ARGS`, failing the test with its message if it fails.
fn scontrol(args: &[&str]) {
    let output = Command::new("scontrol").args(args).output().unwrap();
    assert!(output.status.success(), "scontrol {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn all_finished(statuses: &[demorl_studio::compare::RunStatus]) -> bool {
    statuses.iter().all(|s| s.state == RunState::Finished)
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_slurm_grid_gives_the_local_grids_table_curves_and_runs() {
    if !cluster_up("slurm grid") {
        return;
    }
    let root = scratch("slurm-grid");
    let (sac, demorl) = write_tiny_settings(&root);
    let (local, slurm) = (root.join("local"), root.join("slurm"));
    let started = Instant::now();
    let report = run_local(&grid_args(
        &local,
        &[("sac", &sac), ("demorl", &demorl)],
        GRID,
        &["--jobs", "2", "--eval-every", "100"],
    ));
    let local_seconds = started.elapsed().as_secs_f64();

    let submitted = Instant::now();
    let first = run_binary(&grid_args(
        &slurm,
        &[("sac", &sac), ("demorl", &demorl)],
        GRID,
        &["--backend", "slurm", "--eval-every", "100"],
    ));
    assert!(first.contains("submitted 4 runs as job array"), "{first}");
    wait_for(&slurm, 4, "the grid", all_finished);
    let slurm_seconds = submitted.elapsed().as_secs_f64();
    // Run again: every run is finished, so this collects the table and curves.
    let second = run_binary(&grid_args(
        &slurm,
        &[("sac", &sac), ("demorl", &demorl)],
        GRID,
        &["--backend", "slurm", "--eval-every", "100"],
    ));
    assert!(second.contains("all 4 runs finished") && second.contains("0 runs trained, 4 reused"), "{second}");

    for file in ["steps_to_threshold.csv", "steps_to_threshold.md", "curves.svg", "curves.png"] {
        assert!(read(local.join(file)) == read(slurm.join(file)), "{file} differs between the backends");
    }
    for curve in &report.curves {
        let run = format!("{}/seed-{}", curve.mode, curve.seed);
        assert!(
            read(local.join(&run).join("eval.csv")) == read(slurm.join(&run).join("eval.csv")),
            "{run}: eval.csv differs"
        );
        assert!(slurm.join(&run).join(CHECKPOINT_DIR).join("manifest.ron").is_file(), "{run}: no checkpoint taken");
    }
    let status = run_binary(&["compare".into(), "--status".into(), slurm.display().to_string()]);
    assert!(status.starts_with("4 runs: 4 finished"), "{status}");
    println!(
        "local grid (2 jobs) {local_seconds:.1} s; SLURM grid (2 CPUs) {slurm_seconds:.1} s from submission to the last task's end"
    );
}

#[test]
fn a_requeued_task_resumes_from_its_checkpoint_and_ends_bit_identical() {
    if !cluster_up("slurm requeue") {
        return;
    }
    let root = scratch("slurm-requeue");
    let (sac, _) = write_tiny_settings(&root);
    // About 4 s of training (1500 steps/s on a 2-vCPU EPYC), checkpoints every 200 steps (at
    // episode starts): time enough to requeue the task between its first checkpoint and its end.
    let steps = 6000;
    let (local, slurm) = (root.join("local"), root.join("slurm"));
    let extra = ["--backend", "slurm", "--save-every", "200", "--eval-every", "500"];
    let first = run_binary(&grid_args(&slurm, &[("sac", &sac)], ("sac", "1", steps), &extra));
    let job = first.split("as job array ").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("a job id");
    // Requeue the task once it has taken a checkpoint, long before it ends.
    wait_for(&slurm, 1, "a checkpoint", |s| s[0].state == RunState::Running && s[0].checkpoint_steps.is_some());
    let requeued_at = grid_status(&slurm).unwrap()[0].checkpoint_steps.unwrap();
    let task = format!("{job}_0");
    scontrol(&["requeue", &task]);
    // SLURM holds a requeued job back for two minutes; once it is pending again, let it start in
    // a few seconds (restarting within the same second fails with "Job credential revoked").
    wait_for(&slurm, 1, "the requeued task to be queued", |s| matches!(s[0].state, RunState::Pending(_)));
    scontrol(&["update", &format!("JobId={task}"), "StartTime=now+3"]);
    wait_for(&slurm, 1, "the requeued run", all_finished);

    let log = std::fs::read_to_string(task_log(&slurm, 0)).unwrap();
    assert!(log.contains("start 2") && log.contains("resuming from"), "the task did not resume:\n{log}");
    assert!(log.contains("DUE TO JOB REQUEUE"), "the task was not interrupted:\n{log}");
    run_local(&grid_args(&local, &[("sac", &sac)], ("sac", "1", steps), &["--eval-every", "500"]));
    let run = "sac/seed-1/eval.csv";
    assert!(
        read(local.join(run)) == read(slurm.join(run)),
        "eval.csv of the requeued run differs from an uninterrupted run"
    );
    println!("requeued at a checkpoint of {requeued_at} of {steps} steps; resumed and identical");
}
