//! The network's state: remotes (capacity, use, offline since when,
//! departed) and which remote holds every shard of every chunk.
//!
//! Shard status is never stored: like the server, it is derived from the
//! holder's state when asked ([`Network::status`]), so a remote returning
//! from a long outage makes its shards that were not yet rebuilt elsewhere
//! healthy again. What the server cannot know — whether an offline remote
//! will ever return — is kept here only to decide when a chunk is really
//! lost ([`Network::durable`]).

use pyxis_core::placement::{self, Candidate};
use pyxis_core::repair::{Health, ShardStatus};
use pyxis_proto::Scheme;

pub type RemoteId = u32;
pub type ChunkId = u32;

#[derive(Clone, Debug)]
pub struct Remote {
    pub capacity: u64,
    pub used: u64,
    /// When the server last saw it go offline; `None` while online. A
    /// departed remote just stays offline: the server cannot tell it from an
    /// outage.
    pub offline_since: Option<u64>,
    /// Gone for good with its shards (known to the simulation only).
    pub departed: bool,
    /// Chunks with a shard here, so a change of state finds the chunks it
    /// affects. Entries for shards moved away are dropped lazily in `mark`.
    holdings: Vec<ChunkId>,
}

impl Remote {
    pub fn free(&self) -> u64 {
        self.capacity.saturating_sub(self.used)
    }
}

#[derive(Debug)]
pub struct Network {
    scheme: Scheme,
    shard_bytes: u64,
    grace: u64,
    remotes: Vec<Remote>,
    /// Shard `i` of chunk `c` is on `slots[c * n + i]`.
    slots: Vec<RemoteId>,
    keys: Vec<[u8; 32]>,
    lost: Vec<bool>,
    /// Chunks whose holders changed state since the last `take_dirty`.
    dirty: Vec<ChunkId>,
    is_dirty: Vec<bool>,
}

