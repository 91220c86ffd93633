//! One run: build the network, place the data, then step through the year an
//! hour at a time — churn, audits, re-evaluate the chunks they touched,
//! repair.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use pyxis_core::placement;

use crate::audit::Auditor;
use crate::churn::Churn;
use crate::network::{ChunkId, Network, RemoteId};
use crate::par;
use crate::params::{Config, HOUR, MB, TB};
use crate::repair::RepairQueue;
use crate::rng::Rng;

/// The step: the server's repair worker is modelled as acting once an hour,
/// on the state at the end of the hour, with that hour's bandwidth.
pub const STEP: u64 = HOUR;

/// Seeds chunk ids apart from the remotes' churn streams (which use the
/// remote id as stream number).
const KEY_STREAM: u64 = 1 << 48;

#[derive(Debug)]
pub struct Sim {
    cfg: Config,
    net: Network,
    churn: Churn,
    audit: Auditor,
    repair: RepairQueue,
    now: u64,
    /// Full-scale bytes to simulated bytes.
    scale: f64,
    /// Repair budget per step, simulated bytes.
    budget: i64,
    /// Unspent budget (at most one step's) or debt from an overdraw.
    credit: i64,
    lost: u64,
    /// Worst `Health::margin` (healthy - k) the server saw on a live chunk.
    worst_margin: isize,
    /// Worst durable margin (real shards that exist or will return, minus k).
    worst_durable_margin: isize,
    /// The worst durable margin right after the data was written.
    commit_durable_margin: isize,
    /// Shards liars acknowledged when the data was written.
    start_phantoms: u64,
    /// Each chunk's worst margin so far.
    min_margin: Vec<i16>,
    placement_time: Duration,
}

impl Sim {
    /// A network of `--remotes` remotes of random capacity, scaled so that
    /// `--chunks` chunks fill it to `--fill`, with every chunk placed by
    /// `placement::choose_limited` and evaluated as written.
    pub fn new(cfg: Config) -> anyhow::Result<Self> {
        let p = &cfg.params;
        let mut churn = Churn::new(&cfg);
        let caps: Vec<f64> = (0..p.remotes as RemoteId).map(|r| churn.draw_capacity(r)).collect();
        let scale = cfg.stored_bytes() as f64 / (p.fill * caps.iter().sum::<f64>());
        churn.set_scale(scale);
        let mut net = Network::new(cfg.scheme, cfg.shard_bytes);
        for (r, &cap) in caps.iter().enumerate() {
            churn.admit(&mut net, r as RemoteId, cap);
            churn.start(r as RemoteId, 0);
        }
        let started = Instant::now();
        let start_phantoms = place(&mut net, &cfg)?;
        let budget = (p.repair_mbps * MB * STEP as f64 * scale).round() as i64;
        let k = cfg.scheme.data() as isize;
        let n = cfg.scheme.total() as isize;
        let mut sim = Sim {
            min_margin: vec![(n - k) as i16; p.chunks],
            worst_margin: n - k,
            worst_durable_margin: n - k,
            commit_durable_margin: n - k,
            start_phantoms,
            net,
            churn,
            audit: Auditor::new(p.seed, p.audits_per_hour, p.vet_after, p.suspect_after),
            repair: RepairQueue::default(),
            now: 0,
            scale,
            budget,
            credit: 0,
            lost: 0,
            placement_time: started.elapsed(),
            cfg,
        };
        sim.evaluate();
        sim.commit_durable_margin = sim.worst_durable_margin;
        Ok(sim)
    }

    /// Runs to the horizon.
    pub fn run(&mut self) {
        while self.now < self.cfg.horizon {
            self.step();
        }
    }

    /// One hour: churn, then audits and what the server sees at its end,
    /// then repair.
    pub fn step(&mut self) {
        let end = self.now + STEP;
        self.churn.advance(&mut self.net, end);
        self.now = end;
        self.audit.run(&mut self.net);
        self.evaluate();
        // Bandwidth not used in an hour is not saved up for later.
        self.credit = (self.credit + self.budget).min(self.budget);
        self.repair.run(&mut self.net, &mut self.credit, self.cfg.params.threads);
    }

