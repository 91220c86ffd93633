//! `pyxis`: one binary for every role. Each subcommand lives in its own file
//! under `commands/`; this file only parses arguments and reports errors.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

/// Pyxis: an end-to-end encrypted, erasure-coded file store over remotes
/// that anyone can run.
#[derive(Debug, Parser)]
#[command(name = "pyxis", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Built-in benchmarks.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(cmd) => commands::bench::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whole cause chain: scripts grep it, people read it.
            eprintln!("pyxis: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
