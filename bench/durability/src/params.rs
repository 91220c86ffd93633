//! The model's parameters as flags ([`Params`]), validated once into a
//! [`Config`] that the simulation runs on.

use anyhow::{Context, bail, ensure};
use clap::Args;
use pyxis_core::policy::{RedundancyPolicy, max_unvetted, success_threshold};
use pyxis_core::repair;
use pyxis_proto::Scheme;
use serde::Serialize;

/// Decimal units, as disk and link vendors use them.
pub const TB: f64 = 1e12;
pub const MB: f64 = 1e6;
pub const MIB: u64 = 1 << 20;
pub const HOUR: u64 = 3600;
pub const DAY: u64 = 24 * HOUR;

/// What one run simulates. Every field is a flag; see the crate docs for why
/// each default is what it is.
#[derive(Args, Clone, Debug, Serialize)]
pub struct Params {
    /// Remotes in the network; constant, since every departure is replaced.
    #[arg(long, default_value_t = 1000)]
    pub remotes: usize,
    /// Smallest remote capacity, TB (capacities are log-uniform).
    #[arg(long, default_value_t = 1.0)]
    pub min_capacity_tb: f64,
    /// Largest remote capacity, TB.
    #[arg(long, default_value_t = 16.0)]
    pub max_capacity_tb: f64,
    /// Fraction of the network's capacity the stored shards fill at the start.
    #[arg(long, default_value_t = 0.5)]
    pub fill: f64,
    /// Chunks simulated. Results are fractions; more chunks only narrow them.
    #[arg(long, default_value_t = 100_000)]
    pub chunks: usize,
    /// Ciphertext per chunk, MiB.
    #[arg(long, default_value_t = 64)]
    pub chunk_mib: u64,
    /// Erasure scheme `k+m` (or `k/n`); default: what the redundancy policy
    /// picks with every remote online.
    #[arg(long, value_parser = parse_scheme)]
    pub scheme: Option<Scheme>,
    /// Repair threshold (healthy + unavailable shards at which a chunk is
    /// repaired); default `pyxis_core::repair::default_threshold`:
    /// min(k+2, n-1), never below k (8 for 6+4, 5 for 4+2).
    #[arg(long)]
    pub threshold: Option<usize>,
    /// Simulated days.
    #[arg(long, default_value_t = 365.0)]
    pub days: f64,
    /// Mean lifetime of a remote before it leaves for good, days
    /// (exponential; `inf` for none).
    #[arg(long, default_value_t = 274.0)]
    pub mean_lifetime_days: f64,
    /// Outages per remote per day (the fraction of remotes that go offline
    /// each day).
    #[arg(long, default_value_t = 0.02)]
    pub offline_per_day: f64,
    /// Mean outage length, hours (exponential).
    #[arg(long, default_value_t = 6.0)]
    pub outage_hours: f64,
    /// Hours a remote may be offline before its shards count as lost.
    #[arg(long, default_value_t = 24.0)]
    pub grace_hours: f64,
    /// Repair bandwidth of the whole network, MB/s of shard reads plus writes,
    /// at full scale (it is scaled with the data; see the crate docs).
    #[arg(long, default_value_t = 1000.0)]
    pub repair_mbps: f64,
    /// Seed of the churn (and of chunk ids): same seed, same departures and
    /// outages whatever the scheme.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fraction of remotes, among the starting ones and among joiners, that
    /// acknowledge shards with receipts and discard them. They are admitted
    /// unvetted and never pass the audits that would vet them.
    #[arg(long, default_value_t = 0.0)]
    pub liars: f64,
    /// Fraction of joiners that claim `--claim-tb` of capacity.
    #[arg(long, default_value_t = 0.0)]
    pub greedy_joiners: f64,
    /// What a greedy joiner claims, TB.
    #[arg(long, default_value_t = 1000.0)]
    pub claim_tb: f64,
    /// Admission's cap on what a greedy joiner may claim, TB; default: a
    /// capacity drawn like an honest remote's.
    #[arg(long, conflicts_with = "no_cap")]
    pub capacity_cap_tb: Option<f64>,
    /// Believe greedy joiners' claims, as placement did before admission
    /// caps (for comparison).
    #[arg(long)]
    pub no_cap: bool,
    /// Greedy joiners lie too.
    #[arg(long)]
    pub greedy_liars: bool,
    /// Audits of each online unvetted remote per hour. The server audits one
    /// shard of every unvetted remote each pass, every 10 s by default: 360.
    #[arg(long, default_value_t = 360.0)]
    pub audits_per_hour: f64,
    /// Passed audits that vet a remote (the server's default).
    #[arg(long, default_value_t = 50)]
    pub vet_after: u32,
    /// Failed audits in a row that make a remote suspect (the server's
    /// default).
    #[arg(long, default_value_t = 3)]
    pub suspect_after: u32,
    /// Fraction of chunks committed with only the success threshold
    /// (k + ceil(m/2)) of their shards stored; the worst case: the shards
    /// that never arrived were all bound for honest remotes, so every liar's
    /// receipt counted toward the threshold. Repair places the rest.
    #[arg(long, default_value_t = 0.0)]
    pub commit_at_threshold: f64,
    /// Threads ranking placement candidates; results do not depend on it.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

impl Default for Params {
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct P {
            #[command(flatten)]
            p: Params,
        }
        <P as clap::Parser>::parse_from(["pyxis-durability"]).p
    }
}

/// `k+m`, or `k/n` the way Storj writes its schemes (29/80 is 29+51).
pub fn parse_scheme(s: &str) -> Result<Scheme, String> {
    if let Some((k, n)) = s.split_once('/') {
        let k: usize = k.trim().parse().map_err(|_| format!("{s:?}: k is not a number"))?;
        let n: usize = n.trim().parse().map_err(|_| format!("{s:?}: n is not a number"))?;
        if n < k {
            return Err(format!("{s:?}: n must be at least k"));
        }
        return Scheme::new(k, n - k).map_err(|e| e.to_string());
    }
    s.parse().map_err(|e: pyxis_proto::scheme::SchemeError| e.to_string())
}

