//! Small scenarios built through the simulation's own API.

use super::*;
use crate::params::Params;
use crate::repair::distinct;

/// A small network with no random churn, so a test decides every event.
fn calm(remotes: usize, chunks: usize, scheme: &str) -> Params {
    Params {
        remotes,
        chunks,
        scheme: Some(crate::params::parse_scheme(scheme).unwrap()),
        mean_lifetime_days: f64::INFINITY,
        offline_per_day: 0.0,
        days: 10.0,
        ..Params::default()
    }
}

fn sim(p: Params) -> Sim {
    Sim::new(Config::new(p).unwrap()).unwrap()
}

fn steps(s: &mut Sim, hours: u64) {
    for _ in 0..hours {
        s.step();
    }
}

#[test]
fn no_churn_no_loss_no_repair() {
    let p = Params { days: 60.0, ..calm(100, 2000, "6+4") };
    let mut s = sim(p);
    s.run();
    let r = s.summary(Duration::ZERO);
    assert_eq!((r.chunks_lost, r.repairs, r.repair_bytes_read + r.repair_bytes_written), (0, 0, 0));
    assert_eq!((r.remotes_departed, r.outages), (0, 0));
    assert_eq!(r.worst_margin, 4);
    assert_eq!(r.min_margin_histogram, BTreeMap::from([(4, 2000)]));
}

#[test]
fn parity_plus_one_departures_without_repair_lose_the_chunk() {
    for (departures, lost) in [(2, false), (3, true), (5, true)] {
        // 4+2: m + 1 = 3 departures leave 3 < k shards; k + 1 = 5 too.
        let mut s = sim(Params { repair_mbps: 0.0, ..calm(30, 300, "4+2") });
        for &r in &s.holders(0)[..departures] {
            s.depart(r);
        }
        steps(&mut s, 48);
        assert_eq!(s.network().is_lost(0), lost, "{departures} departures");
        assert_eq!(s.repair_stats().repairs, 0);
        assert!(s.chunks_lost() >= u64::from(lost));
        assert_eq!(s.churn_stats().joined, departures as u64, "each departure is replaced");
        let r = s.summary(Duration::ZERO);
        assert_eq!(r.worst_durable_margin, if lost { 0 } else { 2 - departures as i64 }, "survivors only");
    }
}

#[test]
fn shards_in_an_outage_past_the_grace_are_not_lost_for_good() {
    let mut s = sim(Params { repair_mbps: 0.0, ..calm(30, 300, "4+2") });
    let holders = s.holders(0);
    for &r in &holders[..3] {
        s.outage(r, 72.0);
    }
    steps(&mut s, 48);
    // The server counts them lost (past the 24 h grace), but they return.
    assert_eq!(s.network().assess(0).0.healthy, 3);
    assert!(!s.network().is_lost(0));
    steps(&mut s, 48);
    assert_eq!(s.network().assess(0).0.healthy, 6, "back with their shards");
    assert_eq!(s.chunks_lost(), 0);
}

#[test]
fn a_departure_is_repaired_only_after_the_grace() {
    let mut s = sim(calm(30, 300, "4+2"));
    let gone = s.holders(0)[0];
    s.depart(gone);
    steps(&mut s, 24);
    assert_eq!(s.repair_stats().repairs, 0, "within the grace the shards are only unavailable");
    steps(&mut s, 1);
    assert!(s.repair_stats().repairs > 0);
    assert!(!s.holders(0).contains(&gone));
    assert_eq!(s.network().assess(0).0.healthy, 6);
}

#[test]
fn one_shard_repairs_cost_k_reads_and_one_write() {
    // 4+2 with threshold 5: one lost shard triggers repair, so every repair
    // rebuilds exactly one shard. Bandwidth to repair everything at once.
    let mut s = sim(Params { repair_mbps: 1e9, ..calm(30, 300, "4+2") });
    let gone = 7;
    let held = (0..300).filter(|&c| s.holders(c).contains(&gone)).count() as u64;
    assert!(held > 0);
    s.depart(gone);
    steps(&mut s, 26);
    let st = s.repair_stats();
    let shard = s.network().shard_bytes();
    assert_eq!((st.repairs, st.shards_rebuilt), (held, held));
    assert_eq!(st.bytes_read, held * 4 * shard);
    assert_eq!(st.bytes_written, held * shard);
    assert_eq!((st.bytes_read + st.bytes_written) / st.shards_rebuilt, 5 * shard, "k reads + 1 write per shard");
}

