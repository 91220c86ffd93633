//! A share made to this user, opened: what reads and writes through it use
//! (its key, the owner's pinned public key, whether it may be written).

use pyxis_crypto::binding::BindingKey;
use pyxis_crypto::keys::FileKey;
use pyxis_crypto::share::ShareKey;
use pyxis_proto::FileId;
use pyxis_proto::api::shares::{ShareInfo, ShareMode, ShareWrap};

use crate::error::{ClientError, Result};

/// A share made to this user, with its key open: what reads (and, through
/// a write share, writes) through it use.
pub struct SharedTree {
    pub info: ShareInfo,
    key: ShareKey,
    /// The owner's public key, as pinned.
    owner_public: [u8; 32],
}

impl std::fmt::Debug for SharedTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTree").field("id", &self.info.id).field("owner", &self.info.owner).finish()
    }
}

impl SharedTree {
    pub(super) fn new(info: ShareInfo, key: ShareKey, owner_public: [u8; 32]) -> Self {
        SharedTree { info, key, owner_public }
    }

    pub(crate) fn owner_public(&self) -> &[u8; 32] {
        &self.owner_public
    }

    /// Writing through this share: only a write share allows it.
    pub(crate) fn writable(&self) -> Result<()> {
        match self.info.mode {
            ShareMode::Write => Ok(()),
            ShareMode::Read => Err(ClientError::Invalid(format!(
                "{} shares {} with you to read only",
                self.info.owner, self.info.path
            ))),
        }
    }

    /// This share's wrap of a version written through it.
    pub(crate) fn wrap_version(
        &self,
        file_id: &FileId,
        version: i64,
        file: &FileKey,
        binding: &BindingKey,
    ) -> Result<ShareWrap> {
        Ok(ShareWrap { share: self.info.id, wrapped: self.key.wrap_version(file_id, version, file, binding)? })
    }

    /// The keys of version `version` of `file_id` (at `path`), from the
    /// share wrap the server passed on.
    pub(crate) fn open(
        &self,
        path: &str,
        file_id: &FileId,
        version: i64,
        wrap: Option<&[u8]>,
    ) -> Result<(FileKey, BindingKey)> {
        let owner = &self.info.owner;
        let wrap = wrap.ok_or_else(|| {
            ClientError::Invalid(format!(
                "{path}: {owner} has not given you the keys of version {version} (they can run `pyxis share {} {}` \
                 again)",
                self.info.path, self.info.grantee
            ))
        })?;
        self.key.open_version(wrap, file_id, version).map_err(|_| ClientError::Tampered {
            path: path.to_owned(),
            why: format!("its keys from {owner} do not open for version {version} of this file"),
        })
    }
}
