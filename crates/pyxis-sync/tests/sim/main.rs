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
//! Wake-ups (inotify, the change feed) only start passes, so reordered or
//! repeated ones are passes at random times here. The model lists the
//! server in full each pass; the disk I/O's catch-up from the feed
//! (`remote.rs`) is exercised on a real server in `tests/it`.
//!
//! `PYXIS_SIM_SEEDS=N` runs N seeds (default 300); `PYXIS_SIM_SEED=S` runs
//! seed S alone (to replay a failure, with its schedule printed).

mod model;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use model::{Device, Node, Server};
use pyxis_sync::engine::{Io, Result, pass};
use pyxis_sync::model::{Bases, within};
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