    /// Re-evaluates the chunks whose shards changed state: lost for good
    /// (fewer than k real shards left), or (re)queued for repair as
    /// `needs_repair` says.
    fn evaluate(&mut self) {
        let k = self.cfg.scheme.data() as isize;
        for c in self.net.take_dirty() {
            let (health, durable) = self.net.assess(c);
            let durable = durable as isize - k;
            if durable < 0 {
                self.lost += 1;
                self.net.mark_lost(c);
                self.repair.remove(c);
                continue;
            }
            self.worst_durable_margin = self.worst_durable_margin.min(durable);
            let m = health.margin();
            self.worst_margin = self.worst_margin.min(m);
            let slot = &mut self.min_margin[c as usize];
            *slot = (*slot).min(m as i16);
            self.repair.update(c, health, self.cfg.threshold);
        }
    }

    pub fn summary(&self, wall: Duration) -> crate::report::Report {
        let cfg = &self.cfg;
        let rs = self.repair.stats;
        let stored = cfg.stored_bytes();
        let traffic = rs.bytes_read + rs.bytes_written;
        let a = self.audit.stats;
        let remotes = || (0..self.net.remote_count() as RemoteId).map(|r| self.net.remote(r));
        let greedy_used: u64 = remotes().filter(|r| r.nature.greedy).map(|r| r.used).sum();
        let used: u64 = remotes().map(|r| r.used).sum();
        let mut histogram = BTreeMap::new();
        for (c, &m) in self.min_margin.iter().enumerate() {
            if !self.net.is_lost(c as ChunkId) {
                *histogram.entry(m as i64).or_insert(0u64) += 1;
            }
        }
        crate::report::Report {
            params: cfg.params.clone(),
            scheme: cfg.scheme.to_string(),
            scheme_from_policy: cfg.from_policy,
            k: cfg.scheme.data(),
            n: cfg.scheme.total(),
            threshold: cfg.threshold,
            success_threshold: cfg.success_threshold,
            max_unvetted: cfg.max_unvetted,
            expansion: cfg.scheme.expansion(),
            scale: self.scale,
            shard_bytes: cfg.shard_bytes,
            stored_bytes: stored,
            full_scale_stored_tb: stored as f64 / self.scale / TB,
            chunks_lost: self.lost,
            bytes_lost: self.lost * cfg.chunk_bytes,
            full_scale_lost_tb: (self.lost * cfg.chunk_bytes) as f64 / self.scale / TB,
            lost_fraction: self.lost as f64 / cfg.params.chunks as f64,
            repairs: rs.repairs,
            shards_rebuilt: rs.shards_rebuilt,
            repair_bytes_read: rs.bytes_read,
            repair_bytes_written: rs.bytes_written,
            repair_traffic_fraction: traffic as f64 / stored as f64,
            full_scale_repair_traffic_tb: traffic as f64 / self.scale / TB,
            worst_margin: self.worst_margin as i64,
            worst_durable_margin: self.worst_durable_margin as i64,
            commit_durable_margin: self.commit_durable_margin as i64,
            min_margin_histogram: histogram,
            repair_waiting: rs.waiting,
            repair_no_targets: rs.no_targets,
            repair_reranked: rs.reranked,
            peak_backlog_chunks: rs.peak_backlog,
            repair_read_failures: rs.read_failures,
            shards_found_missing_on_read: rs.found_missing,
            repairs_without_loss: rs.without_loss,
            shards_rebuilt_unavailable: rs.rebuilt_unavailable,
            most_unvetted_after_repair: rs.most_unvetted,
            liar_remotes: remotes().filter(|r| r.nature.liar).count() as u64,
            greedy_joiners: remotes().filter(|r| r.nature.greedy).count() as u64,
            start_phantom_shards: self.start_phantoms,
            shards_written_to_liars: rs.written_to_liars,
            shards_written_to_greedy: rs.written_to_greedy,
            greedy_share_of_rebuilt: rs.written_to_greedy as f64 / rs.shards_rebuilt.max(1) as f64,
            greedy_share_of_stored_at_end: greedy_used as f64 / used.max(1) as f64,
            audits_passed: a.passed,
            audits_failed: a.failed,
            remotes_vetted: a.vetted,
            suspects: a.suspects,
            remotes_departed: self.churn.stats.departed,
            remotes_joined: self.churn.stats.joined,
            outages: self.churn.stats.outages,
            outages_past_grace: self.churn.stats.outages_past_grace,
            placement_seconds: self.placement_time.as_secs_f64(),
            wall_seconds: wall.as_secs_f64(),
        }
    }
}

