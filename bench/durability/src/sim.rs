//! One run: build the network, place the data, then step through the year an
//! hour at a time — churn, re-evaluate the chunks it touched, repair.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use pyxis_core::placement;

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
    /// Worst durable margin (shards that exist or will return, minus k).
    worst_durable_margin: isize,
    /// Each chunk's worst margin so far.
    min_margin: Vec<i16>,
    placement_time: Duration,
}

impl Sim {
    /// A network of `--remotes` remotes of random capacity, scaled so that
    /// `--chunks` chunks fill it to `--fill`, with every chunk placed by
    /// `placement::choose`.
    pub fn new(cfg: Config) -> anyhow::Result<Self> {
        let p = &cfg.params;
        let mut churn = Churn::new(&cfg);
        let caps: Vec<f64> = (0..p.remotes as RemoteId).map(|r| churn.draw_capacity(r)).collect();
        let scale = cfg.stored_bytes() as f64 / (p.fill * caps.iter().sum::<f64>());
        churn.set_scale(scale);
        let mut net = Network::new(cfg.scheme, cfg.shard_bytes);
        for (r, cap) in caps.iter().enumerate() {
            net.add_remote((cap * scale).round() as u64);
            churn.start(r as RemoteId, 0);
        }
        let started = Instant::now();
        place(&mut net, p.chunks, p.seed, p.threads)?;
        let budget = (p.repair_mbps * MB * STEP as f64 * scale).round() as i64;
        let k = cfg.scheme.data() as isize;
        let n = cfg.scheme.total() as isize;
        Ok(Sim {
            min_margin: vec![(n - k) as i16; p.chunks],
            worst_margin: n - k,
            worst_durable_margin: n - k,
            net,
            churn,
            repair: RepairQueue::default(),
            now: 0,
            scale,
            budget,
            credit: 0,
            lost: 0,
            placement_time: started.elapsed(),
            cfg,
        })
    }

    /// Runs to the horizon.
    pub fn run(&mut self) {
        while self.now < self.cfg.horizon {
            self.step();
        }
    }

    /// One hour: churn, then what the server sees at its end, then repair.
    pub fn step(&mut self) {
        let end = self.now + STEP;
        self.churn.advance(&mut self.net, end);
        self.now = end;
        self.evaluate();
        // Bandwidth not used in an hour is not saved up for later.
        self.credit = (self.credit + self.budget).min(self.budget);
        self.repair.run(&mut self.net, &mut self.credit, self.cfg.params.threads);
    }

    /// Re-evaluates the chunks whose holders changed state: lost for good,
    /// or (re)queued for repair as `needs_repair` says.
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
            min_margin_histogram: histogram,
            repair_waiting: rs.waiting,
            repair_no_targets: rs.no_targets,
            repair_reranked: rs.reranked,
            peak_backlog_chunks: rs.peak_backlog,
            remotes_departed: self.churn.stats.departed,
            remotes_joined: self.churn.stats.joined,
            outages: self.churn.stats.outages,
            outages_past_grace: self.churn.stats.outages_past_grace,
            placement_seconds: self.placement_time.as_secs_f64(),
            wall_seconds: wall.as_secs_f64(),
        }
    }
}

/// Writes `chunks` chunks where `placement::choose` puts them, in batches
/// that see the free space left by the batches before (uploads in the same
/// minute see the same weights), each batch ranked on `threads` threads.
fn place(net: &mut Network, chunks: usize, seed: u64, threads: usize) -> anyhow::Result<()> {
    /// About a server's worth of uploads between refreshes of free space;
    /// small against the ~2000 shards a remote ends up with.
    const BATCH: u64 = 1000;
    let n = net.scheme().total();
    for start in (0..chunks as u64).step_by(BATCH as usize) {
        let keys: Vec<[u8; 32]> =
            (start..(start + BATCH).min(chunks as u64)).map(|c| Rng::stream(seed, KEY_STREAM + c).bytes32()).collect();
        let cands = net.candidates();
        let picks = par::map(&keys, threads, |key| placement::choose(key, &cands, n));
        for (i, (key, pick)) in keys.iter().zip(picks).enumerate() {
            let pick = pick.with_context(|| format!("placing chunk {}", start + i as u64))?;
            let holders: Vec<RemoteId> = pick.iter().map(|&r| RemoteId::try_from(r).expect("remote ids")).collect();
            net.add_chunk(*key, &holders);
        }
    }
    Ok(())
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
