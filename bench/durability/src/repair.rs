//! The repair loop: chunks that `Health::needs_repair` queued, repaired in
//! `repair::priority` order while the bandwidth budget lasts, their rebuilt
//! shards written where `repair::targets` says.
//!
//! A repair reads k healthy shards and writes every shard that is not
//! healthy — lost ones and, if any, unavailable ones too (the server counts
//! both as missing, `healthy < n`): afterwards the chunk is whole on online
//! remotes, and copies on remotes that come back are orphans the server has
//! deleted. So repairing `m` shards of a chunk costs `(k + m)` shard
//! transfers, which is what makes a low threshold cheap: the k reads are
//! shared by every shard rebuilt at once.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

use pyxis_core::placement::Candidate;
use pyxis_core::repair::{self, Health, ShardStatus};

use crate::network::{ChunkId, Network, RemoteId};

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
    /// Repairs skipped because too few shards were readable at the time
    /// (the chunk waits for remotes to return).
    pub waiting: u64,
    /// Repairs skipped because too few online remotes had room.
    pub no_targets: u64,
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
    pub fn run(&mut self, net: &mut Network, now: u64, credit: &mut i64) {
        let mut cands = net.candidates();
        let mut cursor: Option<Entry> = None;
        while *credit > 0 {
            let next = match cursor {
                None => self.queue.iter().next(),
                Some(e) => self.queue.range((Bound::Excluded(e), Bound::Unbounded)).next(),
            };
            let Some(&e) = next else { break };
            cursor = Some(e);
            if !e.health.recoverable() {
                self.stats.waiting += 1;
                continue;
            }
            match repair_chunk(net, e.chunk, now, &mut cands) {
                Some(cost) => {
                    *credit -= cost as i64;
                    self.remove(e.chunk);
                    self.stats.repairs += 1;
                    let k = net.scheme().data() as u64;
                    let shard = net.shard_bytes();
                    let written = cost / shard - k;
                    self.stats.shards_rebuilt += written;
                    self.stats.bytes_read += k * shard;
                    self.stats.bytes_written += written * shard;
                }
                None => self.stats.no_targets += 1,
            }
        }
        self.stats.peak_backlog = self.stats.peak_backlog.max(self.queue.len() as u64);
    }
}

/// Rebuilds every shard of `c` that is not healthy onto the remotes
/// `repair::targets` picks; returns the bytes moved (k shards read, one
/// written per rebuilt shard), or `None` if there are not enough targets.
pub fn repair_chunk(net: &mut Network, c: ChunkId, now: u64, cands: &mut [Candidate]) -> Option<u64> {
    let shards = net.shards(c).to_vec();
    let missing: Vec<usize> =
        (0..shards.len()).filter(|&i| net.status(shards[i], now) != ShardStatus::Healthy).collect();
    let holding: Vec<i64> = shards.iter().map(|&r| i64::from(r)).collect();
    let to = repair::targets(net.key(c), cands, &holding, missing.len()).ok()?;
    for (&i, &r) in missing.iter().zip(&to) {
        net.move_shard(c, i, RemoteId::try_from(r).expect("candidate ids are remote ids"), cands);
    }
    debug_assert!(distinct(net.shards(c)), "chunk {c} has two shards on one remote");
    Some((net.scheme().data() + missing.len()) as u64 * net.shard_bytes())
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
        let mut net = Network::new("4+2".parse().unwrap(), 10, 24);
        for _ in 0..12 {
            net.add_remote(1_000_000);
        }
        let mut cands = net.candidates();
        for i in 0..60u8 {
            net.add_chunk([i; 32], &mut cands).unwrap();
        }
        // Two remotes gone past the grace: chunks on both are at margin 0,
        // chunks on one at margin 1.
        net.set_offline(0, 0);
        net.set_offline(1, 0);
        let now = 100;
        let mut q = RepairQueue::default();
        let healths: Vec<Health> = (0..60).map(|c| net.health(c, now)).collect();
        for (c, h) in healths.iter().enumerate() {
            q.update(c as ChunkId, *h, 5);
        }
        let first = (0..60u32).filter(|&c| healths[c as usize].margin() == 0).min().expect("a chunk on both");
        assert!(q.len() > 1);
        let before = q.len();
        // One byte of credit: the first repair overdraws it and ends the step.
        let mut credit = 1;
        q.run(&mut net, now, &mut credit);
        assert_eq!(q.len(), before - 1);
        assert_eq!(q.stats.repairs, 1);
        assert_eq!(net.health(first, now).healthy, 6, "the margin-0 chunk went first");
        assert_eq!(credit, 1 - (4 + 2) * 10, "k reads and two writes");
        assert!(q.queued[first as usize].is_none());
    }
}
