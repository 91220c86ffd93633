//! Churn: remotes joining, leaving for good, and going offline for a while.
//!
//! Each remote draws from its own random stream: first its capacity, then
//! its lifetime, then its outages in turn. So the churn depends only on the
//! seed — every scheme simulated with one seed faces the same departures and
//! outages at the same instants, and differences between runs are the
//! scheme's and the repair's alone. Who lies and who claims too much comes
//! from streams of their own ([`Roles`]), so it does not change the churn
//! either.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::network::{Network, RemoteId};
use crate::params::{Config, DAY, HOUR, TB};
use crate::rng::Rng;
use crate::roles::Roles;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Depart(RemoteId),
    OutageStart(RemoteId),
    OutageEnd(RemoteId),
    /// `since + grace` has passed for the absence that started at `since`:
    /// the remote's shards turn from unavailable to lost.
    GraceOver {
        remote: RemoteId,
        since: u64,
    },
}

/// Counts of what churn did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChurnStats {
    pub departed: u64,
    pub joined: u64,
    pub outages: u64,
    /// Outages longer than the grace: their shards were counted lost
    /// although the remote came back.
    pub outages_past_grace: u64,
}

#[derive(Debug)]
pub struct Churn {
    seed: u64,
    /// Full-scale bytes to simulated bytes (see the crate docs).
    scale: f64,
    mean_lifetime: f64,
    /// Mean time from an outage's end to the next one's start (1 / rate).
    outage_gap: f64,
    mean_outage: f64,
    grace: u64,
    horizon: u64,
    capacity_tb: (f64, f64),
    roles: Roles,
    rngs: Vec<Rng>,
    /// Pending events by (time, sequence number): ties go in scheduling order.
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    pub stats: ChurnStats,
}

impl Churn {
    pub fn new(cfg: &Config) -> Self {
        let p = &cfg.params;
        Churn {
            seed: p.seed,
            scale: 1.0,
            mean_lifetime: p.mean_lifetime_days * DAY as f64,
            outage_gap: DAY as f64 / p.offline_per_day,
            mean_outage: p.outage_hours * HOUR as f64,
            grace: cfg.grace,
            horizon: cfg.horizon,
            capacity_tb: (p.min_capacity_tb, p.max_capacity_tb),
            roles: Roles::new(cfg),
            rngs: Vec::new(),
            events: BinaryHeap::new(),
            seq: 0,
            stats: ChurnStats::default(),
        }
    }

    /// Draws remote `r`'s full-scale capacity in bytes: the first draw of
    /// its stream, so it does not depend on the scale.
    pub fn draw_capacity(&mut self, r: RemoteId) -> f64 {
        let (lo, hi) = self.capacity_tb;
        self.rng(r).log_uniform(lo, hi) * TB
    }

    /// Fixes the full-scale to simulated bytes factor, for later joiners.
    pub fn set_scale(&mut self, scale: f64) {
        self.scale = scale;
    }

    /// Adds remote `r` (the next id), which really has `capacity` full-scale
    /// bytes, to the network as admission lets it in: its role, the
    /// capacity placement may count, vetted or not.
    pub fn admit(&self, net: &mut Network, r: RemoteId, capacity: f64) {
        let (nature, admitted) = self.roles.of(r, capacity);
        let id =
            net.add_remote_as((admitted * self.scale).round() as u64, nature, self.roles.vetted_at_start(r, nature));
        debug_assert_eq!(id, r, "remotes are admitted in id order");
    }

    fn rng(&mut self, r: RemoteId) -> &mut Rng {
        let r = r as usize;
        while self.rngs.len() <= r {
            let id = self.rngs.len() as u64;
            self.rngs.push(Rng::stream(self.seed, id));
        }
        &mut self.rngs[r]
    }

    fn schedule(&mut self, at: f64, e: Event) {
        // Beyond the horizon (or never, for a zero rate) nothing happens.
        if at <= self.horizon as f64 {
            self.seq += 1;
            self.events.push(Reverse((at.round() as u64, self.seq, e)));
        }
    }

    /// Starts `r`'s life at `now`: draws when it leaves and its first outage.
    /// Its capacity must already have been drawn.
    pub fn start(&mut self, r: RemoteId, now: u64) {
        let mean = self.mean_lifetime;
        let life = self.rng(r).exp(mean);
        self.schedule(now as f64 + life, Event::Depart(r));
        let gap = self.outage_gap;
        let gap = self.rng(r).exp(gap);
        self.schedule(now as f64 + gap, Event::OutageStart(r));
    }

