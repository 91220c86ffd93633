//! What the fuzz targets share: the fixed keys they decode with, the framing
//! of inputs that carry several parts, sealing helpers that let a target play
//! a hostile party who holds a key, and the seed inputs ([`seeds`]).
//!
//! Every target asserts what must hold (a decode that succeeds re-encodes to
//! the same bytes, a check that passes implies what it promises), not only
//! that nothing panics. fuzz/run.sh builds and runs them.

pub mod api_json;
pub mod chunk_header;
pub mod client_answers;
pub mod grant;
pub mod manifest;
pub mod remote_signed;
pub mod seeds;
pub mod session_token;
pub mod shard;
pub mod volume_record;
pub mod wrapped_key;

use std::sync::LazyLock;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use pyxis_crypto::keys::{KeyWrappingKey, Keyring, MasterKey};
use pyxis_proto::format::manifest::EnvelopeHeader;

/// The account every target decodes as.
pub const MASTER_KEY: [u8; 32] = [0x11; 32];
/// The password-derived key that wraps [`MASTER_KEY`].
pub const KEY_WRAPPING_KEY: [u8; 32] = [0x22; 32];
/// The file key manifests are sealed with.
pub const FILE_KEY: [u8; 32] = [0x33; 32];
/// The server's grant-signing seed.
pub const GRANT_SEED: [u8; 32] = [0x44; 32];
/// The server's session-signing secret.
pub const SESSION_SECRET: &[u8] = b"pyxis fuzz session secret";
/// The chunk id chunk blobs are opened as (its key comes from the keyring).
pub const CHUNK_ID: [u8; 32] = [0x55; 32];
/// "Now" for grant expiry, fixed so a run is reproducible.
pub const NOW: u64 = 1_800_000_000;

static KEYRING: LazyLock<Keyring> = LazyLock::new(|| Keyring::new(&MasterKey::from_bytes(MASTER_KEY)));

/// The keyring of [`MASTER_KEY`].
pub fn keyring() -> &'static Keyring {
    &KEYRING
}

pub fn key_wrapping_key() -> KeyWrappingKey {
    KeyWrappingKey::from_bytes(KEY_WRAPPING_KEY)
}

/// Runs once as a fuzz binary starts. With `PYXIS_WRITE_SEEDS=DIR` set, it
/// writes every target's seeds under `DIR` and exits instead, so the seeds
/// are made by the build that fuzzes, not a second build of everything.
pub fn init() {
    if let Some(dir) = std::env::var_os("PYXIS_WRITE_SEEDS") {
        let dir = std::path::PathBuf::from(dir);
        match seeds::write(&dir) {
            Ok(()) => println!("seeds written under {}", dir.display()),
            Err(e) => {
                eprintln!("writing seeds under {}: {e}", dir.display());
                std::process::exit(1);
            }
        }
        std::process::exit(0);
    }
}

/// Runs the target named `target` (the file names in `fuzz_targets/`).
pub fn run(target: &str, data: &[u8]) {
    match target {
        "api_json" => api_json::run(data),
        "chunk_header" => chunk_header::run(data),
        "client_answers" => client_answers::run(data),
        "grant" => grant::run(data),
        "manifest" => manifest::run(data),
        "remote_signed" => remote_signed::run(data),
        "session_token" => session_token::run(data),
        "shard" => shard::run(data),
        "volume_record" => volume_record::run(data),
        "wrapped_key" => wrapped_key::run(data),
        _ => panic!("no fuzz target named {target}"),
    }
}

/// Splits an input into parts, each prefixed by its length (u16 LE); a last
/// part shorter than its prefix says takes what is left.
pub fn frames(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let (part, tail) = rest.split_at(n.min(rest.len()));
        out.push(part);
        data = tail;
    }
    out
}

/// The inverse of [`frames`].
pub fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        let n = u16::try_from(p.len()).expect("a framed part is under 64 KiB");
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// AES-256-GCM: ciphertext followed by the tag, as every Pyxis format lays it out.
pub fn seal(key: &[u8; 32], nonce: [u8; 12], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32-byte key"));
    let mut out = plain.to_vec();
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut out)
        .expect("small input");
    out.extend_from_slice(tag.as_ref());
    out
}

/// A sealed manifest around any body bytes, as someone holding [`FILE_KEY`]
/// (the owner, or anyone the file is shared with) could make.
pub fn seal_manifest_body(body: &[u8]) -> Vec<u8> {
    seal_manifest_version(pyxis_proto::format::manifest::VERSION_1, body)
}

/// [`seal_manifest_body`] under an envelope of any version.
pub fn seal_manifest_version(version: u8, body: &[u8]) -> Vec<u8> {
    let nonce = [7; 12];
    let header = EnvelopeHeader { version, nonce }.to_bytes();
    let mut out = header.to_vec();
    out.extend_from_slice(&seal(&FILE_KEY, nonce, &header, body));
    out
}

/// Rewrites a volume record header's checksum so the decoder looks past it,
/// as a torn write that happens to checksum (or a hostile disk) would.
pub fn reseal_record_header(b: &mut [u8; 64]) {
    let sum = blake3::hash(&b[..56]);
    b[56..].copy_from_slice(&sum.as_bytes()[..8]);
}

/// Appends an index snapshot's checksum trailer to `body`.
pub fn seal_snapshot(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(blake3::hash(body).as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kept crash input still passes its target (run.sh runs them
    /// through the fuzz binaries too; this runs them without libFuzzer).
    #[test]
    fn regressions_pass() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
        let Ok(targets) = std::fs::read_dir(&root) else { return };
        for target in targets {
            let target = target.unwrap();
            let name = target.file_name().into_string().unwrap();
            for input in std::fs::read_dir(target.path()).unwrap() {
                let path = input.unwrap().path();
                if path.file_name().is_some_and(|n| n != ".gitkeep") {
                    run(&name, &std::fs::read(&path).unwrap());
                }
            }
        }
    }

    #[test]
    fn frames_round_trip_and_tolerate_any_tail() {
        let parts: [&[u8]; 3] = [b"one", b"", b"three"];
        assert_eq!(frames(&frame(&parts)), parts);
        assert_eq!(frames(&[5, 0, 1, 2]), [&[1u8, 2][..]]);
        assert!(frames(&[9]).is_empty());
    }
}
