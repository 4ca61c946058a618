//! The replay buffer's compact binary file: a header, the stored transitions oldest first (raw
//! little-endian f32), the sampling RNG's state, and a CRC32 of everything before it.
//!
//! Only stored rows are written (not the whole capacity), and reading them back oldest first
//! keeps every later sample identical, because sampling indexes transitions by age.

use std::io::{Read, Write};

use rand_chacha::ChaCha8Rng;

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

impl ReplayBuffer {
    /// Writes the buffer (see the module doc for the layout).
    pub fn write_to(&self, mut out: impl Write) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(64 + self.len() * (2 * self.obs_dim() + self.act_dim() + 2) * 4);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&REPLAY_FORMAT_VERSION.to_le_bytes());
        for n in [self.obs_dim(), self.act_dim(), self.capacity(), self.len()] {
            bytes.extend_from_slice(&(n as u64).to_le_bytes());
        }
        let all = self.all();
        for column in [&all.obs, &all.actions, &all.rewards, &all.next_obs, &all.terminals] {
            for v in column.iter() {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        let rng = serde_json::to_vec(self.rng()).map_err(std::io::Error::other)?;
        bytes.extend_from_slice(&(rng.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&rng);
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        out.write_all(&bytes)
    }

    /// Reads a buffer written by [`ReplayBuffer::write_to`], checking magic, version, sizes and checksum.
    pub fn read_from(mut input: impl Read) -> Result<ReplayBuffer, ReplayFileError> {
        let mut bytes = Vec::new();
        input.read_to_end(&mut bytes)?;
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(ReplayFileError::NotReplay);
        }
        let mut reader = Reader { bytes: &bytes, at: MAGIC.len() };
        let version = u32::from_le_bytes(reader.take(4, "version")?.try_into().expect("4 bytes"));
        if version != REPLAY_FORMAT_VERSION {
            return Err(ReplayFileError::Version { found: version });
        }
        let (body, crc) = bytes.split_at(bytes.len().saturating_sub(4));
        if crc.len() < 4 || crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(ReplayFileError::Checksum);
        }
        let obs_dim = reader.u64("observation width")?;
        let act_dim = reader.u64("action width")?;
        let capacity = reader.u64("capacity")?;
        let len = reader.u64("stored count")?;
        if capacity == 0 || len > capacity || obs_dim == 0 || act_dim == 0 {
            return Err(ReplayFileError::Header(format!(
                "obs {obs_dim}, action {act_dim}, capacity {capacity}, stored {len}"
            )));
        }
        let mut column = |width: u64, name: &str| reader.floats(len.saturating_mul(width), name);
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

/// A cursor over the file's bytes that reports what was being read when they ran out.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: u64, what: &str) -> Result<&[u8], ReplayFileError> {
        let available = self.bytes.len().saturating_sub(4 + self.at) as u64;
        if n > available {
            return Err(ReplayFileError::Truncated(format!("{what}: need {n} bytes, {available} left")));
        }
        let slice = &self.bytes[self.at..self.at + n as usize];
        self.at += n as usize;
        Ok(slice)
    }

    fn u64(&mut self, what: &str) -> Result<u64, ReplayFileError> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }

    fn floats(&mut self, count: u64, what: &str) -> Result<Vec<f32>, ReplayFileError> {
        let raw = self.take(count.saturating_mul(4), what)?;
        Ok(raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }
}
