//! `pyxis bench edits`: what an edit costs, averaged over many accounts.
//!
//! Every account keys its chunker with its own seed, so where the boundaries
//! fall around an edit — and so how many bytes the edit sends — is a draw
//! that differs per account. One `put` measures one draw (the same holds for
//! restic, whose chunker polynomial is random per repository); this command
//! runs the real chunker with `--keys` seeds over a base file and its edited
//! copies and reports the distribution of new chunk bytes per edit.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pyxis_core::chunker::{Chunker, ChunkerParams};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct EditsArgs {
    /// The file before the edits.
    base: PathBuf,
    /// Edited copies of it.
    #[arg(required = true)]
    edited: Vec<PathBuf>,
    /// Chunker seeds (accounts) to average over.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    keys: u32,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct EditCost {
    file: String,
    keys: u32,
    mean_new_bytes: f64,
    median_new_bytes: u64,
    p90_new_bytes: u64,
    max_new_bytes: u64,
    mean_new_chunks: f64,
}

pub fn run(args: EditsArgs) -> Result<()> {
    let mut costs: Vec<Vec<(u64, u64)>> = vec![Vec::new(); args.edited.len()];
    for key in 0..args.keys {
        // Seeds spread like real ones (a BLAKE3 derivation of the master key).
        let hash = blake3::hash(&key.to_le_bytes());
        let seed = u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"));
        let known: HashSet<blake3::Hash> = chunk_hashes(&args.base, seed)?.into_iter().map(|(h, _)| h).collect();
        for (file, cost) in args.edited.iter().zip(&mut costs) {
            let new = chunk_hashes(file, seed)?.into_iter().filter(|(h, _)| !known.contains(h));
            cost.push(new.fold((0, 0), |(bytes, n), (_, len)| (bytes + len, n + 1)));
        }
    }
    let report: Vec<EditCost> = args
        .edited
        .iter()
        .zip(costs)
        .map(|(path, mut cost)| {
            cost.sort_unstable();
            let n = cost.len(); // --keys >= 1
            let at = |q: f64| cost[((n - 1) as f64 * q).round() as usize].0;
            EditCost {
                file: path.display().to_string(),
                keys: args.keys,
                mean_new_bytes: cost.iter().map(|c| c.0 as f64).sum::<f64>() / n as f64,
                median_new_bytes: at(0.5),
                p90_new_bytes: at(0.9),
                max_new_bytes: at(1.0),
                mean_new_chunks: cost.iter().map(|c| c.1 as f64).sum::<f64>() / n as f64,
            }
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for r in &report {
            println!(
                "{}: over {} keys new bytes mean {:.0}, median {}, p90 {}, max {}; {:.2} chunks",
                r.file,
                r.keys,
                r.mean_new_bytes,
                r.median_new_bytes,
                r.p90_new_bytes,
                r.max_new_bytes,
                r.mean_new_chunks
            );
        }
    }
    Ok(())
}

/// Each pass streams the file again (the page cache keeps it warm), so
/// memory stays the chunker's buffer whatever the file sizes.
fn chunk_hashes(path: &Path, seed: u64) -> Result<Vec<(blake3::Hash, u64)>> {
    let what = || format!("chunking {}", path.display());
    let file = File::open(path).with_context(what)?;
    Chunker::new(file, ChunkerParams::default(), seed)?
        .map(|c| {
            let c = c.with_context(what)?;
            Ok((blake3::hash(c.data()), c.data().len() as u64))
        })
        .collect()
}
