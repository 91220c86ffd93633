//! The client's reading of server answers: error bodies, the login
//! parameters, a file version's key and manifest, listed paths, the wrapped
//! master key. A hostile server chooses every byte here.
//!
//! Input: one byte that picks the answer, then its body.

use std::cell::RefCell;
use std::path::{Component, Path};

use pyxis_client::ClientError;
use pyxis_client::api::error_from_answer;
use pyxis_client::get::local_path;
use pyxis_client::version::open_version;
use pyxis_core::codec::ChunkCodec;
use pyxis_crypto::keys::{KdfParams, MasterKey, unwrap_master_key};
use pyxis_proto::api::ErrorBody;
use pyxis_proto::api::auth::{PreloginResponse, SessionResponse};
use pyxis_proto::api::catalog::FileVersion;
use pyxis_proto::format::manifest::ManifestBody;
use reqwest::StatusCode;

use crate::{MASTER_KEY, key_wrapping_key, keyring};

thread_local! {
    static CODEC: RefCell<ChunkCodec> = RefCell::new(ChunkCodec::new().expect("zstd contexts"));
}

/// Where the listing answers are written under.
pub const DESTINATION: &str = "/fuzz/destination";

pub const ERROR: u8 = 0;
pub const PRELOGIN: u8 = 1;
pub const FILE_VERSION: u8 = 2;
pub const LISTED_PATH: u8 = 3;
pub const SESSION: u8 = 4;
const ANSWERS: u8 = 5;

pub fn run(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else { return };
    match sel % ANSWERS {
        ERROR => error(body),
        PRELOGIN => prelogin(body),
        FILE_VERSION => file_version(body),
        LISTED_PATH => listed_path(body),
        _ => session(body),
    }
}

/// A non-success answer: two bytes of status, then the body.
fn error(data: &[u8]) {
    let Some((status, body)) = data.split_first_chunk::<2>() else { return };
    let status = StatusCode::from_u16(u16::from_le_bytes(*status) % 900 + 100).expect("100..=999");
    let text = String::from_utf8_lossy(body);
    let ClientError::Api { status: s, code, message } = error_from_answer(status, &text) else {
        panic!("an error answer is an API error");
    };
    assert_eq!(s, status.as_u16());
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => assert_eq!((code, message), (b.code, b.message)),
        Err(_) => {
            assert_eq!(code, pyxis_proto::api::ErrorCode::Unknown);
            assert!(message.chars().count() <= 200 + format!("HTTP {status}: ").chars().count());
        }
    }
}

/// The salt and Argon2 parameters a login starts from.
fn prelogin(data: &[u8]) {
    let Ok(pre) = serde_json::from_slice::<PreloginResponse>(data) else { return };
    let _ = pyxis_proto::hex::decode(&pre.salt);
    let kdf =
        KdfParams { memory_kib: pre.kdf.memory_kib, iterations: pre.kdf.iterations, parallelism: pre.kdf.parallelism };
    if kdf.validate().is_ok() {
        // What the client will then spend: at most 1 GiB and 64 passes.
        assert!(kdf.memory_kib <= 1 << 20 && kdf.iterations <= 64 && kdf.parallelism <= 16);
    }
}

/// A read answer: the file key and manifest open, and the body agrees with
/// the catalog.
fn file_version(data: &[u8]) {
    let Ok(fv) = serde_json::from_slice::<FileVersion>(data) else { return };
    static OPENER: std::sync::LazyLock<pyxis_client::trust::binding::Opener> =
        std::sync::LazyLock::new(|| pyxis_client::trust::binding::Opener::own(keyring().clone()));
    let Ok(pyxis_proto::format::manifest::Manifest { body, .. }) = open_version(&OPENER, &fv) else { return };
    assert_eq!(body.size(), fv.info.size);
    if let ManifestBody::Inline { size, compression, stored } = &body
        && let Ok(out) = CODEC.with_borrow_mut(|c| c.decompress_inline(*compression, stored, *size))
    {
        assert_eq!(out.len() as u64, *size);
    }
}

/// A listing of `src` (first line) names `path` (the rest): where it lands
/// must be under the destination.
fn listed_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (src, path) = text.split_once('\n').unwrap_or(("/", text));
    let dst = Path::new(DESTINATION);
    if let Ok(local) = local_path(src, dst, path) {
        let rel = local.strip_prefix(dst).expect("under the destination");
        assert!(rel.components().all(|c| matches!(c, Component::Normal(_))), "{path:?} became {local:?}");
    }
}

/// A login answer: only the master key this password wrapped opens.
fn session(data: &[u8]) {
    let Ok(resp) = serde_json::from_slice::<SessionResponse>(data) else { return };
    if let Ok((master, _bound)) = unwrap_master_key(&resp.wrapped_master_key, &key_wrapping_key()) {
        assert_eq!(master, MasterKey::from_bytes(MASTER_KEY));
    }
}
