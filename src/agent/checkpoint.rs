//! Checkpoints: a folder `saves/<name>/` with a RON manifest (format version, run settings,
//! counters, trainer metrics, and the size and CRC32 of every other file), the agent's weights,
//! optimiser states, RNG states and replay buffer, and the metrics as CSV.
//!
//! A save is written into a hidden sibling folder and renamed into place; the previous
//! checkpoint is moved aside first and deleted only after the new one is in place, so an
//! interrupted save leaves a complete checkpoint behind. Loading checks the manifest's version
//! and every listed file before anything is restored, and never writes or deletes.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::record::write_learning_records;
use super::train::{TrainAgent, Trainer};
use super::train_data::{TrainerState, TrainerStateV1};
use crate::config::RunConfig;
use crate::format::parse_ron;

/// Bumped whenever the layout changes. Version 1 (the trainer's last model fit as loose fields)
/// is still read; other versions are refused with a message.
pub const CHECKPOINT_FORMAT_VERSION: u32 = 2;
const MANIFEST: &str = "manifest.ron";
/// Where the agent's own files go inside the checkpoint.
const AGENT_DIR: &str = "agent";

/// One file of the checkpoint, as listed in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the checkpoint folder, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub crc32: u32,
}

/// The checkpoint's manifest (`manifest.ron`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// Seconds since the Unix epoch when the checkpoint was written.
    pub created_unix_seconds: u64,
    /// Everything needed to rerun: scene, mode, model, seed, schedule, learner and planner settings.
    pub config: RunConfig,
    /// Counters, metrics so far and the unlogged window.
    pub trainer: TrainerState,
    /// Every other file with its size and checksum.
    pub files: Vec<FileEntry>,
    /// Taken at a run's last step with a training episode under way (`train --save-final`): its
    /// agent can be evaluated, but the run cannot continue from it, since the episode's physics
    /// state is not saved (checkpoints of episode starts rebuild the episode from its seed).
    #[serde(default)]
    pub mid_episode: bool,
}

/// A version-1 manifest: the same but for the trainer's state.
#[derive(Deserialize)]
struct ManifestV1 {
    format_version: u32,
    created_unix_seconds: u64,
    config: RunConfig,
    trainer: TrainerStateV1,
    files: Vec<FileEntry>,
}

impl From<ManifestV1> for Manifest {
    fn from(v1: ManifestV1) -> Self {
        Manifest {
            format_version: v1.format_version,
            created_unix_seconds: v1.created_unix_seconds,
            config: v1.config,
            trainer: v1.trainer.into(),
            files: v1.files,
            mid_episode: false,
        }
    }
}

impl Manifest {
    /// Mean return of the last evaluation, if any (for save lists).
    pub fn last_eval_return(&self) -> Option<f64> {
        self.trainer.evals.last().map(|row| row.eval_return_mean)
    }
}

/// Writes `trainer` (at an episode start) and `config` as the checkpoint folder `dir`,
/// replacing an earlier checkpoint there only once the new one is complete.
pub fn save_checkpoint<A: TrainAgent>(dir: &Path, config: &RunConfig, trainer: &Trainer<A>) -> anyhow::Result<()> {
    if !trainer.at_episode_start() {
        bail!("checkpoints are taken at episode starts (the training episode is under way)");
    }
    write_checkpoint(dir, config, trainer, false)
}

/// Writes `trainer` as it is, mid-episode or not, as the checkpoint folder `dir`: the agent a
/// run ends with, for evaluation. Mid-episode it is marked so ([`Manifest::mid_episode`]) and
/// cannot be resumed; at an episode start it is an ordinary checkpoint. Returns whether it was
/// taken mid-episode.
pub fn save_final_checkpoint<A: TrainAgent>(
    dir: &Path,
    config: &RunConfig,
    trainer: &Trainer<A>,
) -> anyhow::Result<bool> {
    let mid_episode = !trainer.at_episode_start();
    write_checkpoint(dir, config, trainer, mid_episode)?;
    Ok(mid_episode)
}

fn write_checkpoint<A: TrainAgent>(
    dir: &Path,
    config: &RunConfig,
    trainer: &Trainer<A>,
    mid_episode: bool,
) -> anyhow::Result<()> {
    let name =
        dir.file_name().and_then(|n| n.to_str()).with_context(|| format!("{}: not a folder name", dir.display()))?;
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let partial = parent.join(format!(".{name}.partial"));
    if partial.exists() {
        // Only an interrupted save of ours leaves this folder.
        std::fs::remove_dir_all(&partial).with_context(|| format!("cannot clear {}", partial.display()))?;
    }
    std::fs::create_dir_all(partial.join(AGENT_DIR)).with_context(|| format!("cannot create {}", partial.display()))?;
    trainer.agent.save_state(&partial.join(AGENT_DIR))?;
    let state = &trainer.state;
    write_learning_records(&partial, &state.evals, &state.rows, &state.episodes)?;
    let manifest = Manifest {
        format_version: CHECKPOINT_FORMAT_VERSION,
        created_unix_seconds: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        config: config.clone(),
        trainer: trainer.state.clone(),
        files: list_files(&partial)?,
        mid_episode,
    };
    let text = ron::ser::to_string_pretty(&manifest, ron::ser::PrettyConfig::default())?;
    std::fs::write(partial.join(MANIFEST), text).context("cannot write the manifest")?;
    let previous = parent.join(format!(".{name}.previous"));
    if dir.exists() {
        if previous.exists() {
            std::fs::remove_dir_all(&previous).with_context(|| format!("cannot clear {}", previous.display()))?;
        }
        std::fs::rename(dir, &previous).with_context(|| format!("cannot move {} aside", dir.display()))?;
    }
    std::fs::rename(&partial, dir).with_context(|| format!("cannot move the new checkpoint to {}", dir.display()))?;
    if previous.exists() {
        std::fs::remove_dir_all(&previous).with_context(|| format!("cannot remove {}", previous.display()))?;
    }
    Ok(())
}

