//! The running counts against what the shards say, through every change.

use super::*;
use pyxis_core::placement;

fn net(remotes: usize) -> (Network, Vec<Candidate>) {
    let mut n = Network::new("4+2".parse().unwrap(), 100);
    for _ in 0..remotes {
        n.add_remote(1_000_000);
    }
    let cands = n.candidates();
    (n, cands)
}

fn add(n: &mut Network, key: [u8; 32], cands: &[Candidate]) -> ChunkId {
    let ids = placement::choose(&key, cands, n.scheme().total()).unwrap();
    n.add_chunk(key, &ids.iter().map(|&r| r as RemoteId).collect::<Vec<_>>())
}

#[test]
fn counts_follow_the_holders() {
    let (mut n, cands) = net(8);
    let c = add(&mut n, [1; 32], &cands);
    let r = n.shards(c)[0];
    assert_eq!(n.assess(c).0.healthy, 6);
    n.go_offline(r, 10);
    assert_eq!(n.assess(c).0, Health { scheme: n.scheme(), healthy: 5, unavailable: 1 });
    n.grace_over(r);
    assert_eq!(n.assess(c).0, Health { scheme: n.scheme(), healthy: 5, unavailable: 0 });
    assert_eq!(n.assess(c).1, 6, "offline past the grace is not gone");
    n.come_online(r);
    assert_eq!(n.assess(c).0.healthy, 6, "a remote back from an outage counts again");
    n.depart(r, 40);
    assert_eq!(n.status(r), ShardStatus::Unavailable, "a departure looks like an outage");
    assert_eq!(n.offline_since(r), Some(40));
    assert_eq!(n.assess(c).1, 5);
}

#[test]
fn moves_free_space_and_take_the_chunk_off_the_old_remote() {
    let (mut n, cands) = net(8);
    let c = add(&mut n, [2; 32], &cands);
    let d = add(&mut n, [3; 32], &cands);
    let holders = n.shards(c).to_vec();
    assert!(holders.iter().all(|&r| n.remote(r).used >= 100));
    let spare = (0..8).find(|r| !holders.contains(r)).unwrap();
    let used = n.remote(holders[0]).used;
    n.go_offline(holders[0], 0);
    let spare_used = n.remote(spare).used;
    n.move_shard(c, 0, spare);
    assert_eq!(n.remote(holders[0]).used, used - 100);
    assert_eq!(n.remote(spare).used, spare_used + 100);
    assert_eq!(n.assess(c).0.healthy, 6);
    n.take_dirty();
    n.come_online(holders[0]);
    let dirty = n.take_dirty();
    assert!(!dirty.contains(&c), "the moved shard no longer ties c to its old remote");
    assert_eq!(dirty.contains(&d), n.shards(d).contains(&holders[0]));
    n.mark_lost(d);
    assert!(n.remote(holders[1]).used <= used, "a lost chunk's shards are freed");
}

#[test]
fn a_liars_shards_count_for_the_server_but_not_for_durability() {
    let (mut n, _) = net(8);
    let liar = n.add_remote_as(1_000_000, Nature { liar: true, greedy: false }, false);
    let c = n.add_chunk([4; 32], &[liar, 0, 1, 2, 3, 4]);
    assert_eq!(n.assess(c), (Health { scheme: n.scheme(), healthy: 6, unavailable: 0 }, 5));
    assert!(!n.is_real(c, 0) && n.is_real(c, 1));
    // Found out: the shard is lost for the server too, and stays lost
    // when the liar reboots; suspect, it is out of placement for good.
    assert!(n.mark_shard_lost(c, 0) && !n.mark_shard_lost(c, 0));
    n.go_offline(liar, 5);
    n.come_online(liar);
    assert_eq!(n.assess(c).0.healthy, 5);
    let d = n.add_chunk([5; 32], &[liar, 0, 1, 2, 3, 5]);
    n.make_suspect(liar);
    n.come_online(liar);
    assert_eq!(n.assess(d).0.healthy, 5, "a suspect remote's shards stay lost");
    assert!(n.candidates().iter().all(|x| x.id != i64::from(liar)));
    // A repair writing to an honest remote makes the shard real.
    n.move_shard(d, 0, 6);
    assert_eq!(n.assess(d), (Health { scheme: n.scheme(), healthy: 6, unavailable: 0 }, 6));
}

#[test]
fn a_shard_that_never_arrived_is_lost_until_written() {
    let (mut n, _) = net(8);
    let c = n.add_chunk_with([6; 32], &[0, 1, 2, 3, 4, 5], |i| i < 5);
    assert_eq!(n.assess(c), (Health { scheme: n.scheme(), healthy: 5, unavailable: 0 }, 5));
    assert_eq!(n.take_dirty(), [c], "a new chunk is evaluated");
    n.move_shard(c, 5, 5);
    assert_eq!(n.assess(c).1, 6, "written back to the remote it was bound for");
}
