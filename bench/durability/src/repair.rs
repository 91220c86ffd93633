//! The repair loop: chunks that `Health::needs_repair` queued, repaired in
//! `repair::priority` order while the bandwidth budget lasts, their rebuilt
//! shards written where `repair::destinations` says.
//!
//! A repair reads k healthy shards and writes every shard that is not
//! healthy — lost ones and, if any, unavailable ones too (the server counts
//! both as missing, `healthy < n`): afterwards the chunk is whole on online
//! remotes, and copies on remotes that come back are orphans the server has
//! deleted. So repairing `m` shards of a chunk costs `(k + m)` shard
//! transfers: repairing late (a threshold well below n) is cheap because
//! the k reads are shared by every shard rebuilt at once.
//!
//! As the server's `read_k` does, the reads go through the shards it counts
//! on online remotes (suspect ones last), by index: a shard a liar only
//! acknowledged is not there, so it is marked lost (for a later repair to
//! rebuild) and the next one is tried; with fewer than k read the repair
//! fails, its reads spent. Where each rebuilt shard goes follows
//! `repair::destinations`: back to its remote if that one is online in good
//! standing (no audit failed since its last pass: a shard that rotted),
//! elsewhere otherwise, with unvetted remotes holding at most
//! `max_unvetted` shards of the chunk, counting those they keep.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

use pyxis_core::placement::Candidate;
use pyxis_core::policy::max_unvetted;
use pyxis_core::repair::{self, Health, Limit, LostOn, ShardStatus};

use crate::network::{ChunkId, Network, RemoteId};
use crate::par;

/// A queued chunk with the health it was queued with (still current: every
/// change of a holder's state re-evaluates the chunk before repair runs).
#[derive(Clone, Copy, Debug)]
struct Entry {
    health: Health,
    chunk: ChunkId,
}

// The server's order, then chunk id so that the order is total and a run
// deterministic.
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        repair::priority(&self.health, &other.health).then(self.chunk.cmp(&other.chunk))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

/// What repair did, in shards and simulated bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepairStats {
    /// Chunks repaired.
    pub repairs: u64,
    pub shards_rebuilt: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Times a queued chunk was passed over because too few shards were
    /// readable (it waits for remotes to return); counted per step.
    pub waiting: u64,
    /// Repairs skipped because too few online remotes had room.
    pub no_targets: u64,
    /// Repairs whose targets filled up within the step and were re-ranked.
    pub reranked: u64,
    /// Most chunks queued at the end of a step.
    pub peak_backlog: u64,
    /// Repairs that could not read k shards (a liar's were not there).
    pub read_failures: u64,
    /// Shards a repair read found missing (marked lost; all on liars).
    pub found_missing: u64,
    /// Repairs of chunks with no lost shard, only unavailable ones: done
    /// because only k were readable, never for a reboot alone.
    pub without_loss: u64,
    /// Shards rebuilt because their remote was offline within the grace
    /// (they came with a repair that lost shards called for).
    pub rebuilt_unavailable: u64,
    /// Rebuilt shards written to liars (acknowledged, not kept).
    pub written_to_liars: u64,
    /// Rebuilt shards written to greedy joiners.
    pub written_to_greedy: u64,
    /// Most shards of one chunk counted healthy on unvetted remotes after a
    /// repair (placement keeps it at most `max_unvetted`).
    pub most_unvetted: u64,
}

/// Chunks that need repair, in repair order.
#[derive(Debug, Default)]
pub struct RepairQueue {
    queue: BTreeSet<Entry>,
    /// The health each chunk is queued with, to find its entry again.
    queued: Vec<Option<Health>>,
    pub stats: RepairStats,
}

impl RepairQueue {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Records `c`'s current health: queued if it needs repair, else not.
    pub fn update(&mut self, c: ChunkId, health: Health, threshold: usize) {
        self.remove(c);
        if health.needs_repair(threshold) {
            self.queue.insert(Entry { health, chunk: c });
            self.queued[c as usize] = Some(health);
        }
    }

    pub fn remove(&mut self, c: ChunkId) {
        if self.queued.len() <= c as usize {
            self.queued.resize(c as usize + 1, None);
        }
        if let Some(health) = self.queued[c as usize].take() {
            self.queue.remove(&Entry { health, chunk: c });
        }
    }

