//! The replay buffer's compact binary file (framed as `checked_file` frames it): sizes, the stored
//! transitions oldest first (raw little-endian f32), the sampling RNG's state.
//!
//! Only stored rows are written (not the whole capacity), and reading them back oldest first
//! keeps every later sample identical, because sampling indexes transitions by age.

use std::io::{Read, Write};

use rand_chacha::ChaCha8Rng;

use super::checked_file::{FrameError, FrameWriter, open_frame};
use super::replay::{ReplayBuffer, StepEnd};

const MAGIC: &[u8; 8] = b"DMRLRPLB";
/// Bumped whenever the layout changes; other versions are refused, never guessed at.
pub const REPLAY_FORMAT_VERSION: u32 = 1;

/// Why a replay file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReplayFileError {
    #[error("not a replay file (wrong magic bytes)")]
    NotReplay,
    #[error("replay format version {found}, this build reads version {REPLAY_FORMAT_VERSION}")]
    Version { found: u32 },
    #[error("truncated: {0}")]
    Truncated(String),
    #[error("checksum mismatch: the file is corrupt")]
    Checksum,
    #[error("inconsistent header: {0}")]
    Header(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<FrameError> for ReplayFileError {
    fn from(error: FrameError) -> Self {
        match error {
            FrameError::Magic => ReplayFileError::NotReplay,
            FrameError::Version { found, .. } => ReplayFileError::Version { found },
            FrameError::Checksum => ReplayFileError::Checksum,
            FrameError::Truncated(what) => ReplayFileError::Truncated(what),
        }
    }
}

impl ReplayBuffer {
    /// Writes the buffer (see the module doc for the layout).
    pub fn write_to(&self, mut out: impl Write) -> std::io::Result<()> {
        let row = 2 * self.obs_dim() + self.act_dim() + 2;
        let mut file = FrameWriter::new(MAGIC, REPLAY_FORMAT_VERSION, 64 + self.len() * row * 4);
        for n in [self.obs_dim(), self.act_dim(), self.capacity(), self.len()] {
            file.u64(n as u64);
        }
        let all = self.all();
        for column in [&all.obs, &all.actions, &all.rewards, &all.next_obs, &all.terminals] {
            file.f32s(column.iter());
        }
        let rng = serde_json::to_vec(self.rng()).map_err(std::io::Error::other)?;
        file.u64(rng.len() as u64);
        file.raw(&rng);
        out.write_all(&file.finish())
    }

    /// Reads a buffer written by [`ReplayBuffer::write_to`], checking magic, version, sizes and checksum.
    pub fn read_from(mut input: impl Read) -> Result<ReplayBuffer, ReplayFileError> {
        let mut bytes = Vec::new();
        input.read_to_end(&mut bytes)?;
        let mut reader = open_frame(&bytes, MAGIC, REPLAY_FORMAT_VERSION)?;
        let obs_dim = reader.u64("observation width")?;
        let act_dim = reader.u64("action width")?;
        let capacity = reader.u64("capacity")?;
        let len = reader.u64("stored count")?;
        if capacity == 0 || len > capacity || obs_dim == 0 || act_dim == 0 {
            return Err(ReplayFileError::Header(format!(
                "obs {obs_dim}, action {act_dim}, capacity {capacity}, stored {len}"
            )));
        }
        let mut column = |width: u64, name: &str| reader.f32s(len.saturating_mul(width), name);
        let obs = column(obs_dim, "observations")?;
        let actions = column(act_dim, "actions")?;
        let rewards = column(1, "rewards")?;
        let next_obs = column(obs_dim, "next observations")?;
        let terminals = column(1, "terminal flags")?;
        let rng_len = reader.u64("rng length")?;
        let rng: ChaCha8Rng = serde_json::from_slice(reader.take(rng_len, "rng state")?)
            .map_err(|e| ReplayFileError::Header(format!("rng state: {e}")))?;
        let (obs_dim, act_dim) = (obs_dim as usize, act_dim as usize);
        let mut buffer = ReplayBuffer::new(obs_dim, act_dim, capacity as usize, 0);
        for k in 0..len as usize {
            let end = if terminals[k] == 1.0 { StepEnd::Terminated } else { StepEnd::Continues };
            buffer.push(
                &obs[k * obs_dim..(k + 1) * obs_dim],
                &actions[k * act_dim..(k + 1) * act_dim],
                rewards[k],
                &next_obs[k * obs_dim..(k + 1) * obs_dim],
                end,
            );
        }
        buffer.set_rng(rng);
        Ok(buffer)
    }
}
