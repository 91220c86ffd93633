//! Putting files in place on the local disk: each through a temporary name
//! in its own directory, renamed when complete (no file is ever partial
//! under its name), with its mode and time; links last.

use std::path::{Path, PathBuf};

use pyxis_proto::format::manifest::{Attrs, NodeKind};
use tokio::sync::mpsc;

use crate::progress::Progress;
use crate::put::plan::Skipped;
use crate::version::Landed;

pub(crate) fn temp_path(dst: &Path) -> PathBuf {
    let name = dst.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut rnd = [0u8; 6];
    let _ = pyxis_crypto::keys::random_salt().map(|s| rnd.copy_from_slice(&s[..6]));
    dst.with_file_name(format!(".{name}.pyxis-{}", pyxis_proto::hex::encode(&rnd)))
}

/// A modification time in catalog milliseconds as a `SystemTime`.
pub fn system_time(ms: i64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64)
}

/// The permission bits a version's file gets: its own, without setuid,
/// setgid and sticky (another writer of a share, or a lying server that
/// swapped in an older version, must not hand out a setuid program; `tar`
/// without `-p` drops them too). A version without attributes keeps what
/// the file was created with.
pub fn local_mode(attrs: Option<Attrs>) -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    attrs.filter(|a| a.kind == NodeKind::File).map(|a| std::fs::Permissions::from_mode(u32::from(a.mode) & 0o777))
}

/// Creates symbolic link `dst` to `target` (under a temporary name, then
/// renamed into place) with modification time `mtime`. The link is never
/// followed: its target may point anywhere, as any link can.
pub fn place_link(target: &[u8], dst: &Path, mtime: i64) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let tmp = temp_path(dst);
    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), &tmp)?;
    let t = rustix::fs::Timespec { tv_sec: mtime.div_euclid(1000), tv_nsec: mtime.rem_euclid(1000) * 1_000_000 };
    let times = rustix::fs::Timestamps { last_access: t, last_modification: t };
    let done = rustix::fs::utimensat(rustix::fs::CWD, &tmp, &times, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
        .map_err(std::io::Error::from)
        .and_then(|()| std::fs::rename(&tmp, dst));
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// A small file's bytes, ready to write.
pub(crate) struct Assembled {
    pub path: String,
    pub version: i64,
    pub content_hash: String,
    pub local: PathBuf,
    pub mtime: i64,
    pub attrs: Option<Attrs>,
    pub data: Vec<u8>,
}

impl Assembled {
    fn landed(&self) -> Landed {
        Landed { path: self.path.clone(), version: self.version, content_hash: self.content_hash.clone() }
    }
}

/// The writer thread: temp file, bytes, mode, time, rename, for each file
/// in turn. Links are returned, not made: they are placed after every file
/// (see [`place_links`]).
pub(crate) fn write_small_files(
    mut rx: mpsc::Receiver<Vec<Assembled>>,
    progress: &Progress,
    direct: bool,
) -> (Vec<Landed>, Vec<Skipped>, Vec<Assembled>) {
    let (mut written, mut failed, mut links) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(batch) = rx.blocking_recv() {
        for a in batch {
            if a.attrs.is_some_and(|a| a.kind == NodeKind::Symlink) {
                links.push(a);
                continue;
            }
            let tmp = if direct { a.local.clone() } else { temp_path(&a.local) };
            let mtime = system_time(a.mtime);
            let result = (|| {
                let f = std::fs::File::create(&tmp)?;
                std::io::Write::write_all(&mut &f, &a.data)?;
                if let Some(m) = local_mode(a.attrs) {
                    f.set_permissions(m)?;
                }
                f.set_modified(mtime)?;
                if direct { Ok(()) } else { std::fs::rename(&tmp, &a.local) }
            })();
            match result {
                Ok(()) => {
                    written.push(a.landed());
                    Progress::add(&progress.files, 1);
                    Progress::add(&progress.done, a.data.len() as u64);
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    failed.push(Skipped { path: a.path, error: format!("{}: {e}", a.local.display()) });
                }
            }
        }
    }
    (written, failed, links)
}

/// Places a tree's links once all its files are written. A listing from a
/// hostile server could name `a` as a link to `/etc` and `a/passwd` as a
/// file: made first, the link would carry that file's write out of the
/// destination. Made last, no write of this get passes through a link it
/// made, and a link listed where a directory is fails to replace it.
pub(crate) fn place_links(links: Vec<Assembled>, progress: &Progress) -> (Vec<Landed>, Vec<Skipped>) {
    let (mut written, mut failed) = (Vec::new(), Vec::new());
    for a in links {
        match place_link(&a.data, &a.local, a.mtime) {
            Ok(()) => {
                written.push(a.landed());
                Progress::add(&progress.files, 1);
                Progress::add(&progress.done, a.data.len() as u64);
            }
            Err(e) => failed.push(Skipped { path: a.path, error: format!("{}: {e}", a.local.display()) }),
        }
    }
    (written, failed)
}