    /// Repairs queued chunks in order while `credit` (bytes) is positive; the
    /// last repair may overdraw it, and the caller carries the debt.
    ///
    /// Placement weights are the free space at the start of the step (the
    /// server, too, knows free space from the remotes' periodic reports), so
    /// the targets of a whole batch of repairs can be ranked at once on
    /// `threads` threads; they are applied in queue order, and a target that
    /// has meanwhile run out of room sends that one repair back to a fresh
    /// ranking.
    pub fn run(&mut self, net: &mut Network, credit: &mut i64, threads: usize) {
        let cands = net.candidates();
        let mut cursor: Option<Entry> = None;
        while *credit > 0 {
            let jobs = self.plan(net, *credit, &mut cursor);
            if jobs.is_empty() {
                break;
            }
            let picks = par::map(&jobs, threads, |j| j.destinations(net, &cands));
            for (job, pick) in jobs.iter().zip(picks) {
                self.apply(net, job, pick, credit);
            }
        }
        self.stats.peak_backlog = self.stats.peak_backlog.max(self.queue.len() as u64);
    }

    /// The next queued chunks after `cursor` that `credit` would cover.
    fn plan(&mut self, net: &Network, mut credit: i64, cursor: &mut Option<Entry>) -> Vec<Job> {
        let k = net.scheme().data();
        let mut jobs = Vec::new();
        while credit > 0 {
            let next = match cursor {
                None => self.queue.iter().next(),
                Some(e) => self.queue.range((Bound::Excluded(*e), Bound::Unbounded)).next(),
            };
            let Some(&e) = next else { break };
            *cursor = Some(e);
            if !e.health.recoverable() {
                self.stats.waiting += 1;
                continue;
            }
            let job = Job::new(net, e.chunk);
            credit -= ((k + job.missing.len()) as u64 * net.shard_bytes()) as i64;
            jobs.push(job);
        }
        jobs
    }

    /// Reads k shards of `job`'s chunk, then writes its rebuilt shards to
    /// `pick` (re-ranked if one of them is full by now), charging the
    /// traffic: the shards read, one written per rebuilt shard.
    fn apply(&mut self, net: &mut Network, job: &Job, pick: Option<Vec<i64>>, credit: &mut i64) {
        let id = |r: i64| RemoteId::try_from(r).expect("candidate ids are remote ids");
        let (k, shard) = (net.scheme().data() as u64, net.shard_bytes());
        let read = self.read_k(net, job.chunk);
        *credit -= (read * shard) as i64;
        self.stats.bytes_read += read * shard;
        if read < k {
            self.stats.read_failures += 1;
            return;
        }
        let holders = net.shards(job.chunk);
        // A shard going back to its remote needs no more room there.
        let fits =
            |to: &[i64]| to.iter().zip(&job.missing).all(|(&r, &i)| id(r) == holders[i] || net.weight(id(r)) > 0);
        let pick = match pick {
            Some(to) if fits(&to) => Some(to),
            Some(_) => {
                self.stats.reranked += 1;
                job.destinations(net, &net.candidates())
            }
            None => None,
        };
        let Some(to) = pick else {
            self.stats.no_targets += 1;
            return;
        };
        for (&i, &r) in job.missing.iter().zip(&to) {
            let nature = net.remote(id(r)).nature;
            self.stats.written_to_liars += u64::from(nature.liar);
            self.stats.written_to_greedy += u64::from(nature.greedy);
            net.move_shard(job.chunk, i, id(r));
        }
        debug_assert!(distinct(net.shards(job.chunk)), "chunk {} has two shards on one remote", job.chunk);
        let m = job.missing.len() as u64;
        *credit -= (m * shard) as i64;
        self.remove(job.chunk);
        self.stats.repairs += 1;
        self.stats.shards_rebuilt += m;
        self.stats.bytes_written += m * shard;
        self.stats.without_loss += u64::from(job.unavailable == m);
        self.stats.rebuilt_unavailable += job.unavailable;
        self.stats.most_unvetted = self.stats.most_unvetted.max(unvetted_healthy(net, job.chunk));
    }

