//! `pyxis-durability`: a year of churn on a Pyxis network, driven by the real
//! placement, policy and repair code, reporting how much data is lost and
//! how much repair traffic it took to lose no more.
//!
//! # Why a simulation
//!
//! Closed-form durability models assume independent failures and instant
//! repair. What decides durability here is the interplay the formulas leave
//! out: the grace before an absent remote's shards count as lost, the lazy
//! repair threshold, the order the repair worker takes chunks in, a finite
//! repair bandwidth, and placement weighted by free space that sends rebuilt
//! shards to new empty remotes. So every decision below is the code the
//! server runs: `pyxis_core::placement::choose` places every shard (weights =
//! free bytes), `pyxis_core::policy::RedundancyPolicy` picks the scheme (or
//! `--scheme` fixes it), `pyxis_core::repair::Health::needs_repair` with
//! `default_threshold` (or `--threshold`) decides repairs, `repair::priority`
//! orders them and `repair::targets` places the rebuilt shards.
//!
//! # The model (every number is a flag)
//!
//! - **Network** (`--remotes 1000`): capacities log-uniform in
//!   `--min-capacity-tb 1` to `--max-capacity-tb 16` (home disks to small
//!   servers, as many remotes in each doubling). The data fills `--fill 0.5`
//!   of the capacity at the start; it is all written at time 0, with every
//!   remote online, and the year has no uploads or deletes (they would add
//!   whole, fresh chunks and not change the loss rate much).
//! - **Data** (`--chunks 100000` of `--chunk-mib 64` ciphertext): a chunk is
//!   k shards of ceil(64 MiB / k) plus m parity shards, placed by
//!   `placement::choose` in batches of 1000 chunks, each batch seeing the
//!   free space the batches before it left.
//! - **Scale.** 100,000 chunks are 6.1 TiB of ciphertext, while 1000 remotes
//!   of 1-16 TB half full hold about 2.7 PB. Rather than simulate ~40 million
//!   chunks, every capacity is multiplied by the factor `scale` (reported;
//!   about 0.004 for 6+4) that makes the simulated chunks fill `--fill` of
//!   it, and so is the repair bandwidth, so the hours it takes to rebuild a
//!   departed remote are those of the full-size network. Equivalently, each
//!   simulated chunk stands for 1/scale (~250) real chunks that share their
//!   remotes: expected fractions (lost, repair traffic / stored) do not
//!   depend on the scale, but losses come in lumps, so a count of a few lost
//!   chunks is mostly noise. More chunks narrow it (run time is linear in
//!   `--chunks`: ~15 s per 100,000 for 6+4 on two busy cores). The report
//!   gives bytes both simulated and at full scale (`full_scale_*`).
//! - **Time**: `--days 365` in steps of one hour ([`sim::STEP`]); churn
//!   events take effect at their own instant, the server looks at the state
//!   at the end of each hour. A run is deterministic given `--seed`, with our
//!   own xoshiro256** ([`rng`]), and every remote draws from its own stream,
//!   so every scheme run with one seed sees exactly the same churn.
//! - **Departures**: exponential lifetimes, mean `--mean-lifetime-days 274`
//!   (nine months); a departed remote is replaced at once by an empty one of
//!   a fresh random capacity, so the network keeps its size.
//! - **Outages**: each online remote goes offline at a rate of
//!   `--offline-per-day 0.02` (2 % of remotes a day) for an exponential time,
//!   mean `--outage-hours 6`, and comes back with its shards intact.
//! - **Grace**: a remote offline for more than `--grace-hours 24` has its
//!   shards counted `Lost`; before that they are `Unavailable`. The server
//!   cannot tell a departure from an outage, so a departed remote just stays
//!   offline: its shards become `Lost` when its grace runs out.
//! - **Repair**: at the end of every hour the chunks `needs_repair` queued
//!   are repaired in `priority` order while the network-wide budget
//!   `--repair-mbps 1000` (MB/s of shard reads plus writes at full scale:
//!   3.6 TB an hour) lasts; budget unused in an hour is not saved up. A
//!   repair reads k healthy shards and writes every shard not healthy (see
//!   [`repair`]) to `repair::targets` over the online remotes with room,
//!   weighted by their free space at the start of the hour and excluding
//!   the chunk's holders. A chunk with fewer than k healthy shards waits for
//!   remotes to return. There is no per-remote limit: new remotes, being the
//!   emptiest, receive much of the rebuilt data, as the real placement sends
//!   it. `--threads 2` rank placement candidates in parallel ([`par`]);
//!   results do not depend on it.
//! - **Loss**: a chunk is lost when fewer than k of its shards are on
//!   remotes that have not departed — permanent, since departed remotes
//!   never return. A chunk with enough shards on remotes in an outage is
//!   not lost, even past the grace.
//!
//! # What it leaves out
//!
//! Remotes fail independently (no shared ISP, region or software release);
//! no shard is corrupted or fails an audit; the server itself never fails;
//! repair finishes within the hour it is paid for; remotes have no upload
//! limit of their own; the scheme of existing chunks never changes (no
//! adaptive re-encoding).

mod churn;
mod network;
mod par;
mod params;
mod repair;
mod report;
mod rng;
mod sim;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use crate::params::{Config, Params};
use crate::sim::Sim;

/// Simulate a year of remote churn and repair on a Pyxis network.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    params: Params,
    /// Print one JSON object (one line) instead of a table.
    #[arg(long)]
    json: bool,
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg = Config::new(cli.params)?;
    let started = Instant::now();
    let mut sim = Sim::new(cfg)?;
    sim.run();
    let report = sim.summary(started.elapsed());
    if cli.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
