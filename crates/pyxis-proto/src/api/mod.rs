//! JSON bodies of the Pyxis HTTP APIs (docs/PROTOCOL.md describes the routes).
//!
//! Binary fields travel as standard base64, ids and hashes as hex.

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod chunks;
pub mod remote;

use serde::{Deserialize, Serialize};

/// The body of every error response: a stable machine-readable `code` and a
/// sentence for people.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
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
