//! Nothing is deleted on a guess: an emptied or vanished folder, a mass
//! deletion, a file changed while it is written.

use crate::support::{Device, cluster};

#[tokio::test]
async fn an_emptied_or_vanished_root_deletes_nothing_on_the_server() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "a", "/s").await;
    for i in 0..30 {
        a.write(&format!("f{i}"), format!("{i}").as_bytes());
    }
    a.sync().await;
    // Emptied (all files gone, the marker kept): paused.
    for i in 0..30 {
        std::fs::remove_file(a.path(&format!("f{i}"))).unwrap();
    }
    let r = a.folder.sync().await.unwrap();
    assert!(r.paused.as_deref().is_some_and(|w| w.contains("empty")), "{r:?}");
    assert_eq!(a.folder.status.state, "paused");
    assert_eq!(a.folder.client().tree("/s").await.unwrap().heads.len(), 30);
    // Unmounted (the folder itself gone): paused, and nothing made there.
    std::fs::remove_dir_all(&a.root).unwrap();
    let r = a.folder.sync().await.unwrap();
    assert!(r.paused.as_deref().is_some_and(|w| w.contains("missing")), "{r:?}");
    assert!(!a.root.exists());
    // An empty mount point in its place (no marker): paused too.
    std::fs::create_dir(&a.root).unwrap();
    let r = a.folder.sync().await.unwrap();
    assert!(r.paused.as_deref().is_some_and(|w| w.contains(".pyxis")), "{r:?}");
    assert_eq!(a.folder.client().tree("/s").await.unwrap().heads.len(), 30);
    // Another device still gets everything.
    let mut b = Device::new(&c, "alice", "b", "/s").await;
    assert_eq!(b.sync().await.downloaded, 30);
}

#[tokio::test]
async fn a_mass_deletion_pauses_until_allowed() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "a", "/s").await;
    for i in 0..40 {
        a.write(&format!("f{i}"), format!("{i}").as_bytes());
    }
    a.sync().await;
    for i in 0..30 {
        std::fs::remove_file(a.path(&format!("f{i}"))).unwrap();
    }
    let r = a.folder.sync().await.unwrap();
    assert!(r.paused.as_deref().is_some_and(|w| w.contains("30 of 40")), "{r:?}");
    assert_eq!(a.folder.client().tree("/s").await.unwrap().heads.len(), 40);
    a.reopen(true).await;
    let r = a.sync().await;
    assert_eq!(r.removed_remote, 30);
    assert_eq!(a.folder.client().tree("/s").await.unwrap().heads.len(), 10);
}
