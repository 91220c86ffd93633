//! The server's secrets at rest: the grant-signing seed (whoever holds it can
//! make every remote delete every shard), the session key and the admin
//! token's hash. On SQLite they live in `catalog.db` in the data directory,
//! so that directory must be the server user's alone: it is made 0700 and
//! the catalog 0600, and the server refuses to start if either is wider. On
//! PostgreSQL they live in the database, shared by every server instance.
//! A catalog backup carries them, so a restored server keeps its remotes.

use std::path::Path;

use pyxis_crypto::grants::GrantSigner;
use pyxis_proto::api::remote::KeyRotation;
use pyxis_proto::hex;

use crate::db::Db;
use crate::error::StartError;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StartError + '_ {
    move |source| StartError::Io { path: path.to_owned(), source }
}

/// Files of the data directory that hold secrets (SQLite and its WAL files,
/// the admin token).
const SECRET_FILES: [&str; 4] = ["catalog.db", "catalog.db-wal", "catalog.db-shm", "admin-token"];

/// Creates the data directory owner-only, and for SQLite an empty catalog
/// file 0600 before SQLite opens it (SQLite gives its WAL and shared-memory
/// files the catalog's own permissions).
pub fn prepare_data_dir(dir: &Path, sqlite: bool) -> Result<(), StartError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
    }
    if sqlite {
        let db = dir.join("catalog.db");
        if !db.exists() {
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&db).map_err(io(&db))?;
        }
    }
    Ok(())
}

/// Refuses a data directory or secret file that other users of this machine
/// can read or write.
pub fn check_private(dir: &Path) -> Result<(), StartError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
    let dir_mode = mode(dir).map_err(io(dir))?;
    if dir_mode & 0o077 != 0 {
        return Err(StartError::DataDir {
            path: dir.to_owned(),
            why: format!(
                "is mode {dir_mode:04o}: other users of this machine can reach the catalog, which holds the \
                 server's grant-signing key. Run `chmod 700 {}` (and `chmod 600` on its files). If anyone else \
                 could have read it, treat the key as leaked: start on a new data directory and re-admit the \
                 remotes with `pyxis admin remote-token`",
                dir.display()
            ),
        });
    }
    for name in SECRET_FILES {
        let path = dir.join(name);
        match mode(&path) {
            Ok(m) if m & 0o077 != 0 => {
                return Err(StartError::DataDir {
                    why: format!(
                        "is mode {m:04o}: other users of this machine can read the server's secrets. \
                         Run `chmod 600 {}`",
                        path.display()
                    ),
                    path,
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    Ok(())
}

/// The grant signer, created on first start, and the chain of rotations
/// remotes need to follow it. With `rotate`, a new key replaces the current
/// one first, endorsed by it.
pub async fn grant_key(db: &Db, rotate: bool) -> Result<(GrantSigner, Vec<KeyRotation>), StartError> {
    let fresh = || GrantSigner::generate_seed().map(|s| s.to_vec()).unwrap_or_default();
    let seed = db.server_key("grant_seed", fresh).await.map_err(StartError::db("reading the grant seed"))?;
    let seed: [u8; 32] =
        seed.as_slice().try_into().map_err(|_| StartError::Secret("the stored grant seed is not 32 bytes".into()))?;
    let mut signer = GrantSigner::from_seed(&seed)?;
    if rotate {
        let new_seed = GrantSigner::generate_seed()?;
        let next = GrantSigner::from_seed(&new_seed)?;
        let endorsement = signer.endorse(&next.public_key());
        let rotated = db
            .rotate_grant_seed(&seed, &new_seed, &signer.public_key(), &next.public_key(), &endorsement)
            .await
            .map_err(StartError::db("rotating the grant key"))?;
        if !rotated {
            return Err(StartError::Secret(
                "the grant key changed while rotating it (another server instance rotated it): start again".into(),
            ));
        }
        tracing::warn!(
            old = %hex::encode(&signer.public_key()),
            new = %hex::encode(&next.public_key()),
            "grant key rotated; remotes follow it with their next heartbeat"
        );
        signer = next;
    }
    let rotations = db
        .grant_rotations()
        .await
        .map_err(StartError::db("reading the grant key's rotations"))?
        .into_iter()
        .map(|(previous, key, endorsement)| KeyRotation {
            previous: hex::encode(&previous),
            key: hex::encode(&key),
            endorsement: hex::encode(&endorsement),
        })
        .collect();
    Ok((signer, rotations))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_fresh_data_directory_is_private_and_a_wide_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("server");
        prepare_data_dir(&dir, true).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("catalog.db")), 0o600);
        check_private(&dir).unwrap();

        std::fs::set_permissions(dir.join("catalog.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = check_private(&dir).unwrap_err().to_string();
        assert!(err.contains("catalog.db is mode 0644") && err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(dir.join("catalog.db"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = check_private(&dir).unwrap_err().to_string();
        assert!(err.contains("mode 0755") && err.contains("grant-signing key"), "{err}");
    }
}
