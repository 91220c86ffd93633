//! The model the simulated engine runs against: a map per device for the
//! disk and one for the server, with the real server's rules (a write names
//! the version it replaces; a move fails onto an existing path; a directory
//! is removed only empty).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use pyxis_sync::engine::{Done, Io, Outcome, Result, Scan, SyncError};
use pyxis_sync::model::{Base, Bases, Kind, Local, Remote, Remotes, Stat, parent, within};

pub fn hash(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

#[derive(Debug, Default)]
pub struct Server {
    pub files: BTreeMap<String, (i64, Vec<u8>, String)>,
    pub dirs: BTreeSet<String>,
    /// Every content ever committed.
    pub history: BTreeSet<Vec<u8>>,
    pub next_id: u64,
}

impl Server {
    fn make_parents(&mut self, rel: &str) {
        let mut p = parent(rel);
        while !p.is_empty() {
            self.dirs.insert(p.to_owned());
            p = parent(p);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File { data: Vec<u8>, inode: u64, mtime: i64 },
    Dir,
}

pub struct Device {
    pub fs: BTreeMap<String, Node>,
    /// The persisted state (what survives a crash).
    pub saved: Bases,
    pub bases: Bases,
    pub online: bool,
    /// Mutating operations left before this pass "crashes".
    pub budget: Option<usize>,
    pub clock: Rc<RefCell<i64>>,
    pub next_inode: u64,
    pub server: Rc<RefCell<Server>>,
}

impl Device {
    pub fn tick(&mut self) -> i64 {
        *self.clock.borrow_mut() += 1;
        *self.clock.borrow()
    }

    fn spend(&mut self) -> Result<()> {
        match &mut self.budget {
            Some(0) => Err(SyncError::Local("crashed".into())),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn stat(&self, rel: &str) -> Option<Stat> {
        match self.fs.get(rel) {
            Some(Node::File { data, inode, mtime }) => {
                Some(Stat { size: data.len() as u64, mtime_ns: *mtime, inode: *inode, mode: 0o644 })
            }
            _ => None,
        }
    }

    /// Writes a file as the user or the engine does: parents made, a new
    /// inode (a write through a temporary file and a rename).
    pub fn put_file(&mut self, rel: &str, data: Vec<u8>) -> bool {
        let mut p = parent(rel);
        let mut parents = Vec::new();
        while !p.is_empty() {
            match self.fs.get(p) {
                Some(Node::File { .. }) => return false,
                Some(Node::Dir) => {}
                None => parents.push(p.to_owned()),
            }
            p = parent(p);
        }
        if matches!(self.fs.get(rel), Some(Node::Dir)) {
            return false;
        }
        for d in parents {
            self.fs.insert(d, Node::Dir);
        }
        self.next_inode += 1;
        let (inode, mtime) = (self.next_inode, self.tick());
        self.fs.insert(rel.to_owned(), Node::File { data, inode, mtime });
        true
    }

    /// `mkdir -p`: false if a file is in the way or nothing was made.
    pub fn mkdir_p(&mut self, rel: &str) -> bool {
        let mut p = rel;
        let mut make = Vec::new();
        while !p.is_empty() {
            match self.fs.get(p) {
                Some(Node::File { .. }) => return false,
                Some(Node::Dir) => {}
                None => make.push(p.to_owned()),
            }
            p = parent(p);
        }
        let made = !make.is_empty();
        for d in make {
            self.fs.insert(d, Node::Dir);
        }
        made
    }

    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        if !self.fs.contains_key(from) || self.fs.contains_key(to) || within(to, from) {
            return false;
        }
        if !parent(to).is_empty() && !matches!(self.fs.get(parent(to)), Some(Node::Dir)) {
            return false;
        }
        let moving: Vec<String> = self.fs.keys().filter(|k| within(k, from)).cloned().collect();
        for k in moving {
            let n = self.fs.remove(&k).expect("listed");
            self.fs.insert(format!("{to}{}", &k[from.len()..]), n);
        }
        true
    }
}

impl Io for Device {
    async fn scan(&mut self, bases: &Bases) -> Result<Scan> {
        let _ = bases;
        let mut scan = Scan::default();
        for (rel, n) in &self.fs {
            let l = match n {
                Node::Dir => Local { kind: Kind::Dir, stat: Stat::default(), hash: None, busy: false },
                Node::File { data, .. } => Local {
                    kind: Kind::File,
                    stat: self.stat(rel).expect("a file"),
                    hash: Some(hash(data)),
                    busy: false,
                },
            };
            scan.locals.insert(rel.clone(), l);
        }
        Ok(scan)
    }

    async fn list(&mut self) -> Result<Remotes> {
        let s = self.server.borrow();
        let mut out = Remotes::new();
        for d in &s.dirs {
            out.insert(d.clone(), Remote::dir());
        }
        for (rel, (v, data, id)) in &s.files {
            let r = Remote {
                kind: Kind::File,
                version: *v,
                hash: Some(hash(data)),
                file_id: Some(id.clone()),
                size: data.len() as u64,
                refused: None,
            };
            out.insert(rel.clone(), r);
        }
        Ok(out)
    }

    async fn upload(&mut self, items: &[(String, Option<i64>, Stat)]) -> Result<Vec<Outcome>> {
        let mut out = Vec::new();
        for (rel, head, stat) in items {
            self.spend()?;
            let Some(Node::File { data, .. }) = self.fs.get(rel).cloned() else {
                out.push(Outcome::Failed { rel: rel.clone(), why: "gone".into() });
                continue;
            };
            let mut s = self.server.borrow_mut();
            let current = s.files.get(rel).map(|f| f.0);
            if current != *head || s.dirs.contains(rel) || s.files.contains_key(parent(rel)) {
                out.push(Outcome::Failed { rel: rel.clone(), why: "changed on the server".into() });
                continue;
            }
            let id = match s.files.get(rel) {
                Some(f) => f.2.clone(),
                None => {
                    s.next_id += 1;
                    format!("id{}", s.next_id)
                }
            };
            let version = current.unwrap_or(0) + 1;
            s.history.insert(data.clone());
            s.make_parents(rel);
            s.files.insert(rel.clone(), (version, data.clone(), id));
            let base = Base { kind: Kind::File, hash: Some(hash(&data)), version, file_id: None, stat: Some(*stat) };
            out.push(Outcome::Landed { rel: rel.clone(), base });
        }
        Ok(out)
    }

    async fn download(&mut self, items: &[(String, Option<Stat>, Option<i64>)]) -> Result<Vec<Outcome>> {
        let mut out = Vec::new();
        for (rel, want, _) in items {
            self.spend()?;
            let file = self.server.borrow().files.get(rel).cloned();
            let Some((version, data, _)) = file else {
                out.push(Outcome::Failed { rel: rel.clone(), why: "gone on the server".into() });
                continue;
            };
            if self.stat(rel) != *want || (want.is_none() && self.fs.contains_key(rel)) {
                out.push(Outcome::Failed { rel: rel.clone(), why: "changed locally".into() });
                continue;
            }
            if !self.put_file(rel, data.clone()) {
                out.push(Outcome::Failed { rel: rel.clone(), why: "in the way".into() });
                continue;
            }
            let base = Base { kind: Kind::File, hash: Some(hash(&data)), version, file_id: None, stat: self.stat(rel) };
            out.push(Outcome::Landed { rel: rel.clone(), base });
        }
        Ok(out)
    }

    async fn remote_mkdir(&mut self, rel: &str) -> Result<Done> {
        self.spend()?;
        let mut s = self.server.borrow_mut();
        if s.files.contains_key(rel) || s.files.keys().any(|f| within(rel, f)) {
            return Ok(Done::Changed);
        }
        s.make_parents(rel);
        s.dirs.insert(rel.to_owned());
        Ok(Done::Yes)
    }

    async fn remote_remove(&mut self, rel: &str, expect: i64) -> Result<Done> {
        self.spend()?;
        let mut s = self.server.borrow_mut();
        match s.files.get(rel) {
            Some((v, _, _)) if *v == expect => {
                s.files.remove(rel);
                Ok(Done::Yes)
            }
            None => Ok(Done::Yes),
            Some(_) => Ok(Done::Changed),
        }
    }

    async fn remote_rmdir(&mut self, rel: &str) -> Result<Done> {
        self.spend()?;
        let mut s = self.server.borrow_mut();
        let busy = s.files.keys().any(|f| within(f, rel)) || s.dirs.iter().any(|d| within(d, rel) && d != rel);
        if busy {
            return Ok(Done::Changed);
        }
        s.dirs.remove(rel);
        Ok(Done::Yes)
    }

    async fn remote_move(&mut self, from: &str, to: &str) -> Result<Done> {
        self.spend()?;
        let mut s = self.server.borrow_mut();
        let exists = |s: &Server, p: &str| s.files.contains_key(p) || s.dirs.contains(p);
        if !exists(&s, from) || exists(&s, to) || within(to, from) || s.files.keys().any(|f| within(to, f)) {
            return Ok(Done::Changed);
        }
        let files: Vec<String> = s.files.keys().filter(|k| within(k, from)).cloned().collect();
        let dirs: Vec<String> = s.dirs.iter().filter(|k| within(k, from)).cloned().collect();
        for k in files {
            let f = s.files.remove(&k).expect("listed");
            s.files.insert(format!("{to}{}", &k[from.len()..]), f);
        }
        for k in dirs {
            s.dirs.remove(&k);
            s.dirs.insert(format!("{to}{}", &k[from.len()..]));
        }
        s.make_parents(to);
        Ok(Done::Yes)
    }

    async fn local_mkdir(&mut self, rel: &str) -> Result<()> {
        self.spend()?;
        self.mkdir_p(rel);
        Ok(())
    }

    async fn local_remove(&mut self, rel: &str, expect: Stat) -> Result<Done> {
        self.spend()?;
        if self.stat(rel) != Some(expect) {
            return Ok(Done::Changed);
        }
        self.fs.remove(rel);
        Ok(Done::Yes)
    }

    async fn local_rmdir(&mut self, rel: &str) -> Result<Done> {
        self.spend()?;
        if self.fs.keys().any(|k| within(k, rel) && k != rel) {
            return Ok(Done::Changed);
        }
        self.fs.remove(rel);
        Ok(Done::Yes)
    }

    async fn local_move(&mut self, from: &str, to: &str, expect: Stat) -> Result<Done> {
        self.spend()?;
        if self.stat(from) != Some(expect) {
            return Ok(Done::Changed);
        }
        // As on a real disk, the directories on the way are made.
        let p = parent(to).to_owned();
        if !p.is_empty() {
            self.local_mkdir(&p).await?;
        }
        Ok(if self.rename(from, to) { Done::Yes } else { Done::Changed })
    }

    async fn save(&mut self, changes: &[(String, Option<Base>)]) -> Result<()> {
        for (rel, b) in changes {
            match b {
                Some(b) => self.saved.insert(rel.clone(), b.clone()),
                None => self.saved.remove(rel),
            };
        }
        Ok(())
    }
}
