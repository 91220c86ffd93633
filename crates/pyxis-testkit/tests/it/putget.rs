//! Files and trees in and out, byte for byte.

use pyxis_testkit::Cluster;

use crate::support::{random_file, same_file};

#[tokio::test]
async fn sizes_round_trip() {
    let c = Cluster::start(6).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let work = c.dir.path().join("work");
    for (i, len) in [0usize, 1, 4096, 4097, 300_000, 5 << 20].into_iter().enumerate() {
        let src = work.join(format!("in-{len}"));
        random_file(&src, i as u64, len);
        let report = alice.put(&src, &format!("/f{len}")).await.unwrap();
        assert_eq!(report.files, 1, "{len}: {report:?}");
        assert!(report.failed.is_empty(), "{report:?}");
        let out = work.join(format!("out-{len}"));
        alice.get(&format!("/f{len}"), &out, None).await.unwrap();
        same_file(&src, &out);
    }
    let ls = alice.api().list("/", false, None).await.unwrap();
    assert_eq!(ls.entries.len(), 6);
}
