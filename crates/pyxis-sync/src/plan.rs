//! The planner: a pure function from what was last agreed (bases), what
//! the local scan found and what the server lists to the actions that
//! bring both sides in step. Everything it decides is testable without a
//! disk or a network, and the simulation (`tests/sim.rs`) runs it under
//! thousands of seeds.
//!
//! Each path is a three-way merge of base, local and remote:
//!
//! | local | remote | action |
//! |---|---|---|
//! | unchanged | unchanged | nothing |
//! | changed | unchanged | upload (or remove on the server) |
//! | unchanged | changed | download (or remove locally) |
//! | changed | changed, same hash | record: identical content is no conflict |
//! | deleted | edited | download: the edit wins |
//! | edited | deleted | upload as a new file: the edit wins |
//! | edited | edited | conflict: the server's version keeps the name, the local one becomes a conflict copy |
//!
//! "Changed" for a remote file is a version other than the base's: the
//! catalog numbers each file's versions, and every write names the version
//! it replaces (a compare-and-swap), so the server orders all writes to a
//! file and a base version is exactly the part of a version vector that
//! matters. A rename (a path gone, another new with the same inode and hash
//! locally, or the same file id remotely) is a move, never delete + create.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Base, Bases, Kind, Local, Locals, Remote, Remotes, conflict_name, within};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Both sides agree: remember it.
    Record {
        rel: String,
        base: Base,
    },
    /// Gone on both sides: forget it.
    Forget {
        rel: String,
    },
    /// Put the local file, over remote version `head` (none: as a new file).
    Upload {
        rel: String,
        head: Option<i64>,
    },
    /// Write the remote file locally (over the scanned local file, if any).
    Download {
        rel: String,
    },
    MkdirLocal {
        rel: String,
    },
    MkdirRemote {
        rel: String,
    },
    /// Remove the local file (unchanged since it was synced).
    RemoveLocal {
        rel: String,
    },
    /// Remove the file on the server, only while it is version `expect`.
    RemoveRemote {
        rel: String,
        expect: i64,
    },
    /// Remove a directory if it is empty (deepest first, after the files).
    RmdirLocal {
        rel: String,
    },
    RmdirRemote {
        rel: String,
    },
    /// A local rename, done on the server as one catalog move.
    MoveRemote {
        from: String,
        to: String,
    },
    /// A rename on the server, done locally as one rename.
    MoveLocal {
        from: String,
        to: String,
    },
    /// Both sides edited: the local file is renamed to `copy` (then put as
    /// a new file), and the server's version is downloaded to `rel`.
    Conflict {
        rel: String,
        copy: String,
    },
    /// Left alone, with why (reported in the status; nothing is deleted).
    Skip {
        rel: String,
        why: String,
    },
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Pause instead of removing more than this share of the synced files
    /// on the server in one pass (0.5 = 50 %).
    pub delete_threshold: f64,
    /// Fewer removals than this never pause.
    pub delete_minimum: usize,
    /// Run a pass the guard paused anyway (the user said so).
    pub allow_deletes: bool,
    /// This device's name, for conflict copies.
    pub device: String,
    /// Now, in Unix seconds, for conflict copies.
    pub now: i64,
    /// A share this user may only read: sync down only; local changes stay
    /// local (reported), nothing is sent.
    pub read_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            delete_threshold: 0.5,
            delete_minimum: 10,
            allow_deletes: false,
            device: "device".into(),
            now: 0,
            read_only: false,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Set when the pass must not run: why.
    pub paused: Option<String>,
}

impl Plan {
    /// Actions that move data or change a tree (not records).
    pub fn work(&self) -> usize {
        self.actions.iter().filter(|a| !matches!(a, Action::Record { .. } | Action::Forget { .. })).count()
    }
}

fn record_of(r: &Remote, l: Option<&Local>) -> Base {
    Base { kind: r.kind, hash: r.hash.clone(), version: r.version, file_id: r.file_id.clone(), stat: l.map(|l| l.stat) }
}

