use super::*;
use crate::model::Stat;

fn stat(inode: u64) -> Stat {
    Stat { size: 1, mtime_ns: 1, inode, mode: 0o644 }
}
fn base(h: &str, v: i64, inode: u64, id: &str) -> Base {
    Base { kind: Kind::File, hash: Some(h.into()), version: v, file_id: Some(id.into()), stat: Some(stat(inode)) }
}
fn dir_base() -> Base {
    Base { kind: Kind::Dir, hash: None, version: 0, file_id: None, stat: None }
}
fn local(h: &str, inode: u64) -> Local {
    Local { kind: Kind::File, stat: stat(inode), hash: Some(h.into()), busy: false }
}
fn local_dir() -> Local {
    Local { kind: Kind::Dir, stat: Stat::default(), hash: None, busy: false }
}
fn remote(h: &str, v: i64, id: &str) -> Remote {
    Remote { kind: Kind::File, version: v, hash: Some(h.into()), file_id: Some(id.into()), size: 1, refused: None }
}
fn remote_dir() -> Remote {
    Remote::dir()
}
fn one(b: Option<Base>, l: Option<Local>, r: Option<Remote>) -> Vec<Action> {
    let bases: Bases = b.into_iter().map(|b| ("f".to_owned(), b)).collect();
    let mut locals: Locals = l.into_iter().map(|l| ("f".to_owned(), l)).collect();
    // Something else in the folder, so the emptied-root guard stays out.
    locals.insert("other".into(), local("o", 99));
    let mut remotes: Remotes = r.into_iter().map(|r| ("f".to_owned(), r)).collect();
    remotes.insert("other".into(), remote("o", 1, "oid"));
    let mut bases = bases;
    bases.insert("other".into(), base("o", 1, 99, "oid"));
    plan(&bases, &locals, &remotes, &Options::default()).actions
}

#[test]
fn the_three_way_table() {
    let f = |s: &str| s.to_owned();
    let b = || Some(base("h1", 3, 7, "id"));
    // Unchanged both: nothing.
    assert_eq!(one(b(), Some(local("h1", 7)), Some(remote("h1", 3, "id"))), vec![]);
    // Local edit, remote unchanged: upload over version 3.
    assert_eq!(
        one(b(), Some(local("h2", 7)), Some(remote("h1", 3, "id"))),
        vec![Action::Upload { rel: f("f"), head: Some(3) }]
    );
    // Local delete: remove on the server, only while it is version 3.
    assert_eq!(one(b(), None, Some(remote("h1", 3, "id"))), vec![Action::RemoveRemote { rel: f("f"), expect: 3 }]);
    // Remote edit: download; remote delete: remove locally.
    assert_eq!(one(b(), Some(local("h1", 7)), Some(remote("h2", 4, "id"))), vec![Action::Download { rel: f("f") }]);
    assert_eq!(one(b(), Some(local("h1", 7)), None), vec![Action::RemoveLocal { rel: f("f") }]);
    // Both edited alike: no conflict, just recorded.
    let both = one(b(), Some(local("h2", 7)), Some(remote("h2", 4, "id")));
    assert!(matches!(&both[..], [Action::Record { base, .. }] if base.version == 4), "{both:?}");
    // New on both sides with the same content: no conflict either.
    let new = one(None, Some(local("h9", 8)), Some(remote("h9", 1, "id2")));
    assert!(matches!(&new[..], [Action::Record { .. }]), "{new:?}");
    // Edit against delete, both ways: the edit wins.
    assert_eq!(one(b(), None, Some(remote("h2", 4, "id"))), vec![Action::Download { rel: f("f") }]);
    assert_eq!(one(b(), Some(local("h2", 7)), None), vec![Action::Upload { rel: f("f"), head: None }]);
    // Edited on both: a conflict copy.
    let c = one(b(), Some(local("h2", 7)), Some(remote("h3", 4, "id")));
    assert!(matches!(&c[..], [Action::Conflict { copy, .. }] if copy.starts_with("f (conflict from device")), "{c:?}");
    // Gone on both: forgotten. New only locally or remotely: sent across.
    assert_eq!(one(b(), None, None), vec![Action::Forget { rel: f("f") }]);
    assert_eq!(one(None, Some(local("h", 8)), None), vec![Action::Upload { rel: f("f"), head: None }]);
    assert_eq!(one(None, None, Some(remote("h", 1, "x"))), vec![Action::Download { rel: f("f") }]);
    // A directory against a file is reported, never resolved by deleting.
    let mixed = one(None, Some(local_dir()), Some(remote("h", 1, "x")));
    assert!(matches!(&mixed[..], [Action::Skip { .. }]), "{mixed:?}");
}

