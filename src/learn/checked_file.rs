//! The frame of our binary files (the replay buffer, the host Adam state): 8 magic bytes, a format
//! version, little-endian fields, and a CRC32 of everything before it; a cursor over the fields
//! that says what was being read when the bytes ran out.

/// Why a framed file could not be opened or read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    #[error("wrong magic bytes")]
    Magic,
    #[error("format version {found}, this build reads version {expected}")]
    Version { found: u32, expected: u32 },
    #[error("checksum mismatch: the file is corrupt")]
    Checksum,
    #[error("truncated: {0}")]
    Truncated(String),
}

/// Little-endian fields after a file's magic bytes and version; [`FrameWriter::finish`] appends the CRC.
pub struct FrameWriter {
    bytes: Vec<u8>,
}

impl FrameWriter {
    /// A file of kind `magic` in layout `version`, with room for `capacity` bytes of fields.
    pub fn new(magic: &[u8; 8], version: u32, capacity: usize) -> FrameWriter {
        let mut bytes = Vec::with_capacity(16 + capacity);
        bytes.extend_from_slice(magic);
        bytes.extend_from_slice(&version.to_le_bytes());
        FrameWriter { bytes }
    }

    pub fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn f32s<'a>(&mut self, values: impl IntoIterator<Item = &'a f32>) {
        for v in values {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// The file's bytes, sealed with the CRC32 of everything written.
    pub fn finish(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.bytes);
        self.bytes.extend_from_slice(&crc.to_le_bytes());
        self.bytes
    }
}

/// Opens a framed file: checks its magic bytes, then its version, then its checksum (so a file of
/// another version is named as such even though its layout is unknown), and returns a cursor over
/// the fields between the version and the checksum.
pub fn open_frame<'a>(bytes: &'a [u8], magic: &[u8; 8], version: u32) -> Result<FieldReader<'a>, FrameError> {
    let fields = bytes.strip_prefix(magic.as_slice()).ok_or(FrameError::Magic)?;
    let (body, crc) = fields.split_at_checked(fields.len().saturating_sub(4)).unwrap_or((&[], fields));
    let mut reader = FieldReader { bytes: body };
    let found = reader.u32("version")?;
    if found != version {
        return Err(FrameError::Version { found, expected: version });
    }
    let checked = &bytes[..bytes.len() - 4];
    if crc.len() != 4 || crc32fast::hash(checked).to_le_bytes() != crc {
        return Err(FrameError::Checksum);
    }
    Ok(reader)
}

/// Little-endian fields off the front of a file's body; each read names what it was reading.
pub struct FieldReader<'a> {
    bytes: &'a [u8],
}

impl<'a> FieldReader<'a> {
    /// The next `n` bytes, or an error naming `what` and how many bytes were left.
    pub fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], FrameError> {
        let left = self.bytes.len() as u64;
        let head = usize::try_from(n).ok().and_then(|n| self.bytes.split_at_checked(n));
        let (head, tail) = head.ok_or_else(|| FrameError::Truncated(format!("{what}: need {n} bytes, {left} left")))?;
        self.bytes = tail;
        Ok(head)
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, FrameError> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, FrameError> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }

    /// `count` f32 values.
    pub fn f32s(&mut self, count: u64, what: &str) -> Result<Vec<f32>, FrameError> {
        let raw = self.take(count.saturating_mul(4), what)?;
        Ok(raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }

    /// Bytes not read yet (before the checksum).
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: &[u8; 8] = b"TESTFILE";

    fn sample() -> Vec<u8> {
        let mut file = FrameWriter::new(MAGIC, 3, 0);
        file.u64(2);
        file.f32s(&[1.5, -2.0]);
        file.finish()
    }

    #[test]
    fn fields_read_back_in_order_and_the_end_is_exact() {
        let bytes = sample();
        assert_eq!(bytes.len(), 8 + 4 + 8 + 8 + 4);
        let mut reader = open_frame(&bytes, MAGIC, 3).unwrap();
        let n = reader.u64("count").unwrap();
        assert_eq!(reader.f32s(n, "values").unwrap(), vec![1.5, -2.0]);
        assert_eq!(reader.remaining(), 0);
        assert_eq!(reader.u32("more"), Err(FrameError::Truncated("more: need 4 bytes, 0 left".into())));
    }

    #[test]
    fn magic_version_checksum_and_truncation_are_told_apart() {
        let bytes = sample();
        assert_eq!(open_frame(&bytes, b"OTHERONE", 3).err(), Some(FrameError::Magic));
        assert_eq!(open_frame(&bytes[..5], MAGIC, 3).err(), Some(FrameError::Magic));
        assert_eq!(open_frame(&bytes, MAGIC, 4).err(), Some(FrameError::Version { found: 3, expected: 4 }));
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert_eq!(open_frame(&flipped, MAGIC, 3).err(), Some(FrameError::Checksum));
        // Cut inside the version: named as truncated; cut later: the checksum no longer matches.
        assert!(matches!(open_frame(&bytes[..10], MAGIC, 3), Err(FrameError::Truncated(_))));
        assert_eq!(open_frame(&bytes[..bytes.len() - 6], MAGIC, 3).err(), Some(FrameError::Checksum));
        let mut reader = open_frame(&bytes, MAGIC, 3).unwrap();
        assert!(reader.f32s(u64::MAX, "huge").is_err(), "an absurd count is refused, not allocated");
    }
}
