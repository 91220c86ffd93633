//! The network's state: remotes (capacity, use, presence, standing) and
//! which remote holds every shard of every chunk.
//!
//! A shard's status is its holder's: churn moves a remote between healthy,
//! unavailable (offline within the grace) and lost (offline past it), and a
//! remote back from a long outage makes its shards that were not yet rebuilt
//! elsewhere healthy again, as on the server. A shard the server marked lost
//! on its own (never receipted, or found missing by an audit or a repair
//! read) stays lost until a repair writes it again, and a suspect remote's
//! shards are all lost for good. What the server cannot know — whether an
//! offline remote will ever return, whether a remote keeps what it
//! acknowledged — is kept only to decide when a chunk is lost for good: a
//! shard is *real* if its bytes exist, and a liar's never do.
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
    /// Failed `suspect_after` audits in a row: out of placement, its shards
    /// lost for good whatever it does next.
    suspect: bool,
}

/// What a remote really does, which the server learns only through audits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nature {
    /// Acknowledges every shard with a receipt and keeps none of them.
    pub liar: bool,
    /// Joined claiming a huge capacity (`--greedy-joiners`); its placement
    /// weight is what admission let it claim.
    pub greedy: bool,
}

#[derive(Clone, Debug)]
pub struct Remote {
    /// What placement may count: the admitted capacity (scaled).
    pub capacity: u64,
    pub used: u64,
    pub nature: Nature,
    /// Admitted vetted (every honest remote of the starting network) or
    /// past `vet_after` audits; until then it holds at most
    /// `max_unvetted(scheme)` shards of a chunk.
    pub vetted: bool,
    pub audits_passed: u32,
    /// Failed audits in a row.
    pub audit_failures: u32,
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
    /// Real shards on remotes that have not departed: they exist or will
    /// return.
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
    /// The shard's bytes exist on its holder (not on a liar, not an upload
    /// that never happened).
    real: Vec<bool>,
    /// The server counts the shard lost whatever its holder's state: never
    /// receipted, or found missing by an audit or a repair read.
    marked: Vec<bool>,
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
            real: Vec::new(),
            marked: Vec::new(),
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

    /// The server's view of every shard on `r` it has not marked lost.
    pub fn status(&self, r: RemoteId) -> ShardStatus {
        self.presence[r as usize].status
    }

    pub fn is_suspect(&self, r: RemoteId) -> bool {
        self.presence[r as usize].suspect
    }