#[test]
fn multi_shard_repairs_share_the_k_reads() {
    // 6+4, threshold 8 (the default): three lost shards of chunk 0 are rebuilt in one
    // repair that reads 6 and writes 3.
    let mut s = sim(calm(40, 400, "6+4"));
    for &r in &s.holders(0)[..3] {
        s.depart(r);
    }
    steps(&mut s, 26);
    let st = s.repair_stats();
    let shard = s.network().shard_bytes();
    assert!(st.repairs >= 1 && st.shards_rebuilt >= 3);
    assert_eq!(st.bytes_read, st.repairs * 6 * shard);
    assert_eq!(st.bytes_written, st.shards_rebuilt * shard);
    assert_eq!(s.network().assess(0).0.healthy, 10);
}

#[test]
fn repair_never_puts_two_shards_of_a_chunk_on_one_remote() {
    // Harsh churn on a network barely wider than the scheme, so targets
    // often have to skip holders.
    let p = Params {
        mean_lifetime_days: 15.0,
        offline_per_day: 0.3,
        outage_hours: 30.0,
        days: 60.0,
        ..calm(14, 500, "6+4")
    };
    let mut s = sim(p);
    while s.now() < 60 * 24 * HOUR {
        s.step();
        for c in 0..500 {
            assert!(distinct(&s.holders(c)), "chunk {c} at {}", s.now());
            if !s.network().is_lost(c) {
                // Debug builds check the running counts against Health::of.
                s.network().assess(c);
            }
        }
    }
    assert!(s.repair_stats().shards_rebuilt > 1000, "{:?}", s.repair_stats());
}

#[test]
fn same_seed_same_result() {
    let p = Params { remotes: 50, chunks: 1000, days: 60.0, mean_lifetime_days: 60.0, ..Params::default() };
    let run = |p: Params| {
        let mut s = sim(p);
        s.run();
        let r = s.summary(Duration::ZERO);
        (r.chunks_lost, r.repairs, r.shards_rebuilt, r.repair_bytes_read, r.min_margin_histogram, r.outages)
    };
    let a = run(p.clone());
    assert!(a.1 > 0);
    assert_eq!(a, run(p.clone()));
    assert_eq!(a, run(Params { threads: 1, ..p.clone() }), "the thread count changes nothing");
    assert_ne!(a, run(Params { seed: 2, ..p }));
}

#[test]
fn a_reboot_within_the_grace_triggers_no_repair_at_the_default_thresholds() {
    // 4+2 repairs at n-1 = 5 and 6+4 at k+2 = 8: one remote of a 4+2 chunk,
    // or two of a 6+4 chunk, rebooting for 6 h leave healthy + unavailable
    // above the threshold and more than k healthy, so nothing moves.
    for (scheme, threshold, remotes, rebooting) in [("4+2", 5, 30, 1), ("6+4", 8, 40, 2)] {
        let mut s = sim(Params { repair_mbps: 1e9, ..calm(remotes, 10 * remotes, scheme) });
        assert_eq!(s.cfg.threshold, threshold, "{scheme}");
        for &r in &s.holders(0)[..rebooting] {
            s.outage(r, 6.0);
        }
        steps(&mut s, 3);
        let n = s.cfg.scheme.total();
        assert_eq!(s.network().assess(0).0.unavailable, rebooting, "{scheme}: the outage happened");
        steps(&mut s, 27);
        assert_eq!(s.repair_stats(), Default::default(), "{scheme}: {rebooting} rebooting");
        assert_eq!(s.network().assess(0).0.healthy, n, "{scheme}: back with their shards");
    }
}

/// The liars among `s`'s remotes holding shards of `c`.
fn liars_of(s: &Sim, c: ChunkId) -> usize {
    s.holders(c).iter().filter(|&&r| s.network().remote(r).nature.liar).count()
}

#[test]
fn a_liars_shards_are_lost_from_the_start_and_it_never_holds_more_than_the_cap() {
    // Half the remotes lie and nothing audits them: placement still gives
    // them at most max_unvetted (2 of a 6+4 chunk), and what they took
    // exists only on paper.
    let mut s = sim(Params { liars: 0.5, audits_per_hour: 0.0, ..calm(40, 400, "6+4") });
    assert_eq!(s.cfg.max_unvetted, 2);
    for c in 0..400 {
        let liars = liars_of(&s, c);
        assert!(liars <= 2, "chunk {c}: {liars} liars");
        let (health, durable) = s.network().assess(c);
        assert_eq!(health.healthy, 10, "the server believes their receipts");
        assert_eq!(durable, 10 - liars, "chunk {c}: their shards are not there");
    }
    assert!((0..400).any(|c| liars_of(&s, c) == 2), "the cap is reached");
    let r = s.summary(Duration::ZERO);
    assert_eq!(r.start_phantom_shards, (0..400).map(|c| liars_of(&s, c) as u64).sum::<u64>());
    assert_eq!((r.commit_durable_margin, r.chunks_lost), (2, 0));
    s.run();
    assert_eq!(s.chunks_lost(), 0, "liars alone lose nothing");
}

