//! The SLURM backend: a grid's unfinished runs as the tasks of one `sbatch` job array. Each task
//! runs `demorl-studio train --settings … --save-every N` into its run folder, and, when SLURM
//! starts it again (requeue, preemption, node failure), resumes from the checkpoint there, so a
//! requeued run ends exactly as an uninterrupted one. `compare` run again collects the results.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::grid::GridRun;

/// Where the array's files go inside the grid's folder.
pub const SLURM_DIR: &str = "slurm";
/// The task index → run folder list the script reads (line k is task k).
const RUNS_FILE: &str = "runs.txt";
/// The array script.
pub const SCRIPT_FILE: &str = "grid.sbatch";
/// Every submission: `JOB_ID INDICES` per line, the last one for an index being current.
const JOBS_FILE: &str = "jobs.txt";
/// A run's checkpoint folder inside its run folder.
pub const CHECKPOINT_DIR: &str = "checkpoint";

/// How the array is requested from SLURM.
#[derive(Clone, Debug, PartialEq)]
pub struct SlurmOptions {
    /// `--time` of every task (`HH:MM:SS`, `D-HH:MM:SS`, minutes).
    pub time: String,
    /// `--mem` of every task (`4G`).
    pub mem: String,
    pub cpus_per_task: usize,
    pub partition: Option<String>,
    pub account: Option<String>,
    /// At most this many tasks at once (`--array=…%K`).
    pub max_parallel: Option<usize>,
    /// Further `#SBATCH` options, as given (`--qos=long`, `--constraint=avx512`).
    pub extra: Vec<String>,
    /// Checkpoint every this many env steps; `None`: every run's evaluation interval.
    pub save_every: Option<u64>,
    /// Write the script and settings, submit nothing.
    pub dry_run: bool,
    /// The `demorl-studio` binary the tasks run (on a cluster: on a shared file system).
    pub binary: PathBuf,
}

impl SlurmOptions {
    /// Defaults for everything but the binary: one CPU, 4 GB and 4 hours per task.
    pub fn new(binary: PathBuf) -> SlurmOptions {
        SlurmOptions {
            time: "04:00:00".into(),
            mem: "4G".into(),
            cpus_per_task: 1,
            partition: None,
            account: None,
            max_parallel: None,
            extra: Vec::new(),
            save_every: None,
            dry_run: false,
            binary,
        }
    }

    /// Refuses values that would end up as a broken `#SBATCH` line.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.cpus_per_task == 0 || self.max_parallel == Some(0) || self.save_every == Some(0) {
            bail!("--cpus-per-task, --max-parallel and --save-every must be at least 1");
        }
        let fields = [("--time", Some(&self.time)), ("--mem", Some(&self.mem))]
            .into_iter()
            .chain([("--partition", self.partition.as_ref()), ("--account", self.account.as_ref())]);
        for (flag, value) in fields {
            if let Some(value) = value
                && (value.is_empty() || value.chars().any(|c| c.is_whitespace() || c == '#'))
            {
                bail!("{flag} `{value}` must be one word without spaces or #");
            }
        }
        if let Some(extra) = self.extra.iter().find(|e| !e.starts_with('-') || e.contains('\n')) {
            bail!("--sbatch-arg `{extra}` must be one sbatch option such as --qos=long");
        }
        Ok(())
    }
}

/// Where the array's files of the grid in `out` are.
pub fn slurm_dir(out: &Path) -> PathBuf {
    out.join(SLURM_DIR)
}

/// The log of array task `index` (every start of it appends).
pub fn task_log(out: &Path, index: usize) -> PathBuf {
    slurm_dir(out).join("logs").join(format!("task-{index}.log"))
}