    /// Whether `id` (a placement candidate id) is vetted.
    pub fn is_vetted(&self, id: i64) -> bool {
        self.remotes[id as usize].vetted
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

    fn slot(&self, c: ChunkId, i: usize) -> Slot {
        (c as usize * self.scheme.total() + i) as Slot
    }

    fn slot_status(&self, slot: Slot) -> ShardStatus {
        if self.marked[slot as usize] { ShardStatus::Lost } else { self.status(self.slots[slot as usize]) }
    }

    /// The server's view of shard `i` of `c`.
    pub fn shard_status(&self, c: ChunkId, i: usize) -> ShardStatus {
        self.slot_status(self.slot(c, i))
    }

    /// Whether the server has marked shard `i` of `c` lost on its own.
    pub fn is_marked(&self, c: ChunkId, i: usize) -> bool {
        self.marked[self.slot(c, i) as usize]
    }

    /// Whether shard `i` of `c` exists on its holder.
    pub fn is_real(&self, c: ChunkId, i: usize) -> bool {
        self.real[self.slot(c, i) as usize]
    }

    /// A new, empty, online, honest and vetted remote.
    #[cfg(test)]
    pub fn add_remote(&mut self, capacity: u64) -> RemoteId {
        self.add_remote_as(capacity, Nature::default(), true)
    }

    /// A new, empty, online remote admitted for `capacity`.
    pub fn add_remote_as(&mut self, capacity: u64, nature: Nature, vetted: bool) -> RemoteId {
        let id = RemoteId::try_from(self.remotes.len()).expect("fewer than 2^32 remotes");
        self.remotes.push(Remote {
            capacity,
            used: 0,
            nature,
            vetted,
            audits_passed: 0,
            audit_failures: 0,
            holdings: Vec::new(),
        });
        self.presence.push(Presence {
            offline_since: None,
            departed: false,
            status: ShardStatus::Healthy,
            suspect: false,
        });
        id
    }

    /// What the server would offer placement: online remotes in good
    /// standing with room for a shard, weighted by free bytes (as the server
    /// weights them), by id.
    pub fn candidates(&self) -> Vec<Candidate> {
        (0..self.remotes.len() as RemoteId)
            .filter(|&r| self.offline_since(r).is_none() && !self.is_suspect(r))
            .map(|r| Candidate { id: i64::from(r), weight: self.weight(r) })
            .filter(|c| c.weight > 0)
            .collect()
    }

    /// Free bytes of the admitted capacity, or 0 (never place here) if a
    /// shard no longer fits.
    pub fn weight(&self, r: RemoteId) -> u64 {
        let free = self.remote(r).free();
        if free >= self.shard_bytes { free } else { 0 }
    }

    /// Stores a new chunk on `holders` (from placement), every shard
    /// uploaded and receipted.
    #[cfg(test)]
    pub fn add_chunk(&mut self, key: [u8; 32], holders: &[RemoteId]) -> ChunkId {
        self.add_chunk_with(key, holders, |_| true)
    }

    /// Stores a new chunk on `holders`, shard `i` uploaded and receipted if
    /// `stored(i)`; the others are placed but never arrived (the chunk was
    /// committed without them: the server counts them lost and repair
    /// places them). The chunk is due for evaluation.
    pub fn add_chunk_with(&mut self, key: [u8; 32], holders: &[RemoteId], stored: impl Fn(usize) -> bool) -> ChunkId {
        assert_eq!(holders.len(), self.scheme.total(), "one holder per shard");
        let c = ChunkId::try_from(self.keys.len()).expect("fewer than 2^32 chunks");
        self.keys.push(key);
        self.lost.push(false);
        self.is_dirty.push(false);
        self.counts.push(Counts::default());
        for (i, &r) in holders.iter().enumerate() {
            let slot = Slot::try_from(self.slots.len()).expect("fewer than 2^32 shards");
            self.slots.push(r);
            self.slot_pos.push(0);
            self.real.push(false);
            self.marked.push(false);
            self.link(slot, r, stored(i));
        }
        self.touch(c as usize);
        c
    }

    /// Moves shard `i` of `c` to `to` (a repair wrote it there, or back
    /// there). The old holder's copy is orphaned and its space counted free
    /// again: the server would have it deleted.
    pub fn move_shard(&mut self, c: ChunkId, i: usize, to: RemoteId) {
        let slot = self.slot(c, i);
        self.unlink(slot);
        self.slots[slot as usize] = to;
        self.link(slot, to, true);
    }

    /// Links `slot` to `r`, which acknowledged it if `stored`; only an
    /// honest remote keeps what it acknowledged.
    fn link(&mut self, slot: Slot, r: RemoteId, stored: bool) {
        let remote = &mut self.remotes[r as usize];
        remote.used += self.shard_bytes;
        self.slot_pos[slot as usize] = remote.holdings.len() as u32;
        remote.holdings.push(slot);
        self.real[slot as usize] = stored && !remote.nature.liar;
        self.marked[slot as usize] = !stored;
        self.count(slot, true);
    }

    fn unlink(&mut self, slot: Slot) {
        self.count(slot, false);
        let r = self.slots[slot as usize] as usize;
        let remote = &mut self.remotes[r];
        remote.used = remote.used.saturating_sub(self.shard_bytes);
        let pos = self.slot_pos[slot as usize] as usize;
        remote.holdings.swap_remove(pos);
        if let Some(&moved) = remote.holdings.get(pos) {
            self.slot_pos[moved as usize] = pos as u32;
        }
    }

    /// Adds (or takes away) `slot`'s share of its chunk's counts.
    fn count(&mut self, slot: Slot, up: bool) {
        let departed = self.presence[self.slots[slot as usize] as usize].departed;
        let (status, durable) = (self.slot_status(slot), self.real[slot as usize] && !departed);
        self.counts[slot as usize / self.scheme.total()].add(status, durable, up);
    }

    /// The server's view of chunk `c` and its durable shard count (real
    /// shards that exist or will come back): below k it is lost for good.
    pub fn assess(&self, c: ChunkId) -> (Health, usize) {
        let counts = self.counts[c as usize];
        let health =
            Health { scheme: self.scheme, healthy: counts.healthy.into(), unavailable: counts.unavailable.into() };
        let n = self.scheme.total();
        debug_assert_eq!(health, Health::of(self.scheme, (0..n).map(|i| self.shard_status(c, i))));
        debug_assert_eq!(
            usize::from(counts.durable),
            (0..n).filter(|&i| self.is_real(c, i) && !self.departed(self.shards(c)[i])).count()
        );
        (health, counts.durable.into())
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

    /// `r` failed too many audits: out of placement, and every shard the
    /// server counted on it is lost (repair rebuilds them elsewhere).
    pub fn make_suspect(&mut self, r: RemoteId) {
        self.presence[r as usize].suspect = true;
        self.restatus(r, ShardStatus::Lost, false);
    }

    /// The server found shard `i` of `c` missing (a failed audit or repair
    /// read): lost until a repair writes it again. Returns whether it was
    /// not marked already.
    pub fn mark_shard_lost(&mut self, c: ChunkId, i: usize) -> bool {
        let slot = self.slot(c, i);
        if self.marked[slot as usize] {
            return false;
        }
        self.count(slot, false);
        self.marked[slot as usize] = true;
        self.count(slot, true);
        self.touch(c as usize);
        true
    }

    /// A shard of `r` that an audit may pick (receipted and not marked
    /// lost): the first at or after position `u` (in [0, 1)) of its
    /// holdings.
    pub fn audit_pick(&self, r: RemoteId, u: f64) -> Option<(ChunkId, usize)> {
        let held = &self.remotes[r as usize].holdings;
        let start = (u * held.len() as f64) as usize;
        let n = self.scheme.total();
        (0..held.len())
            .map(|j| held[(start + j) % held.len()])
            .find(|&slot| !self.marked[slot as usize])
            .map(|slot| (slot / n as Slot, slot as usize % n))
    }

    /// Audit bookkeeping on `r` (passes, failures in a row, vetting).
    pub fn remote_mut(&mut self, r: RemoteId) -> &mut Remote {
        &mut self.remotes[r as usize]
    }

    /// Recounts `r`'s chunks for its new status (and departure) and marks
    /// them for re-evaluation. A suspect remote's shards stay lost.
    fn restatus(&mut self, r: RemoteId, status: ShardStatus, depart: bool) {
        let p = &mut self.presence[r as usize];
        let old = *p;
        p.status = if p.suspect { ShardStatus::Lost } else { status };
        p.departed |= depart;
        let new = *p;
        if old.status == new.status && old.departed == new.departed {
            return;
        }
        let n = self.scheme.total();
        for j in 0..self.remotes[r as usize].holdings.len() {
            let slot = self.remotes[r as usize].holdings[j] as usize;
            let c = slot / n;
            let (real, marked) = (self.real[slot], self.marked[slot]);
            let status = |p: Presence| if marked { ShardStatus::Lost } else { p.status };
            self.counts[c].add(status(old), real && !old.departed, false);
            self.counts[c].add(status(new), real && !new.departed, true);
            self.touch(c);
        }
    }

    fn touch(&mut self, c: usize) {
        if !std::mem::replace(&mut self.is_dirty[c], true) {
            self.dirty.push(c as ChunkId);
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
mod tests;
