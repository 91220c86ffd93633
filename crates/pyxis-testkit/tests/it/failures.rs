//! Remotes failing under transfers: uploads move on to new placements,
//! downloads read the shards that are left.

use std::sync::atomic::Ordering;
use std::time::Duration;

use pyxis_testkit::Cluster;

use crate::support::{random_file, same_file};

#[tokio::test]
async fn a_remote_dying_during_upload_is_replaced() {
    let mut c = Cluster::start(7).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 3, 48 << 20);
    let progress = a.progress();
    let put = async { a.put(&f, "/f").await };
    let kill = async {
        while progress.wire.load(Ordering::Relaxed) < 4 << 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        c.stop_remote(0).await;
    };
    let (r, ()) = tokio::join!(put, kill);
    let r = r.unwrap();
    assert!(r.failed.is_empty());
    let out = c.dir.path().join("f.out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn downloads_survive_lost_remotes() {
    let mut c = Cluster::start(6).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 4, 24 << 20);
    assert_eq!(a.put(&f, "/f").await.unwrap().scheme, "4+2");
    // Two remotes gone (the parity budget of 4+2), one of them mid-download.
    c.stop_remote(1).await;
    let out = c.dir.path().join("f.out");
    let progress = a.progress();
    let get = async { a.get("/f", &out, None).await };
    let kill = async {
        while progress.done.load(Ordering::Relaxed) < 2 << 20 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        c.stop_remote(4).await;
    };
    let (r, ()) = tokio::join!(get, kill);
    r.unwrap();
    same_file(&f, &out);
}
