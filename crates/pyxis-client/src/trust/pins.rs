//! Other users' public keys as this device first saw them (trust on first
//! use, like SSH's `known_hosts`). A share is wrapped to, or checked
//! against, the pinned key only: a server that hands out another key for a
//! user later is refused, by name, until the user compares fingerprints and
//! runs `pyxis trust USER FINGERPRINT`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use pyxis_proto::hex;
use serde::{Deserialize, Serialize};

use crate::account::key_fingerprint;
use crate::error::{ClientError, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pin {
    #[serde(with = "pyxis_proto::api::hex32")]
    key: [u8; 32],
    /// Unix milliseconds.
    pinned_at: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PinFile {
    users: BTreeMap<String, Pin>,
}

/// The pins of one account on one server (`CONFIG/pins/`).
#[derive(Debug, Default)]
pub struct Pins {
    file: Option<PathBuf>,
    pins: Mutex<PinFile>,
}

/// What checking a served key found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned {
    /// The key matches the one pinned before.
    Known,
    /// No key was pinned: this one is now.
    New,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Fingerprints compare without their spaces and case.
fn same_fingerprint(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
    norm(a) == norm(b)
}

impl Pins {
    /// Loads the pins (a missing file is none; an unreadable one an error,
    /// so that a damaged file cannot turn pinning off).
    pub fn load(file: Option<PathBuf>) -> Result<Self> {
        let pins = match &file {
            Some(f) => match std::fs::read(f) {
                Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                    ClientError::Invalid(format!(
                        "{}: unreadable ({e}); it holds the public keys you pinned",
                        f.display()
                    ))
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => PinFile::default(),
                Err(e) => return Err(ClientError::io(f.display(), e)),
            },
            None => PinFile::default(),
        };
        Ok(Self { file, pins: Mutex::new(pins) })
    }

    fn save(&self, pins: &PinFile) -> Result<()> {
        let Some(f) = &self.file else { return Ok(()) };
        if let Some(dir) = f.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ClientError::io(dir.display(), e))?;
        }
        let json = serde_json::to_vec_pretty(pins).map_err(|e| ClientError::Invalid(e.to_string()))?;
        crate::config::write_private(f, &json)
    }

    /// Checks the key the server hands out for `user` against the pin,
    /// pinning it if there is none. `expected`: a fingerprint the user got
    /// from the other person, which the key must match too.
    pub fn check(&self, user: &str, served: &[u8; 32], expected: Option<&str>) -> Result<Pinned> {
        let fp = key_fingerprint(served);
        if let Some(want) = expected
            && !same_fingerprint(want, &fp)
        {
            return Err(ClientError::Tampered {
                path: format!("the public key of {user}"),
                why: format!("the server hands out a key with fingerprint {fp}, not the {want} you gave"),
            });
        }
        let mut pins = self.pins.lock().unwrap_or_else(|e| e.into_inner());
        match pins.users.get(user) {
            Some(p) if p.key == *served => Ok(Pinned::Known),
            Some(p) => Err(ClientError::Tampered {
                path: format!("the public key of {user}"),
                why: format!(
                    "the server now hands out a key with fingerprint {fp}, but this device pinned {} for {user}: \
                     a substituted key, or {user} made a new account. Compare with {user} (`pyxis whoami \
                     --fingerprint`), then `pyxis trust {user} FINGERPRINT`",
                    key_fingerprint(&p.key)
                ),
            }),
            None => {
                pins.users.insert(user.to_owned(), Pin { key: *served, pinned_at: now_ms() });
                self.save(&pins)?;
                Ok(Pinned::New)
            }
        }
    }

    /// Pins `served` for `user` in place of any earlier key, if its
    /// fingerprint is the one given (`pyxis trust`).
    pub fn trust(&self, user: &str, served: &[u8; 32], fingerprint: &str) -> Result<()> {
        let fp = key_fingerprint(served);
        if !same_fingerprint(fingerprint, &fp) {
            return Err(ClientError::Tampered {
                path: format!("the public key of {user}"),
                why: format!("the server hands out a key with fingerprint {fp}, not {fingerprint}: nothing pinned"),
            });
        }
        let mut pins = self.pins.lock().unwrap_or_else(|e| e.into_inner());
        pins.users.insert(user.to_owned(), Pin { key: *served, pinned_at: now_ms() });
        self.save(&pins)
    }

    /// The pinned key of `user`, if any (hex, for `pyxis shared`).
    pub fn pinned(&self, user: &str) -> Option<String> {
        self.pins.lock().unwrap_or_else(|e| e.into_inner()).users.get(user).map(|p| hex::encode(&p.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_key_is_pinned_a_different_one_refused_until_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pins.json");
        let pins = Pins::load(Some(file.clone())).unwrap();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(pins.check("bob", &a, None).unwrap(), Pinned::New);
        // Kept on disk: another command on this device knows the pin.
        let again = Pins::load(Some(file.clone())).unwrap();
        assert_eq!(again.check("bob", &a, None).unwrap(), Pinned::Known);
        let e = again.check("bob", &b, None).unwrap_err().to_string();
        assert!(e.contains("pinned") && e.contains(&key_fingerprint(&a)) && e.contains(&key_fingerprint(&b)), "{e}");
        // A fingerprint given on the command line must match too.
        let e = again.check("carol", &b, Some(&key_fingerprint(&a))).unwrap_err().to_string();
        assert!(e.contains("not the"), "{e}");
        assert!(again.pinned("carol").is_none());
        assert!(again.trust("bob", &b, &key_fingerprint(&a)).is_err());
        again.trust("bob", &b, &key_fingerprint(&b).to_uppercase()).unwrap();
        assert_eq!(Pins::load(Some(file)).unwrap().check("bob", &b, None).unwrap(), Pinned::Known);
    }
}
