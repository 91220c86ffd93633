//! The network's state: remotes (capacity, use, presence) and which remote
//! holds every shard of every chunk.
//!
//! A shard's status is its holder's: churn moves a remote between healthy,
//! unavailable (offline within the grace) and lost (offline past it), and a
//! remote back from a long outage makes its shards that were not yet rebuilt
//! elsewhere healthy again, as on the server. What the server cannot know —
//! whether an offline remote will ever return — is kept only to decide when
//! a chunk is lost for good.
//!
//! Every chunk keeps running counts of its healthy, unavailable and durable
//! shards, updated when a holder changes state or a shard moves: with 80
//! shards a chunk and thousands of chunks a remote, recounting on every
//! event would be most of the run. Debug builds check the counts against
//! `Health::of` over the shards' statuses each time they are read.

use pyxis_core::placement::Candidate;
use pyxis_core::repair::{Health, ShardStatus};
use pyxis_proto::Scheme;

pub type RemoteId = u32;
pub type ChunkId = u32;
/// Shard `i` of chunk `c` is slot `c * n + i`.
type Slot = u32;

#[derive(Clone, Copy, Debug)]
struct Presence {
    /// When the server last saw it go offline; `None` while online. A
    /// departed remote just stays offline: the server cannot tell it from an
    /// outage.
    offline_since: Option<u64>,
    /// Gone for good with its shards (known to the simulation only).
    departed: bool,
    /// What its shards count as.
    status: ShardStatus,
}

#[derive(Clone, Debug)]
pub struct Remote {
    pub capacity: u64,
    pub used: u64,
    /// The slots it holds, so a change of state finds the chunks it affects.
    holdings: Vec<Slot>,
}

impl Remote {
    pub fn free(&self) -> u64 {
        self.capacity.saturating_sub(self.used)
    }
}

/// A chunk's shards by their holder's state (n is at most 255).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    healthy: u8,
    unavailable: u8,
    /// On remotes that have not departed: they exist or will return.
    durable: u8,
}

impl Counts {
    fn add(&mut self, status: ShardStatus, durable: bool, up: bool) {
        let step = |x: &mut u8| if up { *x += 1 } else { *x -= 1 };
        match status {
            ShardStatus::Healthy => step(&mut self.healthy),
            ShardStatus::Unavailable => step(&mut self.unavailable),
            ShardStatus::Lost => {}
        }
        if durable {
            step(&mut self.durable);
        }
    }
}

#[derive(Debug)]
pub struct Network {
    scheme: Scheme,
    shard_bytes: u64,
    remotes: Vec<Remote>,
    presence: Vec<Presence>,
    slots: Vec<RemoteId>,
    /// Where each slot sits in its holder's `holdings` (for O(1) removal).
    slot_pos: Vec<u32>,
    counts: Vec<Counts>,
    keys: Vec<[u8; 32]>,
    lost: Vec<bool>,
    /// Chunks whose counts changed since the last `take_dirty`.
    dirty: Vec<ChunkId>,
    is_dirty: Vec<bool>,
}

