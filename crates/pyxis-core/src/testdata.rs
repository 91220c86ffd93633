//! Deterministic data for tests and benchmarks: incompressible bytes and
//! compressible text, as `Read` streams so gigabytes never sit in memory.

use std::io::Read;

/// splitmix64: tiny, fast, and good enough to be incompressible to zstd.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An endless (or `len`-long) stream of pseudo-random bytes.
#[derive(Debug, Clone)]
pub struct PseudoRandom {
    state: u64,
    left: u64,
}

impl PseudoRandom {
    pub fn new(seed: u64, len: u64) -> Self {
        Self { state: seed, left: len }
    }
}

impl Read for PseudoRandom {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for word in buf[..n].chunks_mut(8) {
            let v = splitmix(&mut self.state).to_le_bytes();
            word.copy_from_slice(&v[..word.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// `len` pseudo-random bytes.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    PseudoRandom::new(seed, len as u64).read_exact(&mut v).expect("in-memory read");
    v
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "chunk",
    "shard",
    "remote",
    "server",
    "client",
    "file",
    "folder",
    "version",
    "encrypt",
    "decrypt",
    "storage",
    "network",
    "erasure",
    "parity",
    "repair",
    "audit",
    "placement",
    "grant",
    "catalog",
    "manifest",
    "sync",
    "conflict",
    "history",
    "deduplicate",
    "compress",
    "stream",
    "buffer",
    "latency",
    "throughput",
    "durable",
    "replica",
    "quorum",
    "consensus",
    "ledger",
    "protocol",
    "archive",
    "snapshot",
    "restore",
    "backup",
    "journal",
    "checksum",
    "integrity",
    "vector",
];

/// A stream of pseudo-random English-like text (zstd compresses it ~3-4×).
#[derive(Debug, Clone)]
pub struct PseudoText {
    state: u64,
    left: u64,
    pending: Vec<u8>,
}

impl PseudoText {
    pub fn new(seed: u64, len: u64) -> Self {
        Self { state: seed, left: len, pending: Vec::new() }
    }

    fn refill(&mut self) {
        self.pending.clear();
        let mut line = 0;
        while self.pending.len() < 4096 {
            let r = splitmix(&mut self.state);
            self.pending.extend_from_slice(WORDS[(r % WORDS.len() as u64) as usize].as_bytes());
            line += 1;
            self.pending.push(match (r >> 32) % 16 {
                0 => b',',
                1 if line > 8 => {
                    line = 0;
                    b'\n'
                }
                _ => b' ',
            });
        }
    }
}

impl Read for PseudoText {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.left > 0 {
            if self.pending.is_empty() {
                self.refill();
            }
            let take = (buf.len() - n).min(self.pending.len()).min(usize::try_from(self.left).unwrap_or(usize::MAX));
            buf[n..n + take].copy_from_slice(&self.pending[..take]);
            self.pending.drain(..take);
            n += take;
            self.left -= take as u64;
        }
        Ok(n)
    }
}

/// `len` bytes of pseudo text.
pub fn pseudo_text(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    PseudoText::new(seed, len as u64).read_exact(&mut v).expect("in-memory read");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        assert_eq!(pseudo_random(1, 1000), pseudo_random(1, 1000));
        assert_ne!(pseudo_random(1, 1000), pseudo_random(2, 1000));
        assert_eq!(pseudo_text(3, 10_001).len(), 10_001);
        let mut s = String::new();
        PseudoText::new(4, 50).read_to_string(&mut s).unwrap();
        assert_eq!(s.len(), 50);
    }
}
