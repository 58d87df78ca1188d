//! The model artifact's binary container (format version [`FORMAT_VERSION`]).
//!
//! ```text
//! magic    8 bytes  "ATTUNEMD"
//! version  u32 LE   FORMAT_VERSION
//! count    u32 LE   number of sections
//! header   u64 LE length, then that many bytes of JSON (recipe, hyperparameters, counts)
//! sections count x { tag: 4 bytes, length: u64 LE, zero padding to 8-byte alignment, bytes }
//! crc32    u32 LE   of every byte before it
//! ```
//! Arrays are little-endian `f32`, `u32` or `u64`. A file is read with one `read` and its arrays
//! copied out in bulk; nothing is parsed per item. Written to a temporary name and renamed, so a
//! reader never sees half an artifact.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use crate::error::{Error, Result};
use crate::store::fsutil;

/// The artifact format this build writes and reads. Keep a frozen artifact of every version in
/// `tests/fixtures/models/v{N}` with a test that it still loads.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"ATTUNEMD";

/// Collects sections and writes an artifact.
#[derive(Debug, Default)]
pub(crate) struct ArtifactWriter {
    sections: Vec<([u8; 4], Vec<u8>)>,
}

impl ArtifactWriter {
    pub(crate) fn bytes(&mut self, tag: &[u8; 4], data: Vec<u8>) {
        self.sections.push((*tag, data));
    }

    pub(crate) fn f32s(&mut self, tag: &[u8; 4], data: &[f32]) {
        self.bytes(tag, data.iter().flat_map(|v| v.to_le_bytes()).collect());
    }

    pub(crate) fn u32s(&mut self, tag: &[u8; 4], data: &[u32]) {
        self.bytes(tag, data.iter().flat_map(|v| v.to_le_bytes()).collect());
    }

    pub(crate) fn u64s(&mut self, tag: &[u8; 4], data: &[u64]) {
        self.bytes(tag, data.iter().flat_map(|v| v.to_le_bytes()).collect());
    }

    /// The whole file as bytes.
    pub(crate) fn encode(&self, header_json: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(self.sections.len() as u32).to_le_bytes());
        out.extend_from_slice(&(header_json.len() as u64).to_le_bytes());
        out.extend_from_slice(header_json);
        for (tag, data) in &self.sections {
            out.extend_from_slice(tag);
            out.extend_from_slice(&(data.len() as u64).to_le_bytes());
            while out.len() % 8 != 0 {
                out.push(0);
            }
            out.extend_from_slice(data);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Writes the artifact atomically.
    pub(crate) fn write(&self, path: &Path, header_json: &[u8]) -> Result<()> {
        fsutil::write_atomic(path, &self.encode(header_json))
    }
}

/// A read artifact: the header JSON and the sections by tag.
#[derive(Debug)]
pub(crate) struct Artifact {
    bytes: Vec<u8>,
    header: Range<usize>,
    sections: HashMap<[u8; 4], Range<usize>>,
    path: String,
}

impl Artifact {
    pub(crate) fn read(path: &Path) -> Result<Artifact> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Artifact::parse(bytes, &path.display().to_string())
    }

    pub(crate) fn parse(bytes: Vec<u8>, path: &str) -> Result<Artifact> {
        let corrupt = |reason: String| Error::Corrupt {
            path: path.into(),
            reason,
        };
        if bytes.len() < 28 || &bytes[..8] != MAGIC {
            return Err(corrupt("not an Attune model artifact".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != FORMAT_VERSION {
            return Err(corrupt(format!(
                "model format version {version}; this build reads version {FORMAT_VERSION}"
            )));
        }
        let body_end = bytes.len() - 4;
        let crc = u32::from_le_bytes(bytes[body_end..].try_into().expect("4 bytes"));
        if crc32fast::hash(&bytes[..body_end]) != crc {
            return Err(corrupt("checksum mismatch: the artifact is damaged".into()));
        }
        let count = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")) as usize;
        let header_len = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")) as usize;
        let mut pos = 24usize;
        let header = pos..pos
            .checked_add(header_len)
            .filter(|e| *e <= body_end)
            .ok_or_else(|| corrupt("header overruns the file".into()))?;
        pos = header.end;
        let mut sections = HashMap::with_capacity(count);
        for _ in 0..count {
            if pos + 12 > body_end {
                return Err(corrupt("section table overruns the file".into()));
            }
            let tag: [u8; 4] = bytes[pos..pos + 4].try_into().expect("4 bytes");
            let len =
                u64::from_le_bytes(bytes[pos + 4..pos + 12].try_into().expect("8 bytes")) as usize;
            pos += 12;
            pos = pos.next_multiple_of(8);
            let end = pos
                .checked_add(len)
                .filter(|e| *e <= body_end)
                .ok_or_else(|| {
                    corrupt(format!(
                        "section {} overruns the file",
                        String::from_utf8_lossy(&tag)
                    ))
                })?;
            sections.insert(tag, pos..end);
            pos = end;
        }
        Ok(Artifact {
            bytes,
            header,
            sections,
            path: path.into(),
        })
    }

    pub(crate) fn header(&self) -> &[u8] {
        &self.bytes[self.header.clone()]
    }

    fn section(&self, tag: &[u8; 4], width: usize) -> Result<&[u8]> {
        let range = self.sections.get(tag).ok_or_else(|| Error::Corrupt {
            path: self.path.clone().into(),
            reason: format!("section {} is missing", String::from_utf8_lossy(tag)),
        })?;
        let data = &self.bytes[range.clone()];
        if !data.len().is_multiple_of(width) {
            return Err(Error::Corrupt {
                path: self.path.clone().into(),
                reason: format!(
                    "section {} has a partial element",
                    String::from_utf8_lossy(tag)
                ),
            });
        }
        Ok(data)
    }

    pub(crate) fn bytes(&self, tag: &[u8; 4]) -> Result<Vec<u8>> {
        Ok(self.section(tag, 1)?.to_vec())
    }

    pub(crate) fn f32s(&self, tag: &[u8; 4]) -> Result<Vec<f32>> {
        Ok(self
            .section(tag, 4)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }

    pub(crate) fn u32s(&self, tag: &[u8; 4]) -> Result<Vec<u32>> {
        Ok(self
            .section(tag, 4)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }

    pub(crate) fn u64s(&self, tag: &[u8; 4]) -> Result<Vec<u64>> {
        Ok(self
            .section(tag, 8)?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }

    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            path: self.path.clone().into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_round_trip_and_damage_is_detected() {
        let mut w = ArtifactWriter::default();
        w.f32s(b"AAAA", &[1.0, -2.5]);
        w.u32s(b"BBBB", &[7]);
        w.u64s(b"CCCC", &[1 << 40]);
        let bytes = w.encode(br#"{"k":1}"#);
        let a = Artifact::parse(bytes.clone(), "mem").unwrap();
        assert_eq!(a.header(), br#"{"k":1}"#);
        assert_eq!(a.f32s(b"AAAA").unwrap(), vec![1.0, -2.5]);
        assert_eq!(a.u32s(b"BBBB").unwrap(), vec![7]);
        assert_eq!(a.u64s(b"CCCC").unwrap(), vec![1 << 40]);
        assert!(a.f32s(b"ZZZZ").is_err());
        for i in [0, 9, 30, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x55;
            assert!(Artifact::parse(damaged, "mem").is_err(), "byte {i}");
        }
        assert!(Artifact::parse(bytes[..bytes.len() - 3].to_vec(), "mem").is_err());
    }
}
