//! What a run reports: one JSON object (`--json`) or a table for people.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Serialize;

use crate::params::{MIB, Params};

/// Results of one run. Byte counts are simulated bytes unless the name says
/// `full_scale`; fractions are the same at either scale.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub params: Params,
    pub scheme: String,
    pub scheme_from_policy: bool,
    pub k: usize,
    pub n: usize,
    pub threshold: usize,
    /// Shards with receipts that store a chunk: k + ceil(m/2).
    pub success_threshold: usize,
    /// Most shards of a chunk on unvetted remotes: ceil(m/2).
    pub max_unvetted: usize,
    /// n / k: stored bytes per byte of ciphertext.
    pub expansion: f64,
    /// Simulated bytes per full-scale byte.
    pub scale: f64,
    pub shard_bytes: u64,
    pub stored_bytes: u64,
    pub full_scale_stored_tb: f64,
    pub chunks_lost: u64,
    /// Ciphertext of the lost chunks.
    pub bytes_lost: u64,
    pub full_scale_lost_tb: f64,
    pub lost_fraction: f64,
    pub repairs: u64,
    pub shards_rebuilt: u64,
    pub repair_bytes_read: u64,
    pub repair_bytes_written: u64,
    /// (read + written) / stored, over the whole run.
    pub repair_traffic_fraction: f64,
    pub full_scale_repair_traffic_tb: f64,
    /// Worst healthy - k the server saw on a chunk not lost at the time
    /// (negative: fewer than k readable then, waiting for remotes to return).
    pub worst_margin: i64,
    /// Worst (real shards that exist or will return) - k on a chunk not
    /// lost at the time: 0 means one more departure would have lost it.
    pub worst_durable_margin: i64,
    /// The same right after the data was written: at least 0 is the promise
    /// of the success threshold and the unvetted cap (k real shards even if
    /// every unvetted remote lied).
    pub commit_durable_margin: i64,
    /// Surviving chunks by the worst margin each reached.
    pub min_margin_histogram: BTreeMap<i64, u64>,
    /// Times a queued chunk was passed over because fewer than k of its
    /// shards were readable (it waits for remotes to return); counted per
    /// step, so one chunk waiting a day counts up to 24.
    pub repair_waiting: u64,
    /// Repairs skipped because too few online remotes had room.
    pub repair_no_targets: u64,
    /// Repairs re-ranked because a target filled up within the step.
    pub repair_reranked: u64,
    pub peak_backlog_chunks: u64,
    /// Repairs that read fewer than k shards (a liar's were not there).
    pub repair_read_failures: u64,
    /// Shards a repair read found missing (on liars) and marked lost.
    pub shards_found_missing_on_read: u64,
    /// Repairs of chunks with no lost shard (only unavailable ones): the
    /// healthy ones were down to k. A reboot alone never causes one.
    pub repairs_without_loss: u64,
    /// Shards rebuilt only because their remote was offline within the
    /// grace, in repairs that lost shards called for.
    pub shards_rebuilt_unavailable: u64,
    /// Most shards of one chunk the server counted healthy on unvetted
    /// remotes after a repair.
    pub most_unvetted_after_repair: u64,
    /// Remotes that lied (starting ones and joiners).
    pub liar_remotes: u64,
    pub greedy_joiners: u64,
    /// Shards liars acknowledged when the data was written.
    pub start_phantom_shards: u64,
    /// Rebuilt shards written to liars (acknowledged, not kept).
    pub shards_written_to_liars: u64,
    pub shards_written_to_greedy: u64,
    /// Greedy joiners' share of the shards repair wrote (the only writes
    /// after the start).
    pub greedy_share_of_rebuilt: f64,
    /// Greedy joiners' share of the bytes the server counts stored, at the end.
    pub greedy_share_of_stored_at_end: f64,
    pub audits_passed: u64,
    pub audits_failed: u64,
    /// Joiners vetted by their audits.
    pub remotes_vetted: u64,
    /// Remotes made suspect by failed audits (liars caught).
    pub suspects: u64,
    pub remotes_departed: u64,
    pub remotes_joined: u64,
    pub outages: u64,
    pub outages_past_grace: u64,
    pub placement_seconds: f64,
    pub wall_seconds: f64,
}

