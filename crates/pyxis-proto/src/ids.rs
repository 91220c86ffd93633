//! Content identifiers: 32-byte hashes shown and serialised as hex.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hex::{self, HexError};

macro_rules! hash32 {
    ($(#[$doc:meta])* $name:ident, $label:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            pub const LEN: usize = 32;

            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            pub fn to_hex(&self) -> String {
                hex::encode(&self.0)
            }

            /// Reads an id from a slice that must be exactly 32 bytes long.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                <[u8; 32]>::try_from(bytes).ok().map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            // Ids are long; 12 hex digits are enough to tell them apart in logs.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($label, "({})"), &self.to_hex()[..12])
            }
        }

        impl FromStr for $name {
            type Err = HexError;
            fn from_str(s: &str) -> Result<Self, HexError> {
                hex::decode_array(s).map(Self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(|e| {
                    serde::de::Error::custom(format!(concat!("bad ", $label, ": {}"), e))
                })
            }
        }
    };
}

hash32!(
    /// A chunk's identity: keyed BLAKE3 of its plaintext under the owner's dedup
    /// key, so equal chunks of one account share an id and nobody else can tell.
    ChunkId,
    "chunk"
);

hash32!(
    /// A shard's address: plain BLAKE3 of its bytes, so a remote can check what it
    /// stores and serves without any key.
    ShardHash,
    "shard"
);

hash32!(
    /// A file's stable identity, chosen at random by the client that first
    /// writes it and kept by every later version, move and restore: what a
    /// directory entry is bound to (docs/SECURITY.md, "Authenticated versions").
    FileId,
    "file"
);

hash32!(
    /// A binding tag: keyed BLAKE3 under the file's binding key, which the
    /// server never holds (docs/FORMAT.md, "Bindings").
    Tag,
    "tag"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_serde_round_trip() {
        let id = ChunkId([7; 32]);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", "07".repeat(32)));
        let back: ChunkId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert_eq!(format!("{id:?}"), "chunk(070707070707)");
    }

    #[test]
    fn rejects_wrong_length_and_characters() {
        assert!("00".parse::<ShardHash>().is_err());
        let err = serde_json::from_str::<ShardHash>(&format!("\"{}\"", "g".repeat(64)));
        assert!(err.unwrap_err().to_string().contains("bad shard"));
        assert_eq!(ShardHash::from_slice(&[1; 31]), None);
    }
}
