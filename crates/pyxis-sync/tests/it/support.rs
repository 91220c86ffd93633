use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pyxis_sync::{Folder, FolderOptions, PassReport};
use pyxis_testkit::Cluster;

/// One device of `user`: its own login, config directory and folder.
pub struct Device {
    pub name: String,
    pub root: PathBuf,
    pub folder: Folder,
    pub config: pyxis_client::ConfigDir,
}

impl Device {
    pub async fn new(c: &Cluster, user: &str, name: &str, remote: &str) -> Device {
        Self::at(c, &c.url(), user, name, remote).await
    }

    /// A device that talks to the server at `url` (a hostile proxy).
    pub async fn at(c: &Cluster, url: &str, user: &str, name: &str, remote: &str) -> Device {
        let config = c.device(&format!("{user}-{name}"));
        pyxis_client::account::login(&config, url, user, "pw").await.unwrap();
        let client = pyxis_client::Client::open(&config, None, Default::default()).unwrap();
        let root = c.dir.path().join(format!("sync-{user}-{name}"));
        let mut o = FolderOptions::new(&root);
        o.remote = Some(remote.to_owned());
        o.device = Some(name.to_owned());
        let folder = Folder::open(&config, client, o).await.unwrap();
        Device { name: name.to_owned(), root, folder, config }
    }

    /// Opens the folder again (as a restarted daemon would).
    pub async fn reopen(&mut self, allow_deletes: bool) {
        let client = pyxis_client::Client::open(&self.config, None, Default::default()).unwrap();
        let mut o = FolderOptions::new(&self.root);
        o.device = Some(self.name.clone());
        o.allow_deletes = allow_deletes;
        self.folder = Folder::open(&self.config, client, o).await.unwrap();
    }

    /// Syncs until settled; fails the test on a pass error or a file that
    /// did not sync.
    pub async fn sync(&mut self) -> PassReport {
        let r = self.folder.sync().await.unwrap_or_else(|e| panic!("{}: {e}", self.name));
        assert!(r.failed.is_empty(), "{}: {:?}", self.name, r.failed);
        r
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, data: &[u8]) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("{}: {rel}: {e}", self.name))
    }

    pub fn tree(&self) -> BTreeMap<String, Node> {
        tree(&self.root)
    }
}

/// What a path is, as a user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File { data: Vec<u8>, mode: u32 },
    Link(PathBuf),
    Dir,
}

/// Every path under `root` but the `.pyxis` directory.
pub fn tree(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    walk(root, "", &mut out);
    out
}

fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Node>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if rel.is_empty() && name == ".pyxis" {
            continue;
        }
        let r = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        if m.file_type().is_symlink() {
            out.insert(r, Node::Link(std::fs::read_link(e.path()).unwrap()));
        } else if m.is_dir() {
            out.insert(r.clone(), Node::Dir);
            walk(&e.path(), &r, out);
        } else {
            out.insert(r, Node::File { data: std::fs::read(e.path()).unwrap(), mode: m.permissions().mode() & 0o777 });
        }
    }
}

/// A cluster with `user` signed up.
pub async fn cluster(user: &str) -> Cluster {
    let c = Cluster::start(4).await.unwrap();
    c.signup(user, "pw").await.unwrap();
    c
}

pub fn conflict_copies(t: &BTreeMap<String, Node>) -> Vec<&String> {
    t.keys().filter(|k| k.contains(" (conflict from ")).collect()
}
