//! `pyxis bench ...`: measurements built into the binary, so anyone can check
//! the figures in docs/PERFORMANCE.md on their own machine.

use clap::Subcommand;

mod edits;
mod memory;
mod pipeline;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The data path on one core, stage by stage: chunk, id, compress,
    /// encrypt, erasure-code, hash; and back from k shards.
    Pipeline(pipeline::PipelineArgs),
    /// Bytes an edit sends, over many accounts' chunker keys: the expected
    /// cost, where one `put` measures a single draw.
    Edits(edits::EditsArgs),
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Pipeline(args) => pipeline::run(args),
        BenchCommand::Edits(args) => edits::run(args),
    }
}