    /// The server's `read_k`: through the shards it has not marked lost on
    /// online remotes, suspect ones last, by index, until k are read. A
    /// shard that is not there is marked lost. Returns the shards read.
    fn read_k(&mut self, net: &mut Network, c: ChunkId) -> u64 {
        let k = net.scheme().data() as u64;
        let holders = net.shards(c);
        let mut sources: Vec<(bool, usize)> = (0..holders.len())
            .filter(|&i| net.offline_since(holders[i]).is_none() && !net.is_marked(c, i))
            .map(|i| (net.is_suspect(holders[i]), i))
            .collect();
        sources.sort_unstable();
        let mut read = 0;
        for (_, i) in sources {
            if read == k {
                break;
            }
            if net.is_real(c, i) {
                read += 1;
            } else if net.mark_shard_lost(c, i) {
                self.stats.found_missing += 1;
            }
        }
        read
    }
}

/// Shards of `c` the server counts healthy on unvetted remotes.
fn unvetted_healthy(net: &Network, c: ChunkId) -> u64 {
    let holders = net.shards(c);
    let unvetted = |&i: &usize| net.shard_status(c, i) == ShardStatus::Healthy && !net.remote(holders[i]).vetted;
    (0..holders.len()).filter(unvetted).count() as u64
}

/// Where the remote holding a shard the server counts missing stands, as
/// the server's repair worker judges it.
fn lost_on(net: &Network, r: RemoteId) -> LostOn {
    if net.offline_since(r).is_some() || net.is_suspect(r) {
        LostOn::Away
    } else if net.remote(r).audit_failures == 0 {
        LostOn::GoodStanding(i64::from(r))
    } else {
        LostOn::Failing(i64::from(r))
    }
}

/// One planned repair: the shards to rebuild, where their remotes stand, the
/// chunk's holders (which targets must skip) and how many more shards
/// unvetted remotes may take.
#[derive(Debug)]
struct Job {
    chunk: ChunkId,
    missing: Vec<usize>,
    lost_on: Vec<LostOn>,
    holding: Vec<i64>,
    max_unvetted: usize,
    /// Missing shards that are only unavailable (offline within the grace).
    unavailable: u64,
}

impl Job {
    fn new(net: &Network, c: ChunkId) -> Job {
        let holders = net.shards(c);
        let status = |i: usize| net.shard_status(c, i);
        let missing: Vec<usize> = (0..holders.len()).filter(|&i| status(i) != ShardStatus::Healthy).collect();
        let lost_on: Vec<LostOn> = missing.iter().map(|&i| lost_on(net, holders[i])).collect();
        // As the server counts them: unvetted remotes that keep a healthy
        // shard or get theirs back.
        let kept = (0..holders.len())
            .filter(|&i| !net.remote(holders[i]).vetted)
            .filter(|&i| {
                status(i) == ShardStatus::Healthy || lost_on.contains(&LostOn::GoodStanding(i64::from(holders[i])))
            })
            .count();
        Job {
            chunk: c,
            unavailable: missing.iter().filter(|&&i| status(i) == ShardStatus::Unavailable).count() as u64,
            lost_on,
            missing,
            holding: holders.iter().map(|&r| i64::from(r)).collect(),
            max_unvetted: max_unvetted(net.scheme()).saturating_sub(kept),
        }
    }

    /// `repair::destinations` over `cands`, unvetted remotes limited.
    fn destinations(&self, net: &Network, cands: &[Candidate]) -> Option<Vec<i64>> {
        let unvetted = |id: i64| !net.is_vetted(id);
        let limit = Limit { limited: &unvetted, max: self.max_unvetted };
        repair::destinations(net.key(self.chunk), &self.lost_on, cands, &self.holding, &limit).ok()
    }
}