/// Prepares the runs to submit (their `settings.ron`; an earlier run with other settings in
/// a folder is cleared, its checkpoint with it) and writes the task list and the array script.
pub fn write_array(
    out: &Path,
    scene: &Path,
    runs: &[GridRun],
    to_submit: &[usize],
    options: &SlurmOptions,
) -> anyhow::Result<PathBuf> {
    options.check()?;
    let dir = slurm_dir(out);
    std::fs::create_dir_all(dir.join("logs")).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut list = String::new();
    for run in runs {
        let folder =
            std::path::absolute(&run.dir).with_context(|| format!("{}: no absolute path", run.dir.display()))?;
        let every = options.save_every.unwrap_or(run.config.train.eval_every);
        writeln!(list, "{every} {}", folder.display()).expect("writing to a String");
    }
    for &k in to_submit {
        prepare_run_folder(&runs[k])?;
    }
    std::fs::write(dir.join(RUNS_FILE), list)
        .with_context(|| format!("cannot write {}", dir.join(RUNS_FILE).display()))?;
    let script = dir.join(SCRIPT_FILE);
    std::fs::write(&script, array_script(out, scene, runs.len(), options)?)
        .with_context(|| format!("cannot write {}", script.display()))?;
    Ok(script)
}

/// Writes the run's settings; removes what a run with other settings left (its summary, so the
/// folder does not look finished, and its checkpoint, so the task does not resume it).
fn prepare_run_folder(run: &GridRun) -> anyhow::Result<()> {
    std::fs::create_dir_all(&run.dir).with_context(|| format!("cannot create {}", run.dir.display()))?;
    let settings = run.dir.join("settings.ron");
    let checkpoint = run.dir.join(CHECKPOINT_DIR);
    let other_settings =
        settings.exists() && crate::config::read_run_config(&settings).ok().as_ref() != Some(&run.config);
    let other_checkpoint = checkpoint.is_dir()
        && crate::agent::read_checkpoint(&checkpoint).ok().map(|m| m.config).as_ref() != Some(&run.config);
    if other_settings || other_checkpoint {
        let _ = std::fs::remove_file(run.dir.join("summary.json"));
        if checkpoint.is_dir() {
            std::fs::remove_dir_all(&checkpoint).with_context(|| format!("cannot clear {}", checkpoint.display()))?;
        }
    }
    crate::config::write_run_config(&settings, &run.config)
}

/// The `sbatch` script: `#SBATCH` options, then one task = one run folder, resumed if it holds a
/// checkpoint and skipped if it finished.
fn array_script(out: &Path, scene: &Path, tasks: usize, options: &SlurmOptions) -> anyhow::Result<String> {
    let out_abs = std::path::absolute(out).context("the grid folder's absolute path")?;
    let here = std::env::current_dir().context("the current folder")?;
    let binary = std::path::absolute(&options.binary).context("the binary's absolute path")?;
    let name = scene.file_stem().map_or("grid".into(), |s| s.to_string_lossy().into_owned());
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "#!/bin/bash");
    let _ = writeln!(w, "# {tasks} runs of the grid in {}, one array task each; written by", out_abs.display());
    let _ = writeln!(w, "# `demorl-studio compare --backend slurm`, which submits it (again) for the unfinished runs.");
    let _ = writeln!(w, "#SBATCH --job-name=demorl-{name}");
    let throttle = options.max_parallel.map_or(String::new(), |k| format!("%{k}"));
    let _ = writeln!(w, "#SBATCH --array=0-{}{throttle}", tasks.saturating_sub(1));
    let _ = writeln!(w, "#SBATCH --cpus-per-task={}", options.cpus_per_task);
    let _ = writeln!(w, "#SBATCH --time={}", options.time);
    let _ = writeln!(w, "#SBATCH --mem={}", options.mem);
    if let Some(p) = &options.partition {
        let _ = writeln!(w, "#SBATCH --partition={p}");
    }
    if let Some(a) = &options.account {
        let _ = writeln!(w, "#SBATCH --account={a}");
    }
    let _ = writeln!(w, "#SBATCH --requeue");
    let _ = writeln!(w, "#SBATCH --open-mode=append");
    let _ = writeln!(w, "#SBATCH --output={}/logs/task-%a.log", out_abs.join(SLURM_DIR).display());
    let _ = writeln!(w, "#SBATCH --chdir={}", here.display());
    for extra in &options.extra {
        let _ = writeln!(w, "#SBATCH {extra}");
    }
    let _ = write!(
        w,
        r#"set -euo pipefail
binary={binary}
scene={scene}
read -r save_every run_dir < <(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {runs})
echo "== $(date -u +%FT%TZ) task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID, start $((${{SLURM_RESTART_COUNT:-0}} + 1)), on $(hostname): $run_dir"
if [ -f "$run_dir/summary.json" ]; then
  echo "finished earlier"
  exit 0
fi
checkpoint="$run_dir/{checkpoint}"
if [ -f "$checkpoint/manifest.ron" ]; then
  echo "resuming from $checkpoint"
  exec "$binary" train "$scene" --resume "$checkpoint" --out "$run_dir" --save-every "$save_every"
fi
exec "$binary" train "$scene" --settings "$run_dir/settings.ron" --out "$run_dir" --save-every "$save_every" --save-to "$checkpoint"
"#,
        binary = shell_word(&binary.display().to_string()),
        scene = shell_word(&scene.display().to_string()),
        runs = shell_word(&out_abs.join(SLURM_DIR).join(RUNS_FILE).display().to_string()),
        checkpoint = CHECKPOINT_DIR,
    );
    Ok(s)
}