/// Every file under `root` except the manifest, with sizes and checksums, sorted by path.
fn list_files(root: &Path) -> anyhow::Result<Vec<FileEntry>> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).with_context(|| format!("cannot list {}", folder.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = relative_name(root, &path);
            if relative == MANIFEST {
                continue;
            }
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            files.push(FileEntry { path: relative, bytes: bytes.len() as u64, crc32: crc32fast::hash(&bytes) });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn relative_name(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Reads and checks a checkpoint's manifest and files: version, presence, size and checksum.
/// Names the file and the reason on any problem; changes nothing on disk.
pub fn read_checkpoint(dir: &Path) -> anyhow::Result<Manifest> {
    let manifest_path = dir.join(MANIFEST);
    if !dir.is_dir() {
        bail!("{}: no checkpoint folder here", dir.display());
    }
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("{}: cannot read the manifest", manifest_path.display()))?;
    // The version is checked before the rest, so an other-version save says so instead of
    // failing on a field this build does not know.
    let version = manifest_version(&text)
        .with_context(|| format!("{}: not a checkpoint manifest (no format_version)", manifest_path.display()))?;
    let manifest: Manifest = match version {
        CHECKPOINT_FORMAT_VERSION => parse_ron(&text, &manifest_path)?,
        1 => parse_ron::<ManifestV1>(&text, &manifest_path)?.into(),
        _ => bail!(
            "{}: checkpoint format version {version}, this build reads versions 1 and {CHECKPOINT_FORMAT_VERSION}",
            manifest_path.display()
        ),
    };
    for entry in &manifest.files {
        let path = dir.join(&entry.path);
        let bytes = std::fs::read(&path).with_context(|| format!("{}: missing or unreadable", path.display()))?;
        if bytes.len() as u64 != entry.bytes {
            bail!(
                "{}: {} bytes, the manifest lists {} (truncated or replaced)",
                path.display(),
                bytes.len(),
                entry.bytes
            );
        }
        if crc32fast::hash(&bytes) != entry.crc32 {
            bail!("{}: checksum mismatch (the file is corrupt)", path.display());
        }
    }
    Ok(manifest)
}

/// The `format_version: N` of a manifest text, read without parsing the rest.
fn manifest_version(text: &str) -> Option<u32> {
    let after = &text[text.find("format_version")? + "format_version".len()..];
    let digits: String =
        after.trim_start().strip_prefix(':')?.trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Restores a checkpoint into a trainer built for the manifest's config (same scene, mode and
/// seed), to continue the run: the trainer's counters and metrics, then the agent's state. A
/// checkpoint taken mid-episode is refused ([`restore_to_evaluate`] takes it).
pub fn restore_checkpoint<A: TrainAgent>(
    dir: &Path,
    manifest: &Manifest,
    trainer: &mut Trainer<A>,
) -> anyhow::Result<()> {
    if manifest.mid_episode {
        bail!(
            "{}: taken mid-episode at the end of a run (env step {}): its agent can be evaluated \
             (`evaluate`), but the run cannot continue from it, since the episode's physics state \
             is not saved; continue from a checkpoint taken at an episode start (--save-every)",
            dir.display(),
            manifest.trainer.env_steps
        );
    }
    restore_to_evaluate(dir, manifest, trainer)
}

/// [`restore_checkpoint`] for evaluating the saved agent, which a checkpoint taken mid-episode
/// also serves (the training env restarts its episode; evaluation does not use it).
pub fn restore_to_evaluate<A: TrainAgent>(
    dir: &Path,
    manifest: &Manifest,
    trainer: &mut Trainer<A>,
) -> anyhow::Result<()> {
    trainer.restore(manifest.trainer.clone());
    trainer.agent.load_state(&dir.join(AGENT_DIR)).with_context(|| format!("{}: agent state", dir.display()))
}

/// A checkpoint found in a saves folder, for the studio's list.
#[derive(Clone, Debug)]
pub struct SaveEntry {
    pub path: PathBuf,
    pub manifest: Result<Manifest, String>,
}

/// The checkpoints in `folder` (sorted by name), each with its checked manifest or the reason
/// it cannot be loaded. Hidden folders (saves in progress) are skipped.
pub fn list_checkpoints(folder: &Path) -> Vec<SaveEntry> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut saves: Vec<SaveEntry> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.join(MANIFEST).exists())
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .map(|path| SaveEntry { manifest: read_checkpoint(&path).map_err(|e| format!("{e:#}")), path })
        .collect();
    saves.sort_by(|a, b| a.path.cmp(&b.path));
    saves
}
