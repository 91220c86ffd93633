//! Deterministic simulation of the sync engine: several devices and a model
//! server, driven by a seeded random schedule of user edits (creates,
//! edits, deletes, renames of files and directories), passes, offline
//! spells and crashes in the middle of a pass. The engine that runs here is
//! the real one ([`pyxis_sync::engine::pass`], the planner and the
//! executor); only its [`Io`] is a model: a map per device for the disk,
//! one for the server, with the real server's compare-and-swap rules.
//!
//! Checked after every run, once all devices are back and quiet:
//! * every device's tree is the server's tree (convergence);
//! * every content a device held when one of its passes began (so the
//!   engine saw it) is in a final tree or in the server's history, unless
//!   the user of that device overwrote or deleted it later;
//! * the conflict copies do not cascade (no copy of a copy).
//!
//! Writes are atomic in the model, as the disk I/O makes them with a
//! staging directory and a rename (tested on a real disk in `tests/it`).
//! The change feed is only a hint to run a pass (the engine always rescans
//! and relists), so reordered or repeated feed events are passes at random
//! times here.
//!
//! `PYXIS_SIM_SEEDS=N` runs N seeds (default 300); `PYXIS_SIM_SEED=S` runs
//! seed S alone (to replay a failure, with its schedule printed).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use pyxis_sync::engine::{Done, Io, Outcome, Result, Scan, SyncError, pass};
use pyxis_sync::model::{Base, Bases, Kind, Local, Remote, Remotes, Stat, parent, within};
use pyxis_sync::plan::Options;

/// A small deterministic generator (SplitMix64): no dependency, same
/// numbers on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn hash(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