/// Writes every chunk where `placement::choose_limited` puts it (at most
/// `max_unvetted` shards on unvetted remotes), in batches that see the free
/// space left by the batches before (uploads in the same minute see the
/// same weights), each batch ranked on `--threads` threads. A chunk
/// committed at the success threshold (`--commit-at-threshold`) is short of
/// the `n - success_threshold` shards bound for its last honest holders in
/// rank order. Returns the shards liars acknowledged.
fn place(net: &mut Network, cfg: &Config) -> anyhow::Result<u64> {
    /// About a server's worth of uploads between refreshes of free space;
    /// small against the ~2000 shards a remote ends up with.
    const BATCH: u64 = 1000;
    let p = &cfg.params;
    let n = cfg.scheme.total();
    let mut phantoms = 0;
    for start in (0..p.chunks as u64).step_by(BATCH as usize) {
        let chunks: Vec<([u8; 32], bool)> = (start..(start + BATCH).min(p.chunks as u64))
            .map(|c| {
                let mut rng = Rng::stream(p.seed, KEY_STREAM + c);
                (rng.bytes32(), rng.unit() < p.commit_at_threshold)
            })
            .collect();
        let cands = net.candidates();
        let unvetted = |id: i64| !net.is_vetted(id);
        let picks = par::map(&chunks, p.threads, |(key, _)| {
            placement::choose_limited(key, &cands, n, unvetted, cfg.max_unvetted)
        });
        for (i, ((key, short), pick)) in chunks.iter().zip(picks).enumerate() {
            let pick = pick.with_context(|| format!("placing chunk {}", start + i as u64))?;
            let holders: Vec<RemoteId> = pick.iter().map(|&r| RemoteId::try_from(r).expect("remote ids")).collect();
            let liar = |i: usize| net.remote(holders[i]).nature.liar;
            let never_arrived: Vec<usize> = match short {
                true => (0..n).rev().filter(|&i| !liar(i)).take(n - cfg.success_threshold).collect(),
                false => Vec::new(),
            };
            phantoms += (0..n).filter(|&i| liar(i)).count() as u64;
            net.add_chunk_with(*key, &holders, |i| !never_arrived.contains(&i));
        }
    }
    Ok(phantoms)
}

/// Hooks for the scenario tests: inspect the state, force events.
#[cfg(test)]
impl Sim {
    pub fn network(&self) -> &Network {
        &self.net
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn repair_stats(&self) -> crate::repair::RepairStats {
        self.repair.stats
    }

    pub fn churn_stats(&self) -> crate::churn::ChurnStats {
        self.churn.stats
    }

    pub fn chunks_lost(&self) -> u64 {
        self.lost
    }

    /// Test hook: `r` leaves for good now (and is replaced).
    pub fn depart(&mut self, r: RemoteId) {
        self.churn.depart(&mut self.net, r, self.now);
    }

    /// Test hook: `r` goes offline now for `hours`.
    pub fn outage(&mut self, r: RemoteId, hours: f64) {
        self.churn.outage(&mut self.net, r, self.now, hours * HOUR as f64);
    }

    /// Test hook: chunk `c`'s holders.
    pub fn holders(&self, c: ChunkId) -> Vec<RemoteId> {
        self.net.shards(c).to_vec()
    }
}

#[cfg(test)]
mod tests;