impl Network {
    pub fn new(scheme: Scheme, shard_bytes: u64) -> Self {
        Network {
            scheme,
            shard_bytes,
            remotes: Vec::new(),
            presence: Vec::new(),
            slots: Vec::new(),
            slot_pos: Vec::new(),
            counts: Vec::new(),
            keys: Vec::new(),
            lost: Vec::new(),
            dirty: Vec::new(),
            is_dirty: Vec::new(),
        }
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn shard_bytes(&self) -> u64 {
        self.shard_bytes
    }

    pub fn remote(&self, r: RemoteId) -> &Remote {
        &self.remotes[r as usize]
    }

    pub fn remote_count(&self) -> usize {
        self.remotes.len()
    }

    pub fn offline_since(&self, r: RemoteId) -> Option<u64> {
        self.presence[r as usize].offline_since
    }

    pub fn departed(&self, r: RemoteId) -> bool {
        self.presence[r as usize].departed
    }

    /// The server's view of every shard on `r`.
    pub fn status(&self, r: RemoteId) -> ShardStatus {
        self.presence[r as usize].status
    }

    pub fn key(&self, c: ChunkId) -> &[u8; 32] {
        &self.keys[c as usize]
    }

    pub fn is_lost(&self, c: ChunkId) -> bool {
        self.lost[c as usize]
    }

    /// The remotes holding chunk `c`'s shards, by shard index.
    pub fn shards(&self, c: ChunkId) -> &[RemoteId] {
        let n = self.scheme.total();
        &self.slots[c as usize * n..(c as usize + 1) * n]
    }

    /// A new, empty, online remote.
    pub fn add_remote(&mut self, capacity: u64) -> RemoteId {
        let id = RemoteId::try_from(self.remotes.len()).expect("fewer than 2^32 remotes");
        self.remotes.push(Remote { capacity, used: 0, holdings: Vec::new() });
        self.presence.push(Presence { offline_since: None, departed: false, status: ShardStatus::Healthy });
        id
    }

    /// What the server would offer placement: online remotes with room for a
    /// shard, weighted by free bytes (as the server weights them), by id.
    pub fn candidates(&self) -> Vec<Candidate> {
        (0..self.remotes.len() as RemoteId)
            .filter(|&r| self.offline_since(r).is_none())
            .map(|r| Candidate { id: i64::from(r), weight: self.weight(r) })
            .filter(|c| c.weight > 0)
            .collect()
    }

    /// Free bytes, or 0 (never place here) if a shard no longer fits.
    pub fn weight(&self, r: RemoteId) -> u64 {
        let free = self.remote(r).free();
        if free >= self.shard_bytes { free } else { 0 }
    }

    /// Stores a new chunk on `holders` (from `placement::choose`).
    pub fn add_chunk(&mut self, key: [u8; 32], holders: &[RemoteId]) -> ChunkId {
        assert_eq!(holders.len(), self.scheme.total(), "one holder per shard");
        let c = ChunkId::try_from(self.keys.len()).expect("fewer than 2^32 chunks");
        self.keys.push(key);
        self.lost.push(false);
        self.is_dirty.push(false);
        self.counts.push(Counts::default());
        for &r in holders {
            let slot = Slot::try_from(self.slots.len()).expect("fewer than 2^32 shards");
            self.slots.push(r);
            self.slot_pos.push(0);
            self.link(slot, r);
        }
        c
    }

    /// Moves shard `i` of `c` to `to` (a repair wrote it there). The old
    /// holder's copy is orphaned and its space counted free again: the
    /// server would have it deleted.
    pub fn move_shard(&mut self, c: ChunkId, i: usize, to: RemoteId) {
        let slot = (c as usize * self.scheme.total() + i) as Slot;
        self.unlink(slot);
        self.slots[slot as usize] = to;
        self.link(slot, to);
    }

    fn link(&mut self, slot: Slot, r: RemoteId) {
        let remote = &mut self.remotes[r as usize];
        remote.used += self.shard_bytes;
        self.slot_pos[slot as usize] = remote.holdings.len() as u32;
        remote.holdings.push(slot);
        let p = self.presence[r as usize];
        self.counts[slot as usize / self.scheme.total()].add(p.status, !p.departed, true);
    }

    fn unlink(&mut self, slot: Slot) {
        let r = self.slots[slot as usize] as usize;
        let remote = &mut self.remotes[r];
        remote.used = remote.used.saturating_sub(self.shard_bytes);
        let pos = self.slot_pos[slot as usize] as usize;
        remote.holdings.swap_remove(pos);
        if let Some(&moved) = remote.holdings.get(pos) {
            self.slot_pos[moved as usize] = pos as u32;
        }
        let p = self.presence[r];
        self.counts[slot as usize / self.scheme.total()].add(p.status, !p.departed, false);
    }

    /// The server's view of chunk `c` and its durable shard count (those
    /// that exist or will come back): below k it is lost for good.
    pub fn assess(&self, c: ChunkId) -> (Health, usize) {
        let n = self.counts[c as usize];
        let health = Health { scheme: self.scheme, healthy: n.healthy.into(), unavailable: n.unavailable.into() };
        debug_assert_eq!(health, Health::of(self.scheme, self.shards(c).iter().map(|&r| self.status(r))));
        debug_assert_eq!(usize::from(n.durable), self.shards(c).iter().filter(|&&r| !self.departed(r)).count());
        (health, n.durable.into())
    }

    /// `r` went offline at `since`: its shards are unavailable.
    pub fn go_offline(&mut self, r: RemoteId, since: u64) {
        self.presence[r as usize].offline_since = Some(since);
        self.restatus(r, ShardStatus::Unavailable, false);
    }

    /// `r` has been offline longer than the grace: its shards are lost.
    pub fn grace_over(&mut self, r: RemoteId) {
        self.restatus(r, ShardStatus::Lost, false);
    }

    pub fn come_online(&mut self, r: RemoteId) {
        self.presence[r as usize].offline_since = None;
        self.restatus(r, ShardStatus::Healthy, false);
    }

    /// `r` leaves for good at `at`; if it was already offline, the server
    /// still dates its absence from the start of that outage.
    pub fn depart(&mut self, r: RemoteId, at: u64) {
        let p = self.presence[r as usize];
        self.presence[r as usize].offline_since = Some(p.offline_since.unwrap_or(at));
        let status = if p.status == ShardStatus::Healthy { ShardStatus::Unavailable } else { p.status };
        self.restatus(r, status, true);
    }

    /// Recounts `r`'s chunks for its new status (and departure) and marks
    /// them for re-evaluation.
    fn restatus(&mut self, r: RemoteId, status: ShardStatus, depart: bool) {
        let p = &mut self.presence[r as usize];
        let old = *p;
        p.status = status;
        p.departed |= depart;
        let new = *p;
        if old.status == new.status && old.departed == new.departed {
            return;
        }
        let n = self.scheme.total();
        for &slot in &self.remotes[r as usize].holdings {
            let c = slot as usize / n;
            self.counts[c].add(old.status, !old.departed, false);
            self.counts[c].add(new.status, !new.departed, true);
            if !std::mem::replace(&mut self.is_dirty[c], true) {
                self.dirty.push(c as ChunkId);
            }
        }
    }

    /// The chunks whose counts changed since the last call, in order.
    pub fn take_dirty(&mut self) -> Vec<ChunkId> {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        for &c in &dirty {
            self.is_dirty[c as usize] = false;
        }
        dirty
    }

    /// `c` is gone: its surviving shards are garbage the remotes delete, and
    /// no change of state concerns it any more.
    pub fn mark_lost(&mut self, c: ChunkId) {
        self.lost[c as usize] = true;
        let n = self.scheme.total();
        for slot in c as usize * n..(c as usize + 1) * n {
            self.unlink(slot as Slot);
        }
    }
}

#[cfg(test)]
mod tests {
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
}