    /// Applies every event up to and including `until`.
    pub fn advance(&mut self, net: &mut Network, until: u64) {
        while let Some(&Reverse((at, _, e))) = self.events.peek() {
            if at > until {
                break;
            }
            self.events.pop();
            match e {
                Event::Depart(r) => self.depart(net, r, at),
                Event::OutageStart(r) => {
                    let mean = self.mean_outage;
                    let len = self.rng(r).exp(mean);
                    self.outage(net, r, at, len);
                }
                Event::OutageEnd(r) => self.outage_end(net, r, at),
                Event::GraceOver { remote, since } => {
                    if net.offline_since(remote) == Some(since) {
                        net.grace_over(remote);
                    }
                }
            }
        }
    }

    /// `r` leaves for good at `now` and an empty remote joins in its place.
    pub fn depart(&mut self, net: &mut Network, r: RemoteId, now: u64) {
        if net.departed(r) {
            return;
        }
        net.depart(r, now);
        self.stats.departed += 1;
        // Durability changed now; the server notices at the grace (already
        // scheduled if it departed during a long outage; a duplicate is
        // harmless).
        let since = net.offline_since(r).expect("departed remotes are offline");
        if since + self.grace >= now {
            self.schedule((since + self.grace + 1) as f64, Event::GraceOver { remote: r, since });
        }
        let id = RemoteId::try_from(net.remote_count()).expect("fewer than 2^32 remotes");
        let capacity = self.draw_capacity(id);
        self.admit(net, id, capacity);
        self.start(id, now);
        self.stats.joined += 1;
    }

    /// `r` goes offline at `now` for `len` seconds, then returns with its
    /// shards.
    pub fn outage(&mut self, net: &mut Network, r: RemoteId, now: u64, len: f64) {
        if net.departed(r) || net.offline_since(r).is_some() {
            return;
        }
        net.go_offline(r, now);
        self.stats.outages += 1;
        if len > self.grace as f64 {
            self.stats.outages_past_grace += 1;
            self.schedule((now + self.grace + 1) as f64, Event::GraceOver { remote: r, since: now });
        }
        self.schedule(now as f64 + len.max(1.0), Event::OutageEnd(r));
    }

    fn outage_end(&mut self, net: &mut Network, r: RemoteId, now: u64) {
        if net.departed(r) {
            return;
        }
        net.come_online(r);
        let gap = self.outage_gap;
        let gap = self.rng(r).exp(gap);
        self.schedule(now as f64 + gap, Event::OutageStart(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;

    fn churn(p: Params) -> (Churn, Network) {
        let cfg = Config::new(p).unwrap();
        let mut churn = Churn::new(&cfg);
        let mut net = Network::new(cfg.scheme, 1);
        for r in 0..cfg.params.remotes as RemoteId {
            let cap = churn.draw_capacity(r);
            net.add_remote(cap as u64);
            churn.start(r, 0);
        }
        churn.advance(&mut net, cfg.horizon);
        (churn, net)
    }

    #[test]
    fn rates_match_the_parameters() {
        let (c, net) = churn(Params::default());
        // 1000 remotes, mean lifetime 274 days: about 1000 * 365 / 274 = 1332
        // departures in a year, each replaced.
        assert!((1200..1470).contains(&c.stats.departed), "{:?}", c.stats);
        assert_eq!(c.stats.joined, c.stats.departed);
        assert_eq!(net.remote_count() as u64, 1000 + c.stats.joined);
        // 2 % a day: about 7300 outages; e^-4 = 1.8 % of them past 24 h.
        assert!((6800..7800).contains(&c.stats.outages), "{:?}", c.stats);
        assert!((90..190).contains(&c.stats.outages_past_grace), "{:?}", c.stats);
    }

    #[test]
    fn same_seed_same_churn_and_no_churn_when_disabled() {
        let p = Params { remotes: 100, ..Params::default() };
        assert_eq!(churn(p.clone()).0.stats, churn(p).0.stats);
        let calm =
            Params { remotes: 100, mean_lifetime_days: f64::INFINITY, offline_per_day: 0.0, ..Params::default() };
        assert_eq!(churn(calm).0.stats, ChurnStats::default());
    }
}
