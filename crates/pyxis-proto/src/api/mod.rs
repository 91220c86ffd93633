//! JSON bodies of the Pyxis HTTP APIs (docs/PROTOCOL.md describes the routes).
//!
//! Binary fields travel as standard base64, ids and hashes as hex.

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod changes;
pub mod chunks;
pub mod error;
pub mod history;
pub mod remote;
pub mod shares;

use serde::{Deserialize, Serialize};

pub use error::ErrorCode;

/// The body of every error response: a stable machine-readable `code` and a
/// sentence for people.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// How many items one request may carry. The decoder stops at the first
/// item past the limit (see [`at_most`]), and the server checks again with
/// a named error code.
pub mod max {
    /// Chunks in one chunk call (`missing`, `place`, `stored`, `abandon`, `locate`).
    pub const CHUNKS: usize = 1024;
    /// Files in one commit, paths in one read.
    pub const FILES: usize = 10_000;
    /// Shard hashes in one inventory or report batch from a remote.
    pub const HASHES: usize = 10_000;
    /// Shards of one chunk (a scheme's n), receipts of one chunk.
    pub const SHARDS: usize = 255;
    /// Remotes a client reports as failed for one shard.
    pub const FAILED: usize = 64;
    /// Files re-bound by one move: a directory rename stays one call (about
    /// 150 bytes a file, inside the catalog routes' 32 MiB body limit).
    pub const MOVED: usize = 200_000;
}

/// Serde helper: a JSON array of at most `N` items. Decoding stops at item
/// N+1, before it is built, so a request of a few MiB cannot make the
/// server allocate ten times that in decoded items before its length is
/// checked. Use as `#[serde(deserialize_with = "at_most::<N, _, _>")]`.
pub fn at_most<'de, const N: usize, T, D>(d: D) -> Result<Vec<T>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    struct Bounded<const N: usize, T>(std::marker::PhantomData<T>);

    impl<'de, const N: usize, T: Deserialize<'de>> serde::de::Visitor<'de> for Bounded<N, T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "an array of at most {N} items")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(N).min(1024));
            while let Some(item) = seq.next_element()? {
                if out.len() == N {
                    return Err(serde::de::Error::custom(format!("more than {N} items in one array (the limit)")));
                }
                out.push(item);
            }
            Ok(out)
        }
    }

    d.deserialize_seq(Bounded::<N, T>(std::marker::PhantomData))
}

/// Serde helper: `Vec<u8>` as standard base64.
pub mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD.decode(s.as_bytes()).map_err(|e| serde::de::Error::custom(format!("bad base64: {e}")))
    }
}

/// Serde helper: `Option<Vec<u8>>` as standard base64 (absent: `None`;
/// use with `default` and `skip_serializing_if = "Option::is_none"`).
pub mod b64opt {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::b64::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        super::b64::deserialize(d).map(Some)
    }
}

/// Serde helper: `[u8; 32]` as hex.
pub mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        crate::hex::decode_array(&s).map_err(|e| serde::de::Error::custom(format!("bad hex: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Three {
        #[serde(deserialize_with = "at_most::<3, _, _>")]
        items: Vec<String>,
    }

    #[test]
    fn arrays_past_their_limit_are_refused_while_decoding() {
        let ok: Three = serde_json::from_str(r#"{"items":["a","b","c"]}"#).unwrap();
        assert_eq!(ok.items.len(), 3);
        let e = serde_json::from_str::<Three>(r#"{"items":["a","b","c","d"]}"#).unwrap_err();
        assert!(e.to_string().contains("more than 3 items"), "{e}");
        // A long array of the wrong type is refused at its first item.
        assert!(serde_json::from_str::<Three>(r#"{"items":[1,2,3,4,5]}"#).is_err());
        assert!(serde_json::from_str::<Three>(r#"{"items":"abc"}"#).unwrap_err().to_string().contains("at most 3"));
    }
}