#[test]
fn at_the_success_threshold_every_liar_counted_still_leaves_k_real_shards() {
    // Every chunk committed with only k + ceil(m/2) = 8 shards stored, the
    // two missing ones bound for honest remotes: the worst case, in which
    // both liars' receipts counted.
    let p = Params { liars: 0.5, commit_at_threshold: 1.0, audits_per_hour: 0.0, ..calm(40, 400, "6+4") };
    let mut s = sim(p);
    for c in 0..400 {
        let (health, durable) = s.network().assess(c);
        assert_eq!(health.healthy, s.cfg.success_threshold);
        assert_eq!(durable, 8 - liars_of(&s, c), "chunk {c}");
        assert!(durable >= 6, "chunk {c}: k real shards whatever the liars did");
    }
    let r = s.summary(Duration::ZERO);
    assert_eq!(r.commit_durable_margin, 0, "some chunk is down to exactly k");
    s.run();
    let r = s.summary(Duration::ZERO);
    assert_eq!(r.chunks_lost, 0);
    assert!(r.repairs >= 400, "repair places the shards that never arrived: {}", r.repairs);
}

#[test]
fn audits_catch_liars_and_the_server_stops_counting_what_they_took() {
    let p = Params { liars: 0.2, audits_per_hour: 1.0, repair_mbps: 1e9, ..calm(40, 400, "6+4") };
    let mut s = sim(p);
    let liars: Vec<RemoteId> =
        (0..40).filter(|&r| s.network().remote(r).nature.liar && s.network().remote(r).used > 0).collect();
    assert!(!liars.is_empty());
    steps(&mut s, 4);
    assert!(liars.iter().all(|&r| s.network().is_suspect(r)), "three failed audits, one an hour");
    for c in 0..400 {
        let (health, durable) = s.network().assess(c);
        assert_eq!(health.healthy, durable, "chunk {c}: the server counts only real shards now");
        assert!(health.healthy > s.cfg.threshold, "chunk {c}: chunks that lost two were repaired");
    }
    let r = s.summary(Duration::ZERO);
    assert_eq!((r.suspects, r.audits_failed), (liars.len() as u64, 3 * liars.len() as u64));
    assert_eq!(r.shards_written_to_liars, 0, "a suspect remote gets nothing");
}

#[test]
fn a_capped_greedy_joiner_weighs_what_an_honest_one_could() {
    let greedy = |cap: Option<f64>, no_cap: bool| {
        let p = Params { greedy_joiners: 1.0, claim_tb: 1000.0, capacity_cap_tb: cap, no_cap, ..calm(30, 300, "4+2") };
        let mut s = sim(p);
        s.depart(0);
        let joiner = s.network().remote_count() as RemoteId - 1;
        let r = s.network().remote(joiner);
        assert!(r.nature.greedy && !r.nature.liar && !r.vetted);
        (r.capacity as f64 / s.scale / TB, s.network().weight(joiner) as f64 / s.scale / TB)
    };
    let (capacity, weight) = greedy(Some(2.0), false);
    assert!((capacity - 2.0).abs() < 1e-6 && weight <= capacity, "{capacity} {weight}");
    let (capacity, _) = greedy(None, false);
    assert!((1.0..=16.0).contains(&capacity), "capped like an honest remote: {capacity}");
    let (capacity, weight) = greedy(None, true);
    assert!((capacity - 1000.0).abs() < 1e-6 && (weight - 1000.0).abs() < 1e-6, "believed: {capacity}");
}

#[test]
fn liars_and_greedy_joiners_change_neither_the_churn_nor_the_purity() {
    let p = Params {
        remotes: 50,
        chunks: 1000,
        days: 60.0,
        mean_lifetime_days: 60.0,
        liars: 0.2,
        greedy_joiners: 0.3,
        greedy_liars: true,
        audits_per_hour: 0.3,
        commit_at_threshold: 0.2,
        ..Params::default()
    };
    let run = |p: Params| {
        let mut s = sim(p);
        s.run();
        let r = s.summary(Duration::ZERO);
        let churn = (r.remotes_departed, r.outages, r.outages_past_grace);
        (churn, (r.chunks_lost, r.repairs, r.shards_written_to_liars, r.audits_failed, r.min_margin_histogram))
    };
    let a = run(p.clone());
    assert!(a.1.2 > 0 && a.1.3 > 0, "liars took rebuilt shards and failed audits: {a:?}");
    assert_eq!(a, run(Params { threads: 1, ..p.clone() }), "the thread count changes nothing");
    let honest = run(Params { liars: 0.0, greedy_joiners: 0.0, ..p });
    assert_eq!(a.0, honest.0, "the same churn with or without them");
}