fn bytes(b: u64) -> String {
    let gib = b as f64 / (1024.0 * MIB as f64);
    if gib >= 1.0 { format!("{gib:.1} GiB") } else { format!("{:.1} MiB", b as f64 / MIB as f64) }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.params;
        let from = if self.scheme_from_policy { "policy" } else { "--scheme" };
        let histogram = self.min_margin_histogram.iter().fold(String::new(), |mut s, (m, c)| {
            let _ = write!(s, "{}{m}: {c}", if s.is_empty() { "" } else { ", " });
            s
        });
        let rows: Vec<(&str, String)> = vec![
            (
                "scheme",
                format!("{} ({from}), threshold {}, expansion {:.2}", self.scheme, self.threshold, self.expansion),
            ),
            (
                "network",
                format!(
                    "{} remotes {}-{} TB, {:.0} % full ({:.0} TB stored at full scale)",
                    p.remotes,
                    p.min_capacity_tb,
                    p.max_capacity_tb,
                    p.fill * 100.0,
                    self.full_scale_stored_tb
                ),
            ),
            ("data", format!("{} chunks of {} MiB, shards of {}", p.chunks, p.chunk_mib, bytes(self.shard_bytes))),
            (
                "churn",
                format!(
                    "{} days, lifetime {} d, {} outages/remote/day of {} h, grace {} h, seed {}",
                    p.days, p.mean_lifetime_days, p.offline_per_day, p.outage_hours, p.grace_hours, p.seed
                ),
            ),
            (
                "lost",
                format!(
                    "{} chunks, {} ({:.3e} of the data)",
                    self.chunks_lost,
                    bytes(self.bytes_lost),
                    self.lost_fraction
                ),
            ),
            (
                "repair traffic",
                format!(
                    "{:.3} x stored ({} read + {} written; {:.0} TB at full scale)",
                    self.repair_traffic_fraction,
                    bytes(self.repair_bytes_read),
                    bytes(self.repair_bytes_written),
                    self.full_scale_repair_traffic_tb
                ),
            ),
            (
                "repairs",
                format!(
                    "{} chunks, {} shards; peak backlog {} chunks; passed over {} times unreadable, {} without targets",
                    self.repairs,
                    self.shards_rebuilt,
                    self.peak_backlog_chunks,
                    self.repair_waiting,
                    self.repair_no_targets
                ),
            ),
            (
                "worst margin",
                format!(
                    "{} (durable {}; {} as written)",
                    self.worst_margin, self.worst_durable_margin, self.commit_durable_margin
                ),
            ),
            (
                "reboots",
                format!(
                    "{} repairs of chunks with no lost shard; {} shards rebuilt only unavailable",
                    self.repairs_without_loss, self.shards_rebuilt_unavailable
                ),
            ),
            (
                "liars",
                format!(
                    "{} remotes, {} caught; {} shards acknowledged at the start, {} rebuilt onto them; {} found missing by repair reads, {} repairs short of k",
                    self.liar_remotes,
                    self.suspects,
                    self.start_phantom_shards,
                    self.shards_written_to_liars,
                    self.shards_found_missing_on_read,
                    self.repair_read_failures
                ),
            ),
            (
                "audits",
                format!(
                    "{} passed, {} failed; {} remotes vetted; most unvetted shards of a chunk after a repair {} (cap {})",
                    self.audits_passed,
                    self.audits_failed,
                    self.remotes_vetted,
                    self.most_unvetted_after_repair,
                    self.max_unvetted
                ),
            ),
            (
                "greedy joiners",
                format!(
                    "{}: {:.1} % of rebuilt shards, {:.1} % of stored bytes at the end",
                    self.greedy_joiners,
                    self.greedy_share_of_rebuilt * 100.0,
                    self.greedy_share_of_stored_at_end * 100.0
                ),
            ),
            ("chunks by worst margin", histogram),
            ("remotes", format!("{} departed, {} joined", self.remotes_departed, self.remotes_joined)),
            ("outages", format!("{} ({} past the grace)", self.outages, self.outages_past_grace)),
            ("wall time", format!("{:.1} s (placement {:.1} s)", self.wall_seconds, self.placement_seconds)),
        ];
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in rows {
            writeln!(f, "{k:<width$}  {v}")?;
        }
        Ok(())
    }
}
