//! `pyxis-durability`: a year of churn on a Pyxis network, driven by the real
//! placement, policy and repair code, reporting how much data is lost and
//! how much repair traffic it took to lose no more — with honest remotes, or
//! with some that lie about what they store or claim far more room than
//! they have.
//!
//! # Why a simulation
//!
//! Closed-form durability models assume independent failures and instant
//! repair. What decides durability here is the interplay the formulas leave
//! out: the grace before an absent remote's shards count as lost, the lazy
//! repair threshold, the order the repair worker takes chunks in, a finite
//! repair bandwidth, placement weighted by free space that sends rebuilt
//! shards to new empty remotes, and the limits on remotes not yet vetted. So
//! every decision below is the code the server runs:
//! `pyxis_core::placement::choose_limited` places every shard (weights =
//! free bytes of the admitted capacity, at most `policy::max_unvetted`
//! shards of a chunk on unvetted remotes), `pyxis_core::policy` picks the
//! scheme (or `--scheme` fixes it) and gives the success threshold,
//! `pyxis_core::repair::Health::needs_repair` with `default_threshold` (or
//! `--threshold`) decides repairs, `repair::priority` orders them and
//! `repair::destinations` places the rebuilt shards, under a
//! `repair::Limit` counted as the server's repair worker counts it.
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
//!   `placement::choose_limited` in batches of 1000 chunks, each batch
//!   seeing the free space the batches before it left. Every shard arrives
//!   and is receipted, except in `--commit-at-threshold` of the chunks
//!   (default 0), which are committed with only the success threshold
//!   `k + ceil(m/2)` of shards stored; the worst case is modelled: the
//!   shards that never arrived were bound for honest remotes (the last in
//!   rank order), so every liar's receipt counted toward the threshold. The
//!   server counts the missing shards lost, and repair places them.
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
//!   `--chunks`: 30-50 s per 100,000 for 6+4 on two busy cores). The report
//!   gives bytes both simulated and at full scale (`full_scale_*`).
//! - **Time**: `--days 365` in steps of one hour ([`sim::STEP`]); churn
//!   events take effect at their own instant, the server audits and looks at
//!   the state at the end of each hour. A run is deterministic given
//!   `--seed`, with our own xoshiro256** ([`rng`]), and every remote draws
//!   its churn from its own stream and its role from another, so every
//!   scheme run with one seed, liars or not, sees exactly the same churn.
//! - **Departures**: exponential lifetimes, mean `--mean-lifetime-days 274`
//!   (nine months); a departed remote is replaced at once by an empty one of
//!   a fresh random capacity, so the network keeps its size. Joiners are
//!   admitted unvetted; the starting remotes are vetted (the operator
//!   vouched for them, or they passed their audits long ago) unless they
//!   lie.
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
//!   [`repair`]) where `repair::destinations` says, over the online remotes
//!   in good standing with room, weighted by their free space at the start
//!   of the hour and excluding the chunk's holders. A chunk with fewer than k healthy shards waits for
//!   remotes to return. There is no per-remote limit: new remotes, being the
//!   emptiest, receive much of the rebuilt data, as the real placement sends
//!   it. `--threads 2` rank placement candidates in parallel ([`par`]);
//!   results do not depend on it.
//! - **Repair reads and destinations** follow the server's worker: k shards
//!   are read from those it counts on online remotes, in index order; one
//!   that is not there (a liar's) is marked lost and the next tried, and
//!   with fewer than k read the repair fails, its reads spent. A rebuilt
//!   shard goes back to its remote if that one is online and has failed no
//!   audit since its last pass, elsewhere otherwise; unvetted remotes get
//!   at most `max_unvetted` shards of the chunk, counting those that keep
//!   theirs.
//! - **Liars** (`--liars 0`): that fraction of remotes, starting ones and
//!   joiners alike (each remote's own stream decides, [`roles`]), answer
//!   every shard with a receipt and keep none. The server counts their
//!   shards healthy until it finds them missing; for durability they never
//!   existed. They are unvetted, since they never pass the audits that would
//!   vet them.
//! - **Audits** ([`audit`]): each hour, every online unvetted remote in good
//!   standing that holds a shard the server counts is audited
//!   `--audits-per-hour 360` times on average (the server audits one shard
//!   of every unvetted remote each 10 s pass; vetted remotes are honest here
//!   and always pass, so their audits are not simulated). A pass counts
//!   toward vetting (`--vet-after 50`); a failure marks that shard lost, and
//!   `--suspect-after 3` failures in a row make the remote suspect: out of
//!   placement, its shards all lost and repaired.
//! - **Greedy joiners** (`--greedy-joiners 0`): that fraction of joiners
//!   claim `--claim-tb 1000` and have it (so that the risk measured is
//!   concentration; `--greedy-liars` makes them liars too). Admission bounds
//!   the claim at `--capacity-cap-tb` or, by default, at a capacity drawn
//!   like an honest remote's (what the operator would admit an ordinary
//!   remote for); `--no-cap` believes it, as placement did before admission
//!   caps. Honest remotes are admitted for what they have.
//! - **Loss**: a chunk is lost when fewer than k of its real shards (not a
//!   liar's, not one that never arrived) are on remotes that have not
//!   departed — permanent, since departed remotes never return. A chunk with
//!   enough shards on remotes in an outage is not lost, even past the
//!   grace.
//!
//! # What it leaves out
//!
//! Remotes fail independently (no shared ISP, region or software release);
//! honest remotes never corrupt a shard or fail an audit, liars keep
//! nothing (none keeps some and drops the rest), and audits run once an
//! hour in the model; the server itself never fails;
//! repair finishes within the hour it is paid for; remotes have no upload
//! limit of their own; the scheme of existing chunks never changes (no
//! adaptive re-encoding).

mod audit;
mod churn;
mod network;
mod par;
mod params;
mod repair;
mod report;
mod rng;
mod roles;
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