/// `text` quoted for bash.
fn shell_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `0-3,5,7-8`: task indices as `--array` takes them, runs of consecutive indices as ranges.
fn array_list(indices: &[usize]) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &k in indices {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == k => *end = k,
            _ => ranges.push((k, k)),
        }
    }
    let text: Vec<String> =
        ranges.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
    text.join(",")
}

/// The indices of an `--array` list written by [`array_list`].
fn parse_array_list(text: &str) -> Option<Vec<usize>> {
    let mut indices = Vec::new();
    for piece in text.split(',') {
        match piece.split_once('-') {
            Some((a, b)) => indices.extend(a.trim().parse::<usize>().ok()?..=b.trim().parse::<usize>().ok()?),
            None => indices.push(piece.trim().parse().ok()?),
        }
    }
    Some(indices)
}

/// The command that submits `indices` of the array: what runs, or what `--dry-run` prints.
pub fn submit_command(script: &Path, indices: &[usize], options: &SlurmOptions) -> Vec<String> {
    let throttle = options.max_parallel.map_or(String::new(), |k| format!("%{k}"));
    vec![
        "sbatch".into(),
        "--parsable".into(),
        format!("--array={}{throttle}", array_list(indices)),
        script.display().to_string(),
    ]
}

/// Submits `indices` of the array; records and returns the job id.
pub fn submit(out: &Path, script: &Path, indices: &[usize], options: &SlurmOptions) -> anyhow::Result<String> {
    let command = submit_command(script, indices, options);
    let output = Command::new(&command[0]).args(&command[1..]).output().with_context(|| {
        "cannot run sbatch: is this a SLURM login node? (--dry-run writes the script without submitting)".to_string()
    })?;
    if !output.status.success() {
        bail!("`{}` failed: {}", command.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    // `--parsable` prints `JOB_ID` or `JOB_ID;CLUSTER`.
    let job = stdout.trim().split(';').next().unwrap_or_default().to_string();
    if job.is_empty() || !job.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch printed `{}`, not a job id", stdout.trim());
    }
    let jobs = slurm_dir(out).join(JOBS_FILE);
    let mut text = std::fs::read_to_string(&jobs).unwrap_or_default();
    let _ = writeln!(text, "{job} {}", array_list(indices));
    std::fs::write(&jobs, text).with_context(|| format!("cannot write {}", jobs.display()))?;
    Ok(job)
}

/// Every submission of the grid in `out`: (job id, task indices), oldest first.
pub fn submissions(out: &Path) -> Vec<(String, Vec<usize>)> {
    let text = std::fs::read_to_string(slurm_dir(out).join(JOBS_FILE)).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (job, list) = line.split_once(' ')?;
            Some((job.to_string(), parse_array_list(list)?))
        })
        .collect()
}

/// The job currently responsible for task `index`: the last submission that listed it.
pub fn current_job(submissions: &[(String, Vec<usize>)], index: usize) -> Option<&str> {
    submissions.iter().rev().find(|(_, indices)| indices.contains(&index)).map(|(job, _)| job.as_str())
}

