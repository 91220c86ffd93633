//! Content-defined chunking with FastCDC (2020), streaming from any `Read`.
//!
//! Boundaries depend on content, so an edit moves only the chunks around it and
//! the rest deduplicate. The gear table is keyed by the account's chunker seed,
//! so chunk lengths do not fingerprint known files. Memory is one buffer of
//! `max` bytes plus the chunk being handed out, whatever the input size.

use std::io::Read;

use fastcdc::v2020::{self, Normalization, StreamCDC};

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
        Self {
            min: 256 << 10,
            avg: 1 << 20,
            max: 4 << 20,
        }
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
        let even = min % 2 == 0 && avg % 2 == 0 && max % 2 == 0;
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

/// One chunk of the input.
#[derive(Debug)]
pub struct Chunk {
    pub offset: u64,
    pub data: Vec<u8>,
}

/// An iterator of chunks over a reader.
pub struct Chunker<R: Read> {
    inner: StreamCDC<R>,
}

impl<R: Read> std::fmt::Debug for Chunker<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Chunker")
    }
}

impl<R: Read> Chunker<R> {
    pub fn new(reader: R, params: ChunkerParams, seed: u64) -> Result<Self> {
        params.validate()?;
        let inner = StreamCDC::with_level_and_seed(
            reader,
            params.min as usize,
            params.avg as usize,
            params.max as usize,
            Normalization::Level1,
            seed,
        );
        Ok(Self { inner })
    }
}

impl<R: Read> Iterator for Chunker<R> {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|r| match r {
            Ok(c) => Ok(Chunk {
                offset: c.offset,
                data: c.data,
            }),
            Err(e) => Err(Error::Io(e.into())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::pseudo_random;

    fn lengths(data: &[u8], seed: u64) -> Vec<usize> {
        Chunker::new(data, ChunkerParams::default(), seed)
            .unwrap()
            .map(|c| c.unwrap().data.len())
            .collect()
    }

    #[test]
    fn concatenation_is_the_input_and_sizes_are_bounded() {
        let data = pseudo_random(1, 9 << 20);
        let chunks: Vec<Chunk> = Chunker::new(&data[..], ChunkerParams::default(), 7)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.data.iter().copied()).collect();
        assert_eq!(joined, data);
        for c in &chunks[..chunks.len() - 1] {
            assert!((256 << 10..=4 << 20).contains(&c.data.len()));
        }
        assert!(chunks.len() >= 3, "9 MiB gave only {} chunks", chunks.len());
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
        let same_suffix = a
            .iter()
            .rev()
            .zip(b.iter().rev())
            .take_while(|(x, y)| x == y)
            .count();
        assert!(a.len() - same_prefix - same_suffix <= 3, "{a:?} vs {b:?}");
    }

    #[test]
    fn bad_params_are_refused() {
        let p = ChunkerParams {
            min: 8,
            avg: 1 << 20,
            max: 4 << 20,
        };
        assert!(Chunker::new(&[][..], p, 0).is_err());
        let p = ChunkerParams {
            min: 1 << 20,
            avg: 512 << 10,
            max: 4 << 20,
        };
        assert!(p.validate().is_err());
        let p = ChunkerParams {
            min: 4097,
            avg: 1 << 20,
            max: 4 << 20,
        };
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
        let err = Chunker::new(Broken, ChunkerParams::default(), 0)
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
    }
}