/// Plans one pass.
pub fn plan(bases: &Bases, locals: &Locals, remotes: &Remotes, opts: &Options) -> Plan {
    let mut out = Plan::default();
    let base_files = bases.values().filter(|b| b.kind == Kind::File).count();
    // An emptied root is an unmounted disk or a mistake far more often than
    // a wish to delete everything everywhere.
    if base_files > 0 && remotes.is_empty() && !opts.allow_deletes {
        out.paused = Some(format!(
            "the remote path is empty or gone but {base_files} synced files were in it (a server restored \
             from an old backup?): nothing was deleted here; run with --allow-deletes if it was meant"
        ));
        return out;
    }
    if base_files > 0 && locals.is_empty() && !opts.allow_deletes {
        out.paused = Some(format!(
            "the folder is empty but {base_files} synced files were in it (an unmounted disk?): \
             nothing was deleted on the server; restore the files, or run with --allow-deletes"
        ));
        return out;
    }
    let mut done: BTreeSet<String> = BTreeSet::new();
    moves(bases, locals, remotes, &mut out.actions, &mut done);

    let paths: BTreeSet<&String> = bases.keys().chain(locals.keys()).chain(remotes.keys()).collect();
    for rel in paths {
        if done.contains(rel) {
            continue;
        }
        let (b, l, r) = (bases.get(rel), locals.get(rel), remotes.get(rel));
        decide(rel, b, l, r, opts, &mut out.actions);
    }
    if opts.read_only {
        out.actions = out.actions.into_iter().filter_map(down_only).collect();
    }
    // Removals of directories run deepest first, after everything else.
    out.actions.sort_by_key(|a| match a {
        Action::RmdirLocal { rel } | Action::RmdirRemote { rel } => (1, usize::MAX - rel.matches('/').count()),
        _ => (0, 0),
    });

    // The same guard both ways: a server restored from an old backup, or
    // a remote path emptied by mistake, must not empty this folder either.
    let count = |f: fn(&Action) -> bool| out.actions.iter().filter(|a| f(a)).count();
    let there = count(|a| matches!(a, Action::RemoveRemote { .. }));
    let here = count(|a| matches!(a, Action::RemoveLocal { .. }));
    for (n, side) in [(there, "on the server"), (here, "in this folder")] {
        if !opts.allow_deletes
            && out.paused.is_none()
            && n >= opts.delete_minimum
            && n as f64 > opts.delete_threshold * base_files as f64
        {
            out.paused = Some(format!(
                "this pass would remove {n} of {base_files} synced files {side} (more than {:.0} %): \
                 paused; run with --allow-deletes if that is what you want",
                opts.delete_threshold * 100.0
            ));
        }
    }
    if out.paused.is_some() {
        out.actions.clear();
    }
    out
}

/// What a read-only share keeps of an action: everything that changes
/// only this folder; a change to send becomes a report.
fn down_only(a: Action) -> Option<Action> {
    let why = || "this share is read-only for you: the local change stays here".to_owned();
    match a {
        Action::Upload { rel, .. } | Action::RemoveRemote { rel, .. } => Some(Action::Skip { rel, why: why() }),
        Action::MoveRemote { from, .. } => Some(Action::Skip { rel: from, why: why() }),
        Action::MkdirRemote { .. } | Action::RmdirRemote { .. } => None,
        other => Some(other),
    }
}

fn same_hash(a: Option<&String>, b: Option<&String>) -> bool {
    a.is_some() && a == b
}

