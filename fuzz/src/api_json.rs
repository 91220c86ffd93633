//! The JSON bodies of the HTTP APIs: requests the server and remotes read,
//! answers the client reads, and the strings inside them that have rules
//! (paths, schemes, sizes, hex).
//!
//! Input: one byte that picks the type from [`TYPES`], then the text.

use std::fmt::Debug;

use pyxis_proto::api::ErrorBody;
use pyxis_proto::api::admin::*;
use pyxis_proto::api::auth::*;
use pyxis_proto::api::catalog::*;
use pyxis_proto::api::chunks::*;
use pyxis_proto::api::history::*;
use pyxis_proto::api::remote::*;
use pyxis_proto::retention::{Dated, Retention};
use pyxis_proto::size::ByteSize;
use pyxis_proto::{ChunkId, Scheme, hex, path};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A decoded value serialises, and its JSON decodes back to the same value.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(json: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(json) {
        let again = serde_json::to_vec(&v).expect("a decoded value serialises");
        assert_eq!(serde_json::from_slice::<T>(&again).expect("its own JSON decodes"), v);
    }
}

/// A normal path is its own normal form and lies under its parent.
fn path_rules(text: &[u8]) {
    let Ok(text) = std::str::from_utf8(text) else { return };
    if let Ok(p) = path::normalize(text) {
        assert_eq!(path::normalize(&p).as_deref(), Ok(p.as_str()), "normalising is idempotent");
        assert!(p.len() <= path::MAX_PATH + 1);
        if let Some(parent) = path::parent(&p) {
            assert!(path::is_within(&p, parent));
            assert_eq!(path::join(parent, path::name(&p)).as_deref(), Ok(p.as_str()));
        }
    }
}

/// A scheme that parses prints as something that parses to it again.
fn scheme_rules(text: &[u8]) {
    let Ok(text) = std::str::from_utf8(text) else { return };
    if let Ok(s) = text.parse::<Scheme>() {
        assert!(s.data() >= 1 && s.total() <= pyxis_proto::scheme::MAX_SHARDS, "{text:?} gave {s}");
        assert_eq!(s.to_string().parse::<Scheme>(), Ok(s));
    }
}

fn size_rules(text: &[u8]) {
    let Ok(text) = std::str::from_utf8(text) else { return };
    if let Ok(b) = text.parse::<ByteSize>() {
        assert_eq!(b.0.to_string().parse::<ByteSize>(), Ok(b));
    }
}

fn hex_rules(text: &[u8]) {
    let Ok(text) = std::str::from_utf8(text) else { return };
    if let Ok(bytes) = hex::decode(text) {
        assert_eq!(hex::encode(&bytes), text.to_ascii_lowercase());
    }
    if let Ok(id) = text.parse::<ChunkId>() {
        assert_eq!(id.to_hex(), text.to_ascii_lowercase());
    }
}

macro_rules! table {
    ($($t:ident),* $(,)?) => { &[$(table!(@one $t)),*] };
    (@one retention_policy) => { ("retention_policy", retention_policy as fn(&[u8])) };
    (@one $t:ident) => { (stringify!($t), round_trip::<$t> as fn(&[u8])) };
}

/// Every body type, and the string rules, by the selector byte.
pub static TYPES: &[(&str, fn(&[u8]))] =
    &[("path", path_rules as fn(&[u8])), ("scheme", scheme_rules), ("size", size_rules), ("hex", hex_rules)];

pub static BODIES: &[(&str, fn(&[u8]))] = table![
    ErrorBody,
    QuotaRequest,
    RemotesResponse,
    HealthResponse,
    RemoteRequest,
    PreloginRequest,
    PreloginResponse,
    SignupRequest,
    LoginRequest,
    UserInfo,
    SessionResponse,
    Entry,
    ListResponse,
    VersionsResponse,
    FileVersion,
    ReadRequest,
    ReadResponse,
    CommitRequest,
    CommitResponse,
    MkdirRequest,
    MoveRequest,
    RemoveRequest,
    RemoveResponse,
    RestoreRequest,
    NetworkResponse,
    MissingRequest,
    MissingResponse,
    PlaceRequest,
    PlaceResponse,
    ShardTarget,
    ReplaceRequest,
    StoredRequest,
    LocateRequest,
    LocateResponse,
    RegisterRequest,
    RegisterResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    RemoteStatus,
    ReportRequest,
    InventoryRequest,
    InventoryResponse,
    // Added later: appended, so the seeds' selector bytes keep their meaning.
    RemoteTokenRequest,
    RemoteTokenResponse,
    AbandonRequest,
    KeyRotation,
    PasswordChangeRequest,
    RecoveryKeyRequest,
    RecoverRequest,
    RecoverResponse,
    TrashResponse,
    TrashRestoreRequest,
    TrashEmptyRequest,
    TrashEmptyResponse,
    ForgetRequest,
    ForgetResponse,
    RetentionInfo,
    Usage,
    retention_policy,
];

/// A policy from another party (a client's request, a saved row) judges
/// any history without panicking and always keeps the current version.
fn retention_policy(json: &[u8]) {
    round_trip::<Retention>(json);
    let Ok(p) = serde_json::from_slice::<Retention>(json) else { return };
    let _ = (p.check(), p.trash_ms());
    let ats = [i64::MAX, 1_796_040_000_000, 86_400_000, 0, -1, i64::MIN];
    for now in ats {
        let versions: Vec<Dated> = ats.iter().enumerate().map(|(i, &at)| Dated { at, current: i == 2 }).collect();
        let keep = p.keep(&versions, now);
        assert_eq!(keep.len(), versions.len());
        assert!(keep[2], "the current version is kept");
    }
}

/// The check a selector byte picks.
pub fn pick(selector: u8) -> (&'static str, fn(&[u8])) {
    let i = usize::from(selector) % (TYPES.len() + BODIES.len());
    if i < TYPES.len() { TYPES[i] } else { BODIES[i - TYPES.len()] }
}

/// The selector byte of a check, by name (for the seeds).
pub fn selector(name: &str) -> u8 {
    let i = TYPES.iter().chain(BODIES).position(|(n, _)| *n == name).expect("a known name");
    u8::try_from(i).expect("fewer than 256 checks")
}

pub fn run(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    pick(sel).1(rest);
}