impl Network {
    /// An empty network; `grace` is in seconds.
    pub fn new(scheme: Scheme, shard_bytes: u64, grace: u64) -> Self {
        Network {
            scheme,
            shard_bytes,
            grace,
            remotes: Vec::new(),
            slots: Vec::new(),
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
        self.remotes.push(Remote { capacity, used: 0, offline_since: None, departed: false, holdings: Vec::new() });
        id
    }

    /// What the server would offer placement: online remotes with room for a
    /// shard, weighted by free bytes (as the server weights them), by id.
    pub fn candidates(&self) -> Vec<Candidate> {
        (0..self.remotes.len() as RemoteId)
            .filter(|&r| self.remote(r).offline_since.is_none())
            .map(|r| Candidate { id: i64::from(r), weight: self.weight(r) })
            .filter(|c| c.weight > 0)
            .collect()
    }

    fn weight(&self, r: RemoteId) -> u64 {
        let free = self.remote(r).free();
        if free >= self.shard_bytes { free } else { 0 }
    }

    /// Stores a new chunk where `placement::choose` puts it; `cands` (from
    /// [`Network::candidates`]) is reweighed as space fills.
    pub fn add_chunk(&mut self, key: [u8; 32], cands: &mut [Candidate]) -> pyxis_core::Result<ChunkId> {
        let chosen = placement::choose(&key, cands, self.scheme.total())?;
        let c = ChunkId::try_from(self.keys.len()).expect("fewer than 2^32 chunks");
        self.keys.push(key);
        self.lost.push(false);
        self.is_dirty.push(false);
        for r in chosen {
            let r = RemoteId::try_from(r).expect("candidate ids are remote ids");
            self.slots.push(r);
            self.take_space(c, r, cands);
        }
        Ok(c)
    }

    /// Moves shard `i` of `c` to `to` (a repair wrote it there). The old
    /// holder's copy is orphaned and its space counted free again: the
    /// server would have it deleted.
    pub fn move_shard(&mut self, c: ChunkId, i: usize, to: RemoteId, cands: &mut [Candidate]) {
        let slot = c as usize * self.scheme.total() + i;
        let from = self.slots[slot] as usize;
        self.remotes[from].used = self.remotes[from].used.saturating_sub(self.shard_bytes);
        self.slots[slot] = to;
        self.take_space(c, to, cands);
    }

    fn take_space(&mut self, c: ChunkId, r: RemoteId, cands: &mut [Candidate]) {
        let remote = &mut self.remotes[r as usize];
        remote.used += self.shard_bytes;
        remote.holdings.push(c);
        let w = self.weight(r);
        if let Ok(pos) = cands.binary_search_by_key(&i64::from(r), |c| c.id) {
            cands[pos].weight = w;
        }
    }

    /// The server's view of a shard on `r` at time `now`.
    pub fn status(&self, r: RemoteId, now: u64) -> ShardStatus {
        match self.remote(r).offline_since {
            None => ShardStatus::Healthy,
            Some(since) if now.saturating_sub(since) <= self.grace => ShardStatus::Unavailable,
            Some(_) => ShardStatus::Lost,
        }
    }

    pub fn health(&self, c: ChunkId, now: u64) -> Health {
        Health::of(self.scheme, self.shards(c).iter().map(|&r| self.status(r, now)))
    }

    /// Shards that exist or will come back (holder not departed): below k the
    /// chunk is lost for good, whatever the server does.
    pub fn durable(&self, c: ChunkId) -> usize {
        self.shards(c).iter().filter(|&&r| !self.remote(r).departed).count()
    }

    pub fn set_offline(&mut self, r: RemoteId, since: u64) {
        self.remotes[r as usize].offline_since = Some(since);
    }

    pub fn set_online(&mut self, r: RemoteId) {
        self.remotes[r as usize].offline_since = None;
    }

    /// `r` leaves for good at `at`; if it was already offline the server
    /// still dates its absence from the start of that outage.
    pub fn depart(&mut self, r: RemoteId, at: u64) {
        let remote = &mut self.remotes[r as usize];
        remote.departed = true;
        remote.offline_since.get_or_insert(at);
    }

    /// Queues every live chunk with a shard on `r` for re-evaluation, and
    /// drops `r`'s entries for chunks whose shard has moved away.
    pub fn mark(&mut self, r: RemoteId) {
        let mut held = std::mem::take(&mut self.remotes[r as usize].holdings);
        held.sort_unstable();
        held.dedup();
        held.retain(|&c| !self.lost[c as usize] && self.shards(c).contains(&r));
        for &c in &held {
            if !std::mem::replace(&mut self.is_dirty[c as usize], true) {
                self.dirty.push(c);
            }
        }
        self.remotes[r as usize].holdings = held;
    }

    /// `r` will never change state again (departed and past the grace): its
    /// chunks need no more marking.
    pub fn forget(&mut self, r: RemoteId) {
        self.remotes[r as usize].holdings = Vec::new();
    }

    /// The chunks marked since the last call, in a deterministic order.
    pub fn take_dirty(&mut self) -> Vec<ChunkId> {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        for &c in &dirty {
            self.is_dirty[c as usize] = false;
        }
        dirty
    }

    /// `c` is gone; its surviving shards are garbage the remotes delete.
    pub fn mark_lost(&mut self, c: ChunkId) {
        self.lost[c as usize] = true;
        let n = self.scheme.total();
        for i in 0..n {
            let r = self.slots[c as usize * n + i] as usize;
            self.remotes[r].used = self.remotes[r].used.saturating_sub(self.shard_bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(remotes: usize) -> Network {
        let mut n = Network::new("4+2".parse().unwrap(), 100, 24);
        for _ in 0..remotes {
            n.add_remote(1_000_000);
        }
        n
    }

    #[test]
    fn status_follows_the_grace() {
        let mut n = net(8);
        let mut cands = n.candidates();
        let c = n.add_chunk([1; 32], &mut cands).unwrap();
        let r = n.shards(c)[0];
        assert_eq!(n.status(r, 10), ShardStatus::Healthy);
        n.set_offline(r, 10);
        assert_eq!(n.status(r, 34), ShardStatus::Unavailable);
        assert_eq!(n.status(r, 35), ShardStatus::Lost);
        n.set_online(r);
        assert_eq!(n.status(r, 35), ShardStatus::Healthy, "a remote back from an outage counts again");
        n.depart(r, 40);
        assert_eq!(n.status(r, 64), ShardStatus::Unavailable, "a departure looks like an outage");
        assert_eq!(n.health(c, 65).healthy, 5);
        assert_eq!(n.durable(c), 5);
    }

    #[test]
    fn placement_fills_space_and_marks_find_holders() {
        let mut n = net(8);
        let mut cands = n.candidates();
        let c = n.add_chunk([2; 32], &mut cands).unwrap();
        let holders = n.shards(c).to_vec();
        assert_eq!(holders.len(), 6);
        for &r in &holders {
            assert_eq!(n.remote(r).used, 100);
            let w = cands.iter().find(|x| x.id == i64::from(r)).unwrap().weight;
            assert_eq!(w, 1_000_000 - 100, "candidate weights follow free space");
        }
        let spare = (0..8).find(|r| !holders.contains(r)).unwrap();
        n.move_shard(c, 0, spare, &mut cands);
        assert_eq!(n.remote(holders[0]).used, 0);
        n.mark(holders[0]);
        assert!(n.take_dirty().is_empty(), "the moved shard no longer ties the chunk to its old remote");
        n.mark(spare);
        n.mark(holders[1]);
        assert_eq!(n.take_dirty(), vec![c], "marked once however many holders changed");
    }
}