/// One path's three-way merge (see the module's table).
fn decide(rel: &str, b: Option<&Base>, l: Option<&Local>, r: Option<&Remote>, opts: &Options, out: &mut Vec<Action>) {
    let rel_s = || rel.to_owned();
    if l.is_some_and(|l| l.busy) {
        out.push(Action::Skip { rel: rel_s(), why: "still being written; synced once it settles".into() });
        return;
    }
    // What the server shows here did not check out: leave both sides be.
    if let Some(why) = r.and_then(|r| r.refused.clone()) {
        out.push(Action::Skip { rel: rel_s(), why: format!("refused what the server sent: {why}") });
        return;
    }
    let kinds = (b.map(|b| b.kind), l.map(|l| l.kind), r.map(|r| r.kind));
    // Directories.
    if kinds.1 != Some(Kind::File) && kinds.2 != Some(Kind::File) && kinds.0 != Some(Kind::File) {
        match (b.is_some(), l.is_some(), r.is_some()) {
            (_, true, true) if b.is_none() => {
                out.push(Action::Record { rel: rel_s(), base: record_of(r.expect("remote"), l) })
            }
            (false, true, false) => out.push(Action::MkdirRemote { rel: rel_s() }),
            (false, false, true) => out.push(Action::MkdirLocal { rel: rel_s() }),
            (true, false, true) => out.push(Action::RmdirRemote { rel: rel_s() }),
            (true, true, false) => out.push(Action::RmdirLocal { rel: rel_s() }),
            (true, false, false) => out.push(Action::Forget { rel: rel_s() }),
            _ => {}
        }
        return;
    }
    // A directory on one side and a file on the other: nothing is decided
    // for the user (no delete of either), it is reported.
    if l.is_some_and(|l| l.kind == Kind::Dir) || r.is_some_and(|r| r.kind == Kind::Dir) {
        if l.map(|l| l.kind) != r.map(|r| r.kind) && l.is_some() && r.is_some() {
            let why = "a file on one side and a directory on the other: rename one".to_owned();
            out.push(Action::Skip { rel: rel_s(), why });
        } else if l.is_none() && r.is_some_and(|r| r.kind == Kind::Dir) {
            out.push(Action::MkdirLocal { rel: rel_s() });
        } else if r.is_none() && l.is_some_and(|l| l.kind == Kind::Dir) {
            out.push(Action::MkdirRemote { rel: rel_s() });
        }
        return;
    }
    // Files (and links).
    let l_changed = match (b, l) {
        (None, None) => false,
        (Some(b), Some(l)) => !same_hash(l.hash.as_ref(), b.hash.as_ref()),
        _ => true,
    };
    let r_changed = match (b, r) {
        (None, None) => false,
        (Some(b), Some(r)) => r.version != b.version || !same_hash(r.hash.as_ref(), b.hash.as_ref()),
        _ => true,
    };
    match (l_changed, r_changed, l, r) {
        (false, false, _, _) => {
            // Unchanged; a new stat of the same content (a touch), or the
            // file id of a version this device put, is remembered.
            if let (Some(b), Some(l), Some(r)) = (b, l, r)
                && (b.stat != Some(l.stat) || b.file_id != r.file_id)
            {
                let base = Base { stat: Some(l.stat), file_id: r.file_id.clone(), ..b.clone() };
                out.push(Action::Record { rel: rel_s(), base });
            }
        }
        (true, false, Some(_), _) => out.push(Action::Upload { rel: rel_s(), head: r.map(|r| r.version) }),
        (true, false, None, Some(r)) => out.push(Action::RemoveRemote { rel: rel_s(), expect: r.version }),
        (true, false, None, None) => out.push(Action::Forget { rel: rel_s() }),
        (false, true, _, Some(_)) => out.push(Action::Download { rel: rel_s() }),
        (false, true, Some(_), None) => out.push(Action::RemoveLocal { rel: rel_s() }),
        (false, true, None, None) => out.push(Action::Forget { rel: rel_s() }),
        (true, true, None, None) => out.push(Action::Forget { rel: rel_s() }),
        (true, true, Some(l), Some(r)) if same_hash(l.hash.as_ref(), r.hash.as_ref()) => {
            out.push(Action::Record { rel: rel_s(), base: record_of(r, Some(l)) })
        }
        // Edit against delete: the edit wins, on either side.
        (true, true, None, Some(_)) => out.push(Action::Download { rel: rel_s() }),
        (true, true, Some(_), None) => out.push(Action::Upload { rel: rel_s(), head: None }),
        (true, true, Some(_), Some(_)) => {
            out.push(Action::Conflict { rel: rel_s(), copy: conflict_name(rel, &opts.device, opts.now) })
        }
    }
}

