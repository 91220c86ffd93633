//! Content-defined chunking with FastCDC (2020), streaming from any `Read`.
//!
//! Boundaries depend on content, so an edit moves only the chunks around it and
//! the rest deduplicate. The gear table is keyed by the account's chunker seed,
//! so chunk lengths do not fingerprint known files.
//!
//! Why not fastcdc's own `StreamCDC`: it keeps a buffer of exactly `max` bytes
//! and shifts the unread tail to the front after every chunk, about three bytes
//! moved per byte chunked; measured here that memmove was 30 % of the whole
//! encode path. This wrapper calls the crate's `cut_gear` (same cut points,
//! checked by a test against `StreamCDC`) over a buffer of four maximal chunks
//! that is compacted only when less than one maximal chunk is left, a third of
//! a byte moved per byte. Memory stays bounded: that buffer plus the chunk
//! handed out, whatever the input size.

use std::borrow::Cow;
use std::io::{ErrorKind, Read};

use fastcdc::v2020::{self, Normalization};

use crate::codec::ChunkBuf;
use crate::error::{Error, Result};

/// Chunk size bounds in bytes. Changing them changes every boundary, so they
/// are part of an account's format (recorded in the client config).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkerParams {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
}

impl Default for ChunkerParams {
    /// 256 KiB / 1 MiB / 4 MiB: ~1 MiB chunks keep per-chunk overhead (a catalog
    /// row, n shards, n grants) small while a 1 MiB edit still costs only a few chunks.
    fn default() -> Self {
        Self { min: 256 << 10, avg: 1 << 20, max: 4 << 20 }
    }
}

impl ChunkerParams {
    /// fastcdc only checks its bounds with debug assertions; check them here so
    /// release builds never chunk with nonsense.
    pub fn validate(&self) -> Result<()> {
        let (min, avg, max) = (self.min as usize, self.avg as usize, self.max as usize);
        let in_range = (v2020::MINIMUM_MIN..=v2020::MINIMUM_MAX).contains(&min)
            && (v2020::AVERAGE_MIN..=v2020::AVERAGE_MAX).contains(&avg)
            && (v2020::MAXIMUM_MIN..=v2020::MAXIMUM_MAX).contains(&max);
        let ordered = min <= avg && avg <= max;
        let even = min.is_multiple_of(2) && avg.is_multiple_of(2) && max.is_multiple_of(2);
        if in_range && ordered && even {
            Ok(())
        } else {
            Err(Error::ChunkerParams(format!(
                "{min}/{avg}/{max}: need even sizes with min <= avg <= max, \
                 min 64 B..1 MiB, avg 256 B..4 MiB, max 1 KiB..16 MiB"
            )))
        }
    }
}

/// One chunk of the input, in a buffer the codec can seal in place.
#[derive(Debug)]
pub struct Chunk {
    pub offset: u64,
    pub buf: ChunkBuf,
}

impl Chunk {
    pub fn data(&self) -> &[u8] {
        self.buf.data()
    }
}

/// Buffer size in maximal chunks; compaction moves at most one of them.
const BUFFER_CHUNKS: usize = 4;

/// An iterator of chunks over a reader.
pub struct Chunker<R: Read> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    offset: u64,
    min: usize,
    avg: usize,
    max: usize,
    masks: (u64, u64),
    gear: (Cow<'static, [u64]>, Cow<'static, [u64]>),
}

impl<R: Read> std::fmt::Debug for Chunker<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Chunker {{ offset: {} }}", self.offset)
    }
}

impl<R: Read> Chunker<R> {
    pub fn new(reader: R, params: ChunkerParams, seed: u64) -> Result<Self> {
        params.validate()?;
        let max = params.max as usize;
        Ok(Self {
            reader,
            buf: vec![0; max * BUFFER_CHUNKS],
            start: 0,
            end: 0,
            eof: false,
            offset: 0,
            min: params.min as usize,
            avg: params.avg as usize,
            max,
            masks: v2020::select_masks(params.avg as usize, Normalization::Level1),
            gear: v2020::get_gear_with_seed(seed),
        })
    }

