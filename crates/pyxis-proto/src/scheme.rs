//! Erasure schemes written `k+m`: k data shards, m parity shards, any k recover.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The most shards one chunk may have: shard indices travel in one byte.
pub const MAX_SHARDS: usize = 255;

/// How a chunk is split: `data` shards carry the ciphertext, `parity` shards are
/// Reed–Solomon recovery shards. Any `data` of the `data + parity` recover it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scheme {
    data: u8,
    parity: u8,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemeError {
    #[error("scheme {0:?} is not of the form k+m (for example 4+2)")]
    Syntax(String),
    #[error("scheme needs at least one data shard")]
    NoData,
    #[error("scheme {data}+{parity} has more than {MAX_SHARDS} shards")]
    TooMany { data: usize, parity: usize },
}

impl Scheme {
    pub fn new(data: usize, parity: usize) -> Result<Self, SchemeError> {
        if data == 0 {
            return Err(SchemeError::NoData);
        }
        // Checked: both come from text (`k+m` in JSON or a flag), where a
        // huge k plus m would wrap around to a small total.
        if data.checked_add(parity).is_none_or(|total| total > MAX_SHARDS) {
            return Err(SchemeError::TooMany { data, parity });
        }
        // Both fit in u8 because their sum does.
        Ok(Self { data: data as u8, parity: parity as u8 })
    }

    /// Shards needed to read the chunk back.
    pub fn data(self) -> usize {
        usize::from(self.data)
    }

    /// Shards that may be lost without losing the chunk.
    pub fn parity(self) -> usize {
        usize::from(self.parity)
    }

    pub fn total(self) -> usize {
        self.data() + self.parity()
    }

    /// Stored bytes per byte of ciphertext.
    pub fn expansion(self) -> f64 {
        self.total() as f64 / self.data() as f64
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.data, self.parity)
    }
}

impl fmt::Debug for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Scheme {
    type Err = SchemeError;
    fn from_str(s: &str) -> Result<Self, SchemeError> {
        let syntax = || SchemeError::Syntax(s.to_owned());
        let (k, m) = s.trim().split_once('+').ok_or_else(syntax)?;
        let k: usize = k.trim().parse().map_err(|_| syntax())?;
        let m: usize = m.trim().parse().map_err(|_| syntax())?;
        Scheme::new(k, m)
    }
}

impl Serialize for Scheme {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scheme {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let s: Scheme = "4+2".parse().unwrap();
        assert_eq!((s.data(), s.parity(), s.total()), (4, 2, 6));
        assert_eq!(s.to_string(), "4+2");
        assert_eq!(" 6 + 4 ".parse::<Scheme>().unwrap().to_string(), "6+4");
        assert!((s.expansion() - 1.5).abs() < 1e-9);
    }

    #[test]
    fn rejects_nonsense() {
        assert_eq!("0+2".parse::<Scheme>(), Err(SchemeError::NoData));
        assert!(matches!("4-2".parse::<Scheme>(), Err(SchemeError::Syntax(_))));
        assert!(matches!("200+56".parse::<Scheme>(), Err(SchemeError::TooMany { .. })));
        assert!("200+55".parse::<Scheme>().is_ok());
        assert!(matches!("-1+2".parse::<Scheme>(), Err(SchemeError::Syntax(_))));
    }

    #[test]
    fn a_sum_that_overflows_is_too_many() {
        // Caught by fuzz/ (api_json, kept input): the sum used to overflow, a panic in a
        // debug build and "255+1" in a release one.
        let huge = format!("{}+1", usize::MAX);
        assert!(matches!(huge.parse::<Scheme>(), Err(SchemeError::TooMany { .. })));
        assert!(matches!(Scheme::new(1, usize::MAX), Err(SchemeError::TooMany { .. })));
        assert!(serde_json::from_str::<Scheme>(&format!("\"{huge}\"")).is_err());
    }
}