#[derive(Debug, Default)]
struct Server {
    files: BTreeMap<String, (i64, Vec<u8>, String)>,
    dirs: BTreeSet<String>,
    /// Every content ever committed.
    history: BTreeSet<Vec<u8>>,
    next_id: u64,
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
enum Node {
    File { data: Vec<u8>, inode: u64, mtime: i64 },
    Dir,
}

struct Device {
    fs: BTreeMap<String, Node>,
    /// The persisted state (what survives a crash).
    saved: Bases,
    bases: Bases,
    online: bool,
    /// Mutating operations left before this pass "crashes".
    budget: Option<usize>,
    clock: Rc<RefCell<i64>>,
    next_inode: u64,
    server: Rc<RefCell<Server>>,
}

impl Device {
    fn tick(&mut self) -> i64 {
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
    fn put_file(&mut self, rel: &str, data: Vec<u8>) -> bool {
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
    fn mkdir_p(&mut self, rel: &str) -> bool {
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

    fn rename(&mut self, from: &str, to: &str) -> bool {
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
                Node::Dir => Local { kind: Kind::Dir, stat: Stat::default(), hash: None },
                Node::File { data, .. } => {
                    Local { kind: Kind::File, stat: self.stat(rel).expect("a file"), hash: Some(hash(data)) }
                }
            };
            scan.locals.insert(rel.clone(), l);
        }
        Ok(scan)
    }

    async fn list(&mut self) -> Result<Remotes> {
        let s = self.server.borrow();
        let mut out = Remotes::new();
        for d in &s.dirs {
            out.insert(d.clone(), Remote { kind: Kind::Dir, version: 0, hash: None, file_id: None, size: 0 });
        }
        for (rel, (v, data, id)) in &s.files {
            let r = Remote {
                kind: Kind::File,
                version: *v,
                hash: Some(hash(data)),
                file_id: Some(id.clone()),
                size: data.len() as u64,
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

    async fn download(&mut self, items: &[(String, Option<Stat>)]) -> Result<Vec<Outcome>> {
        let mut out = Vec::new();
        for (rel, want) in items {
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

const NAMES: &[&str] = &["a", "b", "c.txt", "x/a", "x/d", "x/y/e", "y/f", "y/x/g"];

struct Sim {
    rng: Rng,
    devices: Vec<Device>,
    server: Rc<RefCell<Server>>,
    /// (device, path, content) held when a pass began, until that device's
    /// user changes the path.
    kept: Vec<(usize, String, Vec<u8>)>,
    log: Vec<String>,
    content: u64,
}

impl Sim {
    fn new(seed: u64, devices: usize) -> Sim {
        let server = Rc::new(RefCell::new(Server::default()));
        let clock = Rc::new(RefCell::new(0));
        let devices = (0..devices)
            .map(|_| Device {
                fs: BTreeMap::new(),
                saved: Bases::new(),
                bases: Bases::new(),
                online: true,
                budget: None,
                clock: clock.clone(),
                next_inode: 0,
                server: server.clone(),
            })
            .collect();
        Sim { rng: Rng(seed), devices, server, kept: Vec::new(), log: Vec::new(), content: 0 }
    }

    fn user_changed(&mut self, d: usize, rel: &str) {
        self.kept.retain(|(kd, p, _)| !(*kd == d && within(p, rel)));
    }

    fn user_op(&mut self, d: usize) {
        let name = NAMES[self.rng.below(NAMES.len())].to_owned();
        let op = self.rng.below(10);
        self.content += 1;
        let data = format!("content {} by {d}", self.content).into_bytes();
        let dev = &mut self.devices[d];
        let done = match op {
            0..=3 => dev.put_file(&name, data),
            4..=5 => matches!(dev.fs.get(&name), Some(Node::File { .. })) && dev.fs.remove(&name).is_some(),
            6 => {
                let to = NAMES[self.rng.below(NAMES.len())];
                dev.rename(&name, to)
            }
            7 => {
                // A directory renamed (or a new one made).
                let (from, to) = if self.rng.chance(50) { ("x", "z") } else { ("y", "x/w") };
                dev.rename(from, to) || dev.mkdir_p(to)
            }
            8 => {
                // A directory removed with everything in it.
                let dir = if self.rng.chance(50) { "x" } else { "y" };
                let gone: Vec<String> = dev.fs.keys().filter(|k| within(k, dir)).cloned().collect();
                for k in &gone {
                    dev.fs.remove(k);
                }
                !gone.is_empty()
            }
            _ => {
                // A touch: new mtime, same content.
                match dev.fs.get(&name).cloned() {
                    Some(Node::File { data, inode, .. }) => {
                        let mtime = dev.tick();
                        dev.fs.insert(name.clone(), Node::File { data, inode, mtime });
                        true
                    }
                    _ => false,
                }
            }
        };
        if done {
            self.log.push(format!("user op {op} on device {d} at {name}"));
            // Everything the op may have changed (a rename: both ends).
            self.user_changed(d, &name);
            for n in NAMES {
                if op >= 6 {
                    self.user_changed(d, n);
                }
            }
            if op >= 7 {
                for dir in ["x", "y", "z"] {
                    self.user_changed(d, dir);
                }
            }
        }
    }

    fn run_pass(&mut self, d: usize, crash: bool) -> Result<bool> {
        let opts = Options {
            allow_deletes: true,
            device: format!("dev{d}"),
            now: *self.devices[d].clock.borrow() + 1_000_000,
            ..Options::default()
        };
        let budget = if crash { Some(self.rng.below(6)) } else { None };
        let dev = &mut self.devices[d];
        // What this pass's scan sees (users do not act during a pass here).
        for (rel, n) in &dev.fs {
            if let Node::File { data, .. } = n {
                self.kept.push((d, rel.clone(), data.clone()));
            }
        }
        dev.budget = budget;
        let mut bases = std::mem::take(&mut dev.bases);
        if std::env::var("PYXIS_SIM_SEED").is_ok() {
            let locals = futures::executor::block_on(dev.scan(&bases)).map(|s| s.locals).unwrap_or_default();
            let remotes = futures::executor::block_on(dev.list()).unwrap_or_default();
            let planned = pyxis_sync::plan::plan(&bases, &locals, &remotes, &opts);
            self.log.push(format!("plan on device {d}: {:?}", planned.actions));
            self.log.push(format!("  fs {:?}", dev.fs.keys().collect::<Vec<_>>()));
            self.log.push(format!("  bases {:?}", bases.keys().collect::<Vec<_>>()));
            self.log.push(format!("  remote {:?}", remotes.keys().collect::<Vec<_>>()));
        }
        let r = futures::executor::block_on(pass(dev, &mut bases, &opts));
        dev.budget = None;
        match r {
            Ok(report) => {
                dev.bases = bases;
                self.log.push(format!("pass on device {d}: {report:?}"));
                Ok(report.did_work() || report.planned > 0)
            }
            Err(e) => {
                // The process died: what was saved is what it knows.
                dev.bases = dev.saved.clone();
                self.log.push(format!("pass on device {d} crashed ({e})"));
                Err(e)
            }
        }
    }

    fn run(&mut self, steps: usize) -> std::result::Result<(), String> {
        let n = self.devices.len();
        for _ in 0..steps {
            let d = self.rng.below(n);
            match self.rng.below(10) {
                0..=4 => self.user_op(d),
                5..=7 => {
                    if self.devices[d].online {
                        let _ = self.run_pass(d, false);
                    }
                }
                8 => {
                    if self.devices[d].online {
                        let _ = self.run_pass(d, true);
                    }
                }
                _ => {
                    self.devices[d].online = !self.devices[d].online;
                    self.log.push(format!("device {d} online: {}", self.devices[d].online));
                }
            }
        }
        // Everyone back, no more edits: passes until a whole round is quiet.
        for dev in &mut self.devices {
            dev.online = true;
        }
        let mut quiet_rounds = 0;
        for _ in 0..30 {
            let mut busy = false;
            for d in 0..n {
                busy |= self.run_pass(d, false).map_err(|e| format!("pass failed: {e}"))?;
            }
            quiet_rounds = if busy { 0 } else { quiet_rounds + 1 };
            if quiet_rounds == 1 {
                break;
            }
        }
        if quiet_rounds == 0 {
            return Err("no quiet round after 30 (the devices never settle)".into());
        }
        self.check()
    }

    fn check(&self) -> std::result::Result<(), String> {
        let s = self.server.borrow();
        let mut server_tree: BTreeMap<String, Node> = BTreeMap::new();
        for d in &s.dirs {
            server_tree.insert(d.clone(), Node::Dir);
        }
        let strip = |t: &BTreeMap<String, Node>| -> BTreeMap<String, Option<Vec<u8>>> {
            t.iter()
                .map(|(k, n)| {
                    (
                        k.clone(),
                        match n {
                            Node::File { data, .. } => Some(data.clone()),
                            Node::Dir => None,
                        },
                    )
                })
                .collect()
        };
        let mut want = strip(&server_tree);
        for (rel, (_, data, _)) in &s.files {
            want.insert(rel.clone(), Some(data.clone()));
        }
        for (i, dev) in self.devices.iter().enumerate() {
            let got = strip(&dev.fs);
            if got != want {
                return Err(format!("device {i} differs from the server:\n  device {got:?}\n  server {want:?}"));
            }
        }
        let finals: BTreeSet<&Vec<u8>> = s.files.values().map(|f| &f.1).collect();
        for (d, rel, data) in &self.kept {
            if !finals.contains(data) && !s.history.contains(data) {
                return Err(format!(
                    "lost: {:?}, held by device {d} at {rel} at the end of a pass, is neither a file nor in history",
                    String::from_utf8_lossy(data)
                ));
            }
        }
        for rel in s.files.keys() {
            if rel.matches(" (conflict from ").count() > 1 {
                return Err(format!("a conflict copy of a conflict copy: {rel}"));
            }
        }
        Ok(())
    }
}

fn run_seed(seed: u64) -> std::result::Result<(), (String, Vec<String>)> {
    let devices = 2 + (seed % 2) as usize;
    let mut sim = Sim::new(seed, devices);
    let r = sim.run(60);
    r.map_err(|e| (e, std::mem::take(&mut sim.log)))
}

#[test]
fn seeded_simulation_converges_and_loses_nothing() {
    if let Some(seed) = std::env::var("PYXIS_SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        if let Err((why, log)) = run_seed(seed) {
            for l in log {
                println!("{l}");
            }
            panic!("seed {seed}: {why}");
        }
        return;
    }
    let seeds: u64 = std::env::var("PYXIS_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let mut failed = Vec::new();
    for seed in 0..seeds {
        if let Err((why, _)) = run_seed(seed) {
            failed.push((seed, why));
        }
    }
    let shown: Vec<String> = failed.iter().take(5).map(|(s, w)| format!("seed {s}: {w}")).collect();
    assert!(
        failed.is_empty(),
        "{} of {seeds} seeds failed (replay one with PYXIS_SIM_SEED=N):\n{}",
        failed.len(),
        shown.join("\n")
    );
}