    /// Makes sure at least `max` bytes are buffered, or everything until EOF,
    /// so a cut is never made early for want of data.
    fn fill(&mut self) -> std::io::Result<()> {
        if self.end - self.start >= self.max || self.eof {
            return Ok(());
        }
        if self.buf.len() - self.end < self.max {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while !self.eof && self.end - self.start < self.max {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<R: Read> Iterator for Chunker<R> {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.fill() {
            return Some(Err(Error::Io(e)));
        }
        let (mask_s, mask_l) = self.masks;
        let (_, len) = v2020::cut_gear(
            &self.buf[self.start..self.end],
            self.min,
            self.avg,
            self.max,
            mask_s,
            mask_l,
            mask_s << 1,
            mask_l << 1,
            &self.gear.0,
            &self.gear.1,
        );
        if len == 0 {
            return None;
        }
        let chunk = Chunk { offset: self.offset, buf: ChunkBuf::from_slice(&self.buf[self.start..self.start + len]) };
        self.start += len;
        self.offset += len as u64;
        Some(Ok(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::pseudo_random;

    fn lengths(data: &[u8], seed: u64) -> Vec<usize> {
        Chunker::new(data, ChunkerParams::default(), seed).unwrap().map(|c| c.unwrap().data().len()).collect()
    }

    #[test]
    fn concatenation_is_the_input_and_sizes_are_bounded() {
        let data = pseudo_random(1, 9 << 20);
        let chunks: Vec<Chunk> =
            Chunker::new(&data[..], ChunkerParams::default(), 7).unwrap().map(Result::unwrap).collect();
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.data().iter().copied()).collect();
        assert_eq!(joined, data);
        for c in &chunks[..chunks.len() - 1] {
            assert!((256 << 10..=4 << 20).contains(&c.data().len()));
        }
        assert!(chunks.len() >= 3, "9 MiB gave only {} chunks", chunks.len());
    }

    #[test]
    fn cuts_exactly_where_fastcdc_stream_cdc_does() {
        // Reading in odd small pieces must not change anything either.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(70_001);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut data = pseudo_random(4, 12 << 20);
        data.extend(crate::testdata::pseudo_text(4, 6 << 20));
        data.extend(vec![0u8; 9 << 20]); // long runs hit the maximum size
        for seed in [0, 99] {
            let p = ChunkerParams::default();
            let theirs: Vec<(u64, usize)> = v2020::StreamCDC::with_level_and_seed(
                &data[..],
                p.min as usize,
                p.avg as usize,
                p.max as usize,
                Normalization::Level1,
                seed,
            )
            .map(|c| c.map(|c| (c.offset, c.length)).unwrap())
            .collect();
            let ours: Vec<(u64, usize)> = Chunker::new(Trickle(&data), p, seed)
                .unwrap()
                .map(|c| c.map(|c| (c.offset, c.data().len())).unwrap())
                .collect();
            assert_eq!(ours, theirs, "seed {seed}");
        }
    }

    #[test]
    fn empty_input_gives_no_chunks() {
        assert!(lengths(&[], 0).is_empty());
    }

    #[test]
    fn seed_changes_boundaries() {
        let data = pseudo_random(2, 8 << 20);
        assert_ne!(lengths(&data, 1), lengths(&data, 2));
    }

    #[test]
    fn an_insert_moves_only_nearby_chunks() {
        let data = pseudo_random(3, 16 << 20);
        let mut edited = data.clone();
        edited.splice(8 << 20..8 << 20, [1u8; 100]);
        let a = lengths(&data, 5);
        let b = lengths(&edited, 5);
        let same_prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        let same_suffix = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
        assert!(a.len() - same_prefix - same_suffix <= 3, "{a:?} vs {b:?}");
    }

    #[test]
    fn bad_params_are_refused() {
        let p = ChunkerParams { min: 8, avg: 1 << 20, max: 4 << 20 };
        assert!(Chunker::new(&[][..], p, 0).is_err());
        let p = ChunkerParams { min: 1 << 20, avg: 512 << 10, max: 4 << 20 };
        assert!(p.validate().is_err());
        let p = ChunkerParams { min: 4097, avg: 1 << 20, max: 4 << 20 };
        assert!(p.validate().is_err());
    }

    #[test]
    fn read_errors_surface() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let err = Chunker::new(Broken, ChunkerParams::default(), 0).unwrap().next().unwrap().unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
    }
}