/// A validated run: the scheme is resolved through the real policy, times
/// are in seconds.
#[derive(Clone, Debug)]
pub struct Config {
    pub params: Params,
    pub scheme: Scheme,
    /// Whether the scheme came from `RedundancyPolicy::default()`.
    pub from_policy: bool,
    pub threshold: usize,
    /// Shards with receipts a chunk needs to be stored (`policy::success_threshold`).
    pub success_threshold: usize,
    /// Most shards of a chunk on unvetted remotes (`policy::max_unvetted`).
    pub max_unvetted: usize,
    pub chunk_bytes: u64,
    /// Ciphertext split into k shards, the last padded: ceil(chunk / k).
    pub shard_bytes: u64,
    pub horizon: u64,
    pub grace: u64,
}

impl Config {
    pub fn new(params: Params) -> anyhow::Result<Self> {
        let p = &params;
        ensure!(
            p.remotes > 0 && p.chunks > 0 && p.chunk_mib > 0,
            "--remotes, --chunks and --chunk-mib must be positive"
        );
        ensure!(p.threads > 0, "--threads must be at least 1");
        // Placement ranks a batch of chunks on one view of free space, so a
        // nearly full network could overfill a remote by a few shards.
        ensure!(p.fill > 0.0 && p.fill <= 0.9, "--fill {} must be above 0 and at most 0.9", p.fill);
        ensure!(
            p.min_capacity_tb > 0.0 && p.min_capacity_tb <= p.max_capacity_tb,
            "capacities must satisfy 0 < --min-capacity-tb <= --max-capacity-tb"
        );
        ensure!(p.days > 0.0 && p.days.is_finite(), "--days must be positive");
        for (flag, v) in [
            ("--mean-lifetime-days", p.mean_lifetime_days),
            ("--offline-per-day", p.offline_per_day),
            ("--outage-hours", p.outage_hours),
            ("--grace-hours", p.grace_hours),
            ("--repair-mbps", p.repair_mbps),
        ] {
            ensure!(v >= 0.0 && !v.is_nan(), "{flag} {v} must not be negative");
        }
        ensure!(
            p.grace_hours.is_finite() && p.repair_mbps.is_finite(),
            "--grace-hours and --repair-mbps must be finite"
        );
        for (flag, v) in [
            ("--liars", p.liars),
            ("--greedy-joiners", p.greedy_joiners),
            ("--commit-at-threshold", p.commit_at_threshold),
        ] {
            ensure!((0.0..=1.0).contains(&v), "{flag} {v} must be a fraction from 0 to 1");
        }
        for (flag, v) in [("--claim-tb", p.claim_tb), ("--capacity-cap-tb", p.capacity_cap_tb.unwrap_or(1.0))] {
            ensure!(v > 0.0 && v.is_finite(), "{flag} {v} must be positive");
        }
        ensure!(
            p.audits_per_hour >= 0.0 && p.audits_per_hour.is_finite(),
            "--audits-per-hour {} must not be negative",
            p.audits_per_hour
        );
        ensure!(p.vet_after > 0 && p.suspect_after > 0, "--vet-after and --suspect-after must be at least 1");
        let policy = match p.scheme {
            Some(s) => RedundancyPolicy::Fixed(s),
            None => RedundancyPolicy::default(),
        };
        // Every remote is online when the data is written.
        let scheme = policy.choose(p.remotes).context("choosing the scheme")?.scheme;
        let threshold = p.threshold.unwrap_or_else(|| repair::default_threshold(scheme));
        if threshold >= scheme.total() {
            bail!("--threshold {threshold} must be below n = {} (the chunk would always need repair)", scheme.total());
        }
        let chunk_bytes = p.chunk_mib * MIB;
        Ok(Config {
            scheme,
            from_policy: p.scheme.is_none(),
            threshold,
            success_threshold: success_threshold(scheme),
            max_unvetted: max_unvetted(scheme),
            chunk_bytes,
            shard_bytes: chunk_bytes.div_ceil(scheme.data() as u64),
            horizon: (p.days * DAY as f64).round() as u64,
            grace: (p.grace_hours * HOUR as f64).round() as u64,
            params,
        })
    }

    /// Bytes the shards of every chunk take.
    pub fn stored_bytes(&self) -> u64 {
        self.params.chunks as u64 * self.scheme.total() as u64 * self.shard_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_through_the_policy() {
        let c = Config::new(Params::default()).unwrap();
        assert_eq!(c.scheme.to_string(), "6+4");
        assert!(c.from_policy);
        assert_eq!(c.threshold, 8, "k+2, the default since k+1 lost chunks under churn");
        assert_eq!(c.horizon, 365 * DAY);
        assert_eq!(c.grace, 24 * HOUR);
    }

    #[test]
    fn schemes_in_both_notations() {
        assert_eq!(parse_scheme("29/80").unwrap().to_string(), "29+51");
        assert_eq!(parse_scheme("4+2").unwrap().to_string(), "4+2");
        assert!(parse_scheme("80/29").is_err());
        let p = Params { scheme: Some(parse_scheme("29/80").unwrap()), threshold: Some(80), ..Params::default() };
        assert!(Config::new(p).unwrap_err().to_string().contains("below n = 80"));
        let p = Params { remotes: 60, scheme: Some(parse_scheme("29/80").unwrap()), ..Params::default() };
        assert!(format!("{:#}", Config::new(p).unwrap_err()).contains("needs 80 remotes"));
    }
}