#[test]
fn renames_are_moves_and_a_whole_directory_is_one() {
    let mut bases = Bases::new();
    let mut locals = Locals::new();
    let mut remotes = Remotes::new();
    bases.insert("d".into(), dir_base());
    remotes.insert("d".into(), remote_dir());
    bases.insert("d/sub".into(), dir_base());
    remotes.insert("d/sub".into(), remote_dir());
    locals.insert("e".into(), local_dir());
    locals.insert("e/sub".into(), local_dir());
    for i in 0..100u64 {
        let rel = if i % 2 == 0 { format!("d/{i}") } else { format!("d/sub/{i}") };
        bases.insert(rel.clone(), base(&format!("h{i}"), 1, i, &format!("id{i}")));
        remotes.insert(rel.clone(), remote(&format!("h{i}"), 1, &format!("id{i}")));
        locals.insert(rel.replacen('d', "e", 1), local(&format!("h{i}"), i));
    }
    // A single file renamed too.
    bases.insert("x".into(), base("hx", 2, 500, "idx"));
    remotes.insert("x".into(), remote("hx", 2, "idx"));
    locals.insert("y".into(), local("hx", 500));
    let p = plan(&bases, &locals, &remotes, &Options::default());
    assert_eq!(p.paused, None);
    assert_eq!(
        p.actions,
        vec![
            Action::MoveRemote { from: "d".into(), to: "e".into() },
            Action::MoveRemote { from: "x".into(), to: "y".into() }
        ]
    );
    // A remote rename (same file id elsewhere) is a local rename.
    let mut locals = Locals::new();
    locals.insert("x".into(), local("hx", 500));
    let mut remotes = Remotes::new();
    remotes.insert("z".into(), remote("hx", 2, "idx"));
    let bases: Bases = [("x".to_owned(), base("hx", 2, 500, "idx"))].into();
    let p = plan(&bases, &locals, &remotes, &Options::default());
    assert_eq!(p.actions, vec![Action::MoveLocal { from: "x".into(), to: "z".into() }]);
}

#[test]
fn mass_deletion_and_an_emptied_root_pause() {
    let mut bases = Bases::new();
    let mut remotes = Remotes::new();
    let mut locals = Locals::new();
    for i in 0..40u64 {
        bases.insert(format!("f{i}"), base("h", 1, i, &format!("id{i}")));
        remotes.insert(format!("f{i}"), remote("h", 1, &format!("id{i}")));
        if i < 15 {
            locals.insert(format!("f{i}"), local("h", i));
        }
    }
    // 25 of 40 to go: more than half.
    let p = plan(&bases, &locals, &remotes, &Options::default());
    assert!(p.paused.as_deref().is_some_and(|w| w.contains("25 of 40")), "{:?}", p.paused);
    assert!(p.actions.is_empty());
    let p = plan(&bases, &locals, &remotes, &Options { allow_deletes: true, ..Default::default() });
    assert_eq!(p.actions.iter().filter(|a| matches!(a, Action::RemoveRemote { .. })).count(), 25);
    // Fewer than the minimum never pause.
    locals.extend((15..32).map(|i| (format!("f{i}"), local("h", i))));
    let p = plan(&bases, &locals, &remotes, &Options::default());
    assert_eq!((p.paused.clone(), p.work()), (None, 8));
    // An empty root pauses whatever the numbers; so does an empty remote.
    let p = plan(&bases, &Locals::new(), &remotes, &Options::default());
    assert!(p.paused.as_deref().is_some_and(|w| w.contains("folder is empty")), "{:?}", p.paused);
    let p = plan(&bases, &locals, &Remotes::new(), &Options::default());
    assert!(p.paused.as_deref().is_some_and(|w| w.contains("remote path is empty")), "{:?}", p.paused);
    // Most of the folder removed on the server: local removals pause too.
    let mut few = remotes.clone();
    few.retain(|k, _| k.as_str() < "f2");
    let all: Locals = (0..40u64).map(|i| (format!("f{i}"), local("h", i))).collect();
    let p = plan(&bases, &all, &few, &Options::default());
    assert!(p.paused.as_deref().is_some_and(|w| w.contains("in this folder")), "{:?}", p.paused);
}

#[test]
fn directories_follow_their_side() {
    let mut bases = Bases::new();
    let mut locals = Locals::new();
    let mut remotes = Remotes::new();
    locals.insert("keep".into(), local("k", 1));
    remotes.insert("keep".into(), remote("k", 1, "k"));
    bases.insert("keep".into(), base("k", 1, 1, "k"));
    locals.insert("new-here".into(), local_dir());
    remotes.insert("new-there".into(), remote_dir());
    bases.insert("gone-here".into(), dir_base());
    remotes.insert("gone-here".into(), remote_dir());
    bases.insert("gone-there".into(), dir_base());
    locals.insert("gone-there".into(), local_dir());
    bases.insert("gone-there/deep".into(), dir_base());
    locals.insert("gone-there/deep".into(), local_dir());
    let p = plan(&bases, &locals, &remotes, &Options::default());
    let s = |s: &str| s.to_owned();
    assert_eq!(
        p.actions,
        vec![
            Action::MkdirRemote { rel: s("new-here") },
            Action::MkdirLocal { rel: s("new-there") },
            Action::RmdirLocal { rel: s("gone-there/deep") },
            Action::RmdirRemote { rel: s("gone-here") },
            Action::RmdirLocal { rel: s("gone-there") },
        ]
    );
}