/// A task as SLURM reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskState {
    /// `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `TIMEOUT`, …
    pub state: String,
    /// Why it waits (`Resources`, `BeginTime`), when SLURM says.
    pub reason: String,
}

/// Task states keyed by (job id, task index).
pub type TaskStates = Vec<((String, usize), TaskState)>;

/// The states of the tasks of `jobs` that SLURM knows: the queue (`squeue`), then the
/// accounting records (`sacct`) for tasks that left it, where accounting is enabled.
/// Keyed by (job id, task index). An error when the queue cannot be read (no SLURM here, or
/// the controller does not answer): then nothing can be said about unfinished runs.
pub fn task_states(jobs: &[&str]) -> Result<TaskStates, String> {
    let mut states = Vec::new();
    if jobs.is_empty() {
        return Ok(states);
    }
    let queue = command_output("squeue", &["-h", "-r", "--me", "-o", "%i|%T|%r"])?;
    states.extend(parse_task_lines(&queue, jobs));
    let list = jobs.join(",");
    // Without accounting (`AccountingStorageType=none`) sacct fails: the queue is all there is.
    if let Ok(text) = command_output("sacct", &["-n", "-X", "-P", "-j", &list, "-o", "JobID,State,Reason"]) {
        for (key, state) in parse_task_lines(&text, jobs) {
            if !states.iter().any(|(k, _)| *k == key) {
                states.push((key, state));
            }
        }
    }
    Ok(states)
}

fn command_output(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program).args(args).output().map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{program} failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `JOB_INDEX|STATE|REASON` lines of the given jobs (others, and unexpanded ranges, skipped).
pub fn parse_task_lines(text: &str, jobs: &[&str]) -> TaskStates {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split('|');
            let (job, index) = fields.next()?.split_once('_')?;
            let index: usize = index.parse().ok()?;
            if !jobs.contains(&job) {
                return None;
            }
            // sacct writes `CANCELLED by 0`; the first word is the state.
            let state = fields.next()?.split_whitespace().next()?.to_string();
            let reason = fields.next().unwrap_or("").trim().to_string();
            Some(((job.to_string(), index), TaskState { state, reason }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_lines_are_read_per_task_of_our_jobs() {
        let text =
            "12_0|RUNNING|None\n12_3|PENDING|Resources\n13_1|FAILED|\n12_[4-6]|PENDING|Priority\n99_0|RUNNING|None\n";
        let states = parse_task_lines(text, &["12", "13"]);
        let keys: Vec<(String, usize)> = states.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, [("12".into(), 0), ("12".into(), 3), ("13".into(), 1)]);
        assert_eq!(states[1].1, TaskState { state: "PENDING".into(), reason: "Resources".into() });
        let sacct = parse_task_lines("13_1|CANCELLED by 0|None\n", &["13"]);
        assert_eq!(sacct[0].1.state, "CANCELLED");
    }

    #[test]
    fn the_current_job_of_a_task_is_its_last_submission() {
        let subs = vec![("10".to_string(), vec![0, 1, 2]), ("11".to_string(), vec![1])];
        assert_eq!(current_job(&subs, 1), Some("11"));
        assert_eq!(current_job(&subs, 2), Some("10"));
        assert_eq!(current_job(&subs, 3), None);
    }

    #[test]
    fn bad_options_are_refused_before_a_script_is_written() {
        let mut o = SlurmOptions::new("demorl-studio".into());
        assert!(o.check().is_ok());
        o.time = "1 day".into();
        assert!(o.check().unwrap_err().to_string().contains("--time"));
        o.time = "01:00:00".into();
        o.extra = vec!["qos=long".into()];
        assert!(o.check().is_err());
    }

    #[test]
    fn task_lists_are_written_as_ranges_and_read_back() {
        let indices = [0, 1, 2, 3, 5, 7, 8];
        assert_eq!(array_list(&indices), "0-3,5,7-8");
        assert_eq!(parse_array_list("0-3,5,7-8").unwrap(), indices);
        assert_eq!(array_list(&[4]), "4");
    }

    #[test]
    fn words_are_quoted_for_bash() {
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
