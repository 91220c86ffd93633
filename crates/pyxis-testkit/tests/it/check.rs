//! `pyxis check`: passes on a healthy tree, and only `--read-data` catches a
//! chunk whose shards are all gone while the catalog still places them.

use pyxis_proto::ShardHash;
use pyxis_testkit::Cluster;

use crate::support::random_file;

#[tokio::test]
async fn check_passes_on_a_healthy_tree_and_read_data_finds_a_shardless_chunk() {
    let c = Cluster::start(4).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let src = c.dir.path().join("tree");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    random_file(&src.join("big"), 1, 3 << 20);
    random_file(&src.join("sub/small"), 2, 10_000);
    random_file(&src.join("sub/tiny"), 3, 100);
    a.put(&src, "/tree").await.unwrap();

    let r = a.check("/", true).await.unwrap();
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.files, 3);
    assert!(r.chunks >= 2 && r.chunks_read == r.chunks, "{r:?}");
    assert!(r.bytes_read >= 3 << 20);

    // Every shard of one of /tree/big's chunks vanishes from every remote,
    // behind the catalog's back.
    let db = c.server().state().db.clone();
    let user = db.user_by_name("alice").await.unwrap().unwrap().id;
    let files = a
        .api()
        .read(&pyxis_proto::api::catalog::ReadRequest { paths: vec!["/tree/big".into()], version: None })
        .await
        .unwrap()
        .files;
    let chunk = files[0].chunks[0];
    for s in db.chunk_shards(user, &chunk).await.unwrap() {
        let h = ShardHash::from_slice(&s.hash).unwrap();
        for i in 0..4 {
            c.remote(i).store().delete(&h).await.unwrap();
        }
    }
    // The catalog still places them: only reading them back tells.
    let quick = a.check("/", false).await.unwrap();
    assert!(quick.ok(), "{quick:?}");
    let full = a.check("/", true).await.unwrap();
    assert!(!full.ok());
    assert_eq!(full.problems.len(), 1, "{full:?}");
    let p = &full.problems[0];
    assert_eq!(p.path, "/tree/big");
    assert!(p.error.contains(&chunk.to_string()) && p.error.contains("does not read back"), "{}", p.error);
}