/// Renames on either side, found before the per-path merge: a local file
/// gone from its synced path and new elsewhere with the same inode and
/// hash, or a remote one with the same file id. A directory whose every
/// entry moved the same way is one move.
fn moves(bases: &Bases, locals: &Locals, remotes: &Remotes, out: &mut Vec<Action>, done: &mut BTreeSet<String>) {
    let fresh_local = |rel: &String| !bases.contains_key(rel) && !remotes.contains_key(rel);
    let fresh_remote = |rel: &String| !bases.contains_key(rel) && !locals.contains_key(rel);
    // Local renames.
    let mut gone: HashMap<(u64, &str), &String> = HashMap::new();
    for (rel, b) in bases.iter().filter(|(_, b)| b.kind == Kind::File) {
        let unchanged_remote = remotes.get(rel).is_some_and(|r| r.version == b.version);
        if let (None, true, Some(s), Some(h)) = (locals.get(rel), unchanged_remote, b.stat, b.hash.as_deref()) {
            gone.insert((s.inode, h), rel);
        }
    }
    let mut local_moves: BTreeMap<String, String> = BTreeMap::new();
    for (rel, l) in locals.iter().filter(|(rel, l)| l.kind == Kind::File && fresh_local(rel)) {
        if let Some(from) = l.hash.as_deref().and_then(|h| gone.remove(&(l.stat.inode, h))) {
            local_moves.insert(from.clone(), rel.clone());
        }
    }
    // Whole directories: the shallowest gone directory all of whose
    // entries moved under one new directory moves as one.
    let gone_dirs: Vec<&String> = bases
        .iter()
        .filter(|(rel, b)| b.kind == Kind::Dir && !locals.contains_key(*rel) && remotes.contains_key(*rel))
        .map(|(rel, _)| rel)
        .collect();
    for d in gone_dirs {
        if done.contains(d) {
            continue;
        }
        let Some(to) = dir_target(d, bases, locals, remotes, &local_moves) else { continue };
        out.push(Action::MoveRemote { from: d.clone(), to: to.clone() });
        for rel in bases.keys().chain(remotes.keys()).filter(|r| within(r, d)) {
            done.insert(rel.clone());
        }
        for rel in locals.keys().filter(|r| within(r, &to)) {
            done.insert(rel.clone());
        }
        local_moves.retain(|from, _| !within(from, d));
    }
    for (from, to) in local_moves {
        done.insert(from.clone());
        done.insert(to.clone());
        out.push(Action::MoveRemote { from, to });
    }
    // Remote renames.
    let mut gone: HashMap<&str, &String> = HashMap::new();
    for (rel, b) in bases.iter().filter(|(rel, b)| b.kind == Kind::File && !done.contains(*rel)) {
        let unchanged_local = locals.get(rel).is_some_and(|l| same_hash(l.hash.as_ref(), b.hash.as_ref()));
        if let (None, true, Some(id)) = (remotes.get(rel), unchanged_local, b.file_id.as_deref()) {
            gone.insert(id, rel);
        }
    }
    for (rel, r) in remotes.iter().filter(|(rel, r)| r.kind == Kind::File && fresh_remote(rel)) {
        if let Some(from) = r.file_id.as_deref().and_then(|id| gone.remove(id)) {
            done.insert(from.clone());
            done.insert(rel.clone());
            out.push(Action::MoveLocal { from: from.clone(), to: rel.clone() });
        }
    }
}

/// Where gone directory `d` went, if every synced entry under it moved
/// to the same place under one new directory and nothing else is there.
fn dir_target(
    d: &str,
    bases: &Bases,
    locals: &Locals,
    remotes: &Remotes,
    local_moves: &BTreeMap<String, String>,
) -> Option<String> {
    let (from, to) = local_moves.iter().find(|(from, _)| within(from, d))?;
    let rest = &from[d.len()..];
    let target = to.strip_suffix(rest)?.to_owned();
    if target.is_empty()
        || bases.contains_key(&target)
        || remotes.contains_key(&target)
        || !locals.get(&target).is_some_and(|l| l.kind == Kind::Dir)
        || within(&target, d)
        || within(d, &target)
    {
        return None;
    }
    // Every synced entry under d is at the same place under target; the
    // server has nothing new under d; nothing else is new under target.
    for (rel, b) in bases.iter().filter(|(r, _)| within(r, d) && *r != d) {
        let moved = format!("{target}{}", &rel[d.len()..]);
        let ok = match b.kind {
            Kind::File => local_moves.get(rel) == Some(&moved),
            Kind::Dir => locals.get(&moved).is_some_and(|l| l.kind == Kind::Dir) && !locals.contains_key(rel),
        };
        if !ok || remotes.get(rel).is_none_or(|r| r.kind != b.kind) {
            return None;
        }
    }
    let remote_new = remotes.keys().any(|r| within(r, d) && !bases.contains_key(r));
    let local_extra = locals
        .keys()
        .filter(|r| within(r, &target) && **r != target)
        .any(|r| !bases.contains_key(&format!("{d}{}", &r[target.len()..])));
    if remote_new || local_extra {
        return None;
    }
    Some(target)
}

#[cfg(test)]
mod tests;
