//! The repair loop: chunks that `Health::needs_repair` queued, repaired in
//! `repair::priority` order while the bandwidth budget lasts, their rebuilt
//! shards written where `repair::targets` says.
//!
//! A repair reads k healthy shards and writes every shard that is not
//! healthy — lost ones and, if any, unavailable ones too (the server counts
//! both as missing, `healthy < n`): afterwards the chunk is whole on online
//! remotes, and copies on remotes that come back are orphans the server has
//! deleted. So repairing `m` shards of a chunk costs `(k + m)` shard
//! transfers: repairing late (a threshold well below n) is cheap because
//! the k reads are shared by every shard rebuilt at once.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

use pyxis_core::repair::{self, Health, ShardStatus};

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
            let picks = par::map(&jobs, threads, |j| {
                repair::targets(net.key(j.chunk), &cands, &j.holding, j.missing.len()).ok()
            });
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
            let shards = net.shards(e.chunk);
            let missing: Vec<usize> =
                (0..shards.len()).filter(|&i| net.status(shards[i]) != ShardStatus::Healthy).collect();
            credit -= ((k + missing.len()) as u64 * net.shard_bytes()) as i64;
            jobs.push(Job { chunk: e.chunk, missing, holding: shards.iter().map(|&r| i64::from(r)).collect() });
        }
        jobs
    }

    /// Writes `job`'s rebuilt shards to `pick` (re-ranked if one of them is
    /// full by now) and charges the traffic: k shards read, one written per
    /// rebuilt shard.
    fn apply(&mut self, net: &mut Network, job: &Job, pick: Option<Vec<i64>>, credit: &mut i64) {
        let id = |r: i64| RemoteId::try_from(r).expect("candidate ids are remote ids");
        let pick = match pick {
            Some(to) if to.iter().all(|&r| net.weight(id(r)) > 0) => Some(to),
            Some(_) => {
                self.stats.reranked += 1;
                repair::targets(net.key(job.chunk), &net.candidates(), &job.holding, job.missing.len()).ok()
            }
            None => None,
        };
        let Some(to) = pick else {
            self.stats.no_targets += 1;
            return;
        };
        for (&i, &r) in job.missing.iter().zip(&to) {
            net.move_shard(job.chunk, i, id(r));
        }
        debug_assert!(distinct(net.shards(job.chunk)), "chunk {} has two shards on one remote", job.chunk);
        let (k, m, shard) = (net.scheme().data() as u64, job.missing.len() as u64, net.shard_bytes());
        *credit -= ((k + m) * shard) as i64;
        self.remove(job.chunk);
        self.stats.repairs += 1;
        self.stats.shards_rebuilt += m;
        self.stats.bytes_read += k * shard;
        self.stats.bytes_written += m * shard;
    }
}

/// One planned repair: the shards to rebuild and the chunk's holders (which
/// `targets` must skip).
#[derive(Debug)]
struct Job {
    chunk: ChunkId,
    missing: Vec<usize>,
    holding: Vec<i64>,
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
}