pub fn distinct(remotes: &[RemoteId]) -> bool {
    let mut v = remotes.to_vec();
    v.sort_unstable();
    v.windows(2).all(|w| w[0] != w[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs_closest_to_loss_first_within_the_budget() {
        let mut net = Network::new("4+2".parse().unwrap(), 10);
        for _ in 0..12 {
            net.add_remote(1_000_000);
        }
        let cands = net.candidates();
        for i in 0..60u8 {
            let to = pyxis_core::placement::choose(&[i; 32], &cands, 6).unwrap();
            net.add_chunk([i; 32], &to.iter().map(|&r| r as RemoteId).collect::<Vec<_>>());
        }
        // Two remotes gone past the grace: chunks on both are at margin 0,
        // chunks on one at margin 1.
        for r in [0, 1] {
            net.go_offline(r, 0);
            net.grace_over(r);
        }
        let mut q = RepairQueue::default();
        let healths: Vec<Health> = (0..60).map(|c| net.assess(c).0).collect();
        for (c, h) in healths.iter().enumerate() {
            q.update(c as ChunkId, *h, 5);
        }
        let first = (0..60u32).filter(|&c| healths[c as usize].margin() == 0).min().expect("a chunk on both");
        assert!(q.len() > 1);
        let before = q.len();
        // One byte of credit: the first repair overdraws it and ends the step.
        let mut credit = 1;
        q.run(&mut net, &mut credit, 2);
        assert_eq!(q.len(), before - 1);
        assert_eq!(q.stats.repairs, 1);
        assert_eq!(net.assess(first).0.healthy, 6, "the margin-0 chunk went first");
        assert_eq!(credit, 1 - (4 + 2) * 10, "k reads and two writes");
        assert!(q.queued[first as usize].is_none());
    }

    #[test]
    fn a_read_finds_a_liars_shard_missing_and_it_goes_back_while_the_liar_is_in_good_standing() {
        use crate::network::Nature;
        let mut net = Network::new("4+2".parse().unwrap(), 10);
        for _ in 0..8 {
            net.add_remote(1_000_000);
        }
        let liar = net.add_remote_as(1_000_000, Nature { liar: true, greedy: false }, false);
        let c = net.add_chunk([1; 32], &[liar, 0, 1, 2, 3, 4]);
        let repair = |net: &mut Network, q: &mut RepairQueue| {
            q.update(c, net.assess(c).0, 5);
            let mut credit = 1 << 40;
            q.run(net, &mut credit, 1);
        };
        // Remote 4 gone past the grace: 5 healthy as the server counts, the
        // liar's among them.
        net.go_offline(4, 0);
        net.grace_over(4);
        let mut q = RepairQueue::default();
        repair(&mut net, &mut q);
        assert_eq!((q.stats.repairs, q.stats.found_missing, q.stats.shards_rebuilt), (1, 1, 1));
        assert_eq!(q.stats.bytes_read, 4 * 10, "shard 0 was not there; 1 to 4 were read");
        assert_eq!(net.shard_status(c, 0), ShardStatus::Lost, "marked lost by the read");
        assert!(!net.shards(c).contains(&4) && net.assess(c).1 == 5);
        // The liar failed no audit, so the server's repair sends the
        // rebuilt shard back to it, to be discarded again.
        repair(&mut net, &mut q);
        assert_eq!(net.shards(c)[0], liar);
        assert_eq!((net.shard_status(c, 0), net.is_real(c, 0)), (ShardStatus::Healthy, false));
        assert_eq!(q.stats.written_to_liars, 1);
        // Once an audit failed on it, the shard goes elsewhere.
        net.mark_shard_lost(c, 0);
        net.remote_mut(liar).audit_failures = 1;
        repair(&mut net, &mut q);
        assert_ne!(net.shards(c)[0], liar);
        assert_eq!(net.assess(c), (Health { scheme: net.scheme(), healthy: 6, unavailable: 0 }, 6));
    }

    #[test]
    fn a_repair_that_cannot_read_k_shards_spends_its_reads_and_writes_nothing() {
        use crate::network::Nature;
        let mut net = Network::new("4+2".parse().unwrap(), 10);
        for _ in 0..8 {
            net.add_remote(1_000_000);
        }
        let liar = net.add_remote_as(1_000_000, Nature { liar: true, greedy: false }, false);
        let c = net.add_chunk([1; 32], &[liar, 0, 1, 2, 3, 4]);
        for r in [3, 4] {
            net.go_offline(r, 0);
            net.grace_over(r);
        }
        // 4 healthy as the server counts: recoverable on paper, 3 real.
        let mut q = RepairQueue::default();
        q.update(c, net.assess(c).0, 5);
        let mut credit = 1 << 40;
        q.run(&mut net, &mut credit, 1);
        assert_eq!((q.stats.read_failures, q.stats.repairs, q.stats.bytes_written), (1, 0, 0));
        assert_eq!(q.stats.bytes_read, 3 * 10);
        assert_eq!(net.assess(c).0.healthy, 3, "the server now knows");
    }
}
