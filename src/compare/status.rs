//! Where each run of a grid stands (`compare --status OUT`): finished, running, pending, failed,
//! interrupted or not started, read from the run folders, the grid's `grid.ron`, and SLURM's
//! queue and accounting when the grid went to SLURM.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::grid::GridRun;
use super::slurm::{CHECKPOINT_DIR, TaskState, current_job, submissions, task_log, task_states};

/// The grid's description in `OUT/grid.ron`: what `--status` reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridManifest {
    pub scene: PathBuf,
    /// `local` or `slurm`.
    pub backend: String,
    pub runs: Vec<ManifestRun>,
}

/// One run of [`GridManifest`]; its position is its SLURM array index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestRun {
    pub group: String,
    pub seed: u64,
    pub steps: u64,
    /// Its folder, relative to the grid's (so the grid can be read from anywhere).
    pub dir: PathBuf,
}

const MANIFEST_FILE: &str = "grid.ron";

/// Writes `OUT/grid.ron` for `runs`.
pub fn write_manifest(out: &Path, scene: &Path, backend: &str, runs: &[GridRun]) -> anyhow::Result<()> {
    let manifest = GridManifest {
        scene: scene.to_path_buf(),
        backend: backend.to_string(),
        runs: runs
            .iter()
            .map(|r| ManifestRun {
                group: r.group.clone(),
                seed: r.seed,
                steps: r.config.steps,
                dir: r.dir.strip_prefix(out).unwrap_or(&r.dir).to_path_buf(),
            })
            .collect(),
    };
    let text = ron::ser::to_string_pretty(&manifest, ron::ser::PrettyConfig::default())?;
    let path = out.join(MANIFEST_FILE);
    std::fs::write(&path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

/// Reads `OUT/grid.ron`.
pub fn read_manifest(out: &Path) -> anyhow::Result<GridManifest> {
    let path = out.join(MANIFEST_FILE);
    if !path.is_file() {
        anyhow::bail!("{} holds no compare grid (no {MANIFEST_FILE})", out.display());
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(crate::format::parse_ron(&text, &path)?)
}

/// Where one run stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Its summary is written.
    Finished,
    /// A SLURM task runs it now.
    Running,
    /// Queued; SLURM's reason (`Resources`, `BeginTime` after a requeue, …).
    Pending(String),
    /// Its task ended without finishing the run: SLURM's state, or what the folder shows.
    Failed(String),
    /// Not running, with a checkpoint to resume from (the next submission resumes it).
    Interrupted,
    /// Submitted, but SLURM's queue could not be read (why).
    Unknown(String),
    NotStarted,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunState::Finished => f.write_str("finished"),
            RunState::Running => f.write_str("running"),
            RunState::Pending(reason) if reason.is_empty() || reason == "None" => f.write_str("pending"),
            RunState::Pending(reason) => write!(f, "pending ({reason})"),
            RunState::Failed(why) => write!(f, "failed ({why})"),
            RunState::Interrupted => f.write_str("interrupted"),
            RunState::Unknown(why) => write!(f, "unknown ({why})"),
            RunState::NotStarted => f.write_str("not started"),
        }
    }
}

/// One run's status line.
#[derive(Clone, Debug, PartialEq)]
pub struct RunStatus {
    pub name: String,
    pub dir: PathBuf,
    pub state: RunState,
    /// Env steps its checkpoint holds (running or interrupted runs that took one).
    pub checkpoint_steps: Option<u64>,
    pub steps: u64,
    /// Its final mean eval return, when finished.
    pub final_return: Option<f64>,
    /// The SLURM job (`JOB_INDEX`) currently responsible for it.
    pub task: Option<String>,
}

/// The status of every run of the grid in `out`.
pub fn grid_status(out: &Path) -> anyhow::Result<Vec<RunStatus>> {
    let manifest = read_manifest(out)?;
    let subs = submissions(out);
    let jobs: Vec<&str> = subs.iter().map(|(job, _)| job.as_str()).collect();
    let states = task_states(&jobs);
    let statuses = manifest
        .runs
        .iter()
        .enumerate()
        .map(|(index, run)| {
            let job = current_job(&subs, index);
            let task = match (&states, job) {
                (_, None) => Ok(None),
                (Ok(states), Some(job)) => {
                    Ok(states.iter().find(|((j, k), _)| j == job && *k == index).map(|(_, s)| s))
                }
                (Err(why), Some(_)) => Err(why.as_str()),
            };
            run_status(out, index, run, job, task)
        })
        .collect();
    Ok(statuses)
}

fn run_status(
    out: &Path,
    index: usize,
    run: &ManifestRun,
    job: Option<&str>,
    task: Result<Option<&TaskState>, &str>,
) -> RunStatus {
    let dir = out.join(&run.dir);
    let summary = dir.join("summary.json");
    let checkpoint_steps = crate::agent::read_checkpoint(&dir.join(CHECKPOINT_DIR)).ok().map(|m| m.trainer.env_steps);
    let final_return = std::fs::read_to_string(&summary)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v.get("eval_return_mean")?.as_f64());
    let log = task_log(out, index);
    let state = if summary.is_file() {
        RunState::Finished
    } else {
        let ran = std::fs::metadata(&log).is_ok_and(|m| m.len() > 0);
        unfinished_state(task, ran, checkpoint_steps.is_some(), &log)
    };
    RunStatus {
        name: format!("{} seed {}", run.group, run.seed),
        dir,
        state,
        checkpoint_steps,
        steps: run.steps,
        final_return,
        task: job.map(|job| format!("{job}_{index}")),
    }
}

/// An unfinished run's state from its task's (or why the queue could not be read), whether a
/// task has ever started on it (`ran`: its log has lines) and whether it has a checkpoint.
fn unfinished_state(task: Result<Option<&TaskState>, &str>, ran: bool, checkpoint: bool, log: &Path) -> RunState {
    let task = match task {
        Ok(task) => task,
        Err(why) => return RunState::Unknown(why.to_string()),
    };
    match task.map(|t| (t.state.as_str(), t)) {
        Some(("RUNNING" | "COMPLETING" | "CONFIGURING" | "STAGE_OUT", _)) => RunState::Running,
        Some(("PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "SUSPENDED" | "RESIZING", t)) => {
            RunState::Pending(t.reason.clone())
        }
        Some((state, _)) if state != "COMPLETED" => RunState::Failed(format!("{state}; see {}", log.display())),
        _ if ran => RunState::Failed(format!("stopped before finishing; see {}", log.display())),
        _ if checkpoint => RunState::Interrupted,
        _ => RunState::NotStarted,
    }
}

/// Counts per state and one line per run.
pub fn status_text(statuses: &[RunStatus]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for s in statuses {
        let key = match &s.state {
            RunState::Pending(_) => "pending".to_string(),
            RunState::Failed(_) => "failed".to_string(),
            other => other.to_string(),
        };
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let mut text = format!("{} runs: {}\n", statuses.len(), summary.join(", "));
    let width = statuses.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in statuses {
        let progress = match (&s.state, s.final_return, s.checkpoint_steps) {
            (RunState::Finished, Some(r), _) => format!("final return {r:.2}"),
            (_, _, Some(done)) => format!("checkpoint at {done}/{} steps", s.steps),
            _ => String::new(),
        };
        let task = s.task.as_deref().map_or(String::new(), |t| format!("[task {t}] "));
        let _ = writeln!(text, "  {:width$}  {}  {task}{progress}", s.name, s.state);
    }
    text
}
