//! A grid on the SLURM backend, one `compare` call at a time: finished runs are read back, runs
//! SLURM is still working on are left alone, and the rest (new, failed, interrupted) are
//! submitted as one job array. Once every run has finished, the same call collects them.

use super::grid::{GridRun, RunOutcome, reused_outcome};
use super::slurm::{SlurmOptions, submit, submit_command, write_array};
use super::status::{RunState, grid_status, status_text};
use crate::compare::CompareOptions;

/// What a `compare` call on the SLURM backend did.
#[derive(Clone, Debug)]
pub enum ArrayProgress {
    /// Every run finished: their curves, in grid order.
    Finished(Vec<RunOutcome>),
    /// Some runs are not finished yet.
    Waiting(Waiting),
}

/// Runs that are not finished, and what this call did about them.
#[derive(Clone, Debug)]
pub struct Waiting {
    /// Runs still queued or running from an earlier submission.
    pub in_queue: usize,
    /// Task indices this call submitted (or, with `--dry-run`, would submit).
    pub submitted: Vec<usize>,
    /// The job id of this call's submission (`None` with `--dry-run` or nothing to submit).
    pub job: Option<String>,
    /// The submission command (what `--dry-run` prints).
    pub command: Vec<String>,
    /// `compare --status` text after submitting.
    pub status: String,
}

/// Advances the grid on SLURM (see the module comment).
pub fn advance_array(
    options: &CompareOptions,
    runs: &[GridRun],
    slurm: &SlurmOptions,
    log: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<ArrayProgress> {
    let finished: Vec<Option<RunOutcome>> = runs.iter().map(|run| reused_outcome(run, log)).collect();
    if finished.iter().all(Option::is_some) {
        log(&format!("all {} runs finished", runs.len()));
        return Ok(ArrayProgress::Finished(finished.into_iter().flatten().collect()));
    }
    let statuses = grid_status(&options.out)?;
    let busy = |k: usize| matches!(statuses[k].state, RunState::Running | RunState::Pending(_));
    let unfinished: Vec<usize> = (0..runs.len()).filter(|&k| finished[k].is_none()).collect();
    let to_submit: Vec<usize> = unfinished.iter().copied().filter(|&k| !busy(k)).collect();
    let in_queue = unfinished.len() - to_submit.len();
    let script = write_array(&options.out, &options.scene, runs, &to_submit, slurm)?;
    let command = submit_command(&script, &to_submit, slurm);
    let job = if to_submit.is_empty() || slurm.dry_run {
        None
    } else {
        let job = submit(&options.out, &script, &to_submit, slurm)?;
        log(&format!("submitted {} runs as job array {job} ({})", to_submit.len(), script.display()));
        Some(job)
    };
    let status = status_text(&grid_status(&options.out)?);
    Ok(ArrayProgress::Waiting(Waiting { in_queue, submitted: to_submit, job, command, status }))
}
