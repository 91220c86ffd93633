//! `pyxis`: one binary for every role. Each subcommand lives in its own file
//! under `commands/`; this file only parses arguments and reports errors.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod commands;
mod config_file;
mod output;

/// Pyxis: an end-to-end encrypted, erasure-coded file store over remotes
/// that anyone can run.
#[derive(Debug, Parser)]
#[command(name = "pyxis", version, about)]
struct Cli {
    #[command(flatten)]
    global: commands::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an account on the server and log this device in.
    Signup(commands::account::UserArgs),
    /// Log this device in.
    Login(commands::account::UserArgs),
    /// End this device's session.
    Logout,
    /// Change the password (the current one from PYXIS_PASSWORD or asked;
    /// the new one from PYXIS_NEW_PASSWORD, --password-stdin, or asked).
    Passwd,
    /// Make a recovery key, shown once, that can set a new password if this
    /// one is lost (replaces an earlier one).
    RecoveryKey,
    /// List this account's logged-in devices, or log one out.
    Devices {
        #[command(subcommand)]
        cmd: Option<commands::account::DevicesCommand>,
    },
    /// Set a new password with the recovery key (from PYXIS_RECOVERY_KEY or
    /// asked) and log this device in.
    Recover(commands::account::UserArgs),
    /// Show who this device is logged in as.
    Whoami {
        /// Also the fingerprint of this account's public key (what others
        /// pin when they share with you), checked against the server's copy.
        #[arg(long)]
        fingerprint: bool,
    },
    /// Account upkeep.
    Account {
        #[command(subcommand)]
        cmd: commands::account::AccountCommand,
    },
    /// Show storage used, what it is made of, and the quota.
    Quota,
    /// Store a file or a directory tree.
    Put(commands::put::PutArgs),
    /// Fetch a file or a directory tree.
    Get(commands::get::GetArgs),
    /// List a directory.
    Ls(commands::catalog::LsArgs),
    /// Remove a file or (with -r) a directory.
    Rm(commands::catalog::RmArgs),
    /// Move or rename a file or directory.
    Mv(commands::catalog::MvArgs),
    /// Create a directory.
    Mkdir(commands::catalog::MkdirArgs),
    /// Show a file or directory.
    Stat(commands::catalog::PathArg),
    /// List a file's versions.
    Versions(commands::catalog::PathArg),
    /// Make an older version of a file current again.
    Restore(commands::catalog::RestoreArgs),
    /// Removed files, kept for the retention period: list, restore, empty.
    Trash {
        #[command(subcommand)]
        cmd: Option<commands::history::TrashCommand>,
    },
    /// Forget old versions by retention rules (restic's --keep-*); with
    /// --save, make them the account's policy, which the server applies.
    Forget(commands::history::ForgetArgs),
    /// Let another user read a file or directory (they read it as @YOU/PATH).
    Share(commands::share::ShareArgs),
    /// End a share.
    Unshare(commands::share::UnshareArgs),
    /// What you share, and what others share with you.
    Shared,
    /// Pin the public key the server hands out for USER, if its fingerprint
    /// is the one USER gave you (after USER made a new account).
    Trust(commands::share::TrustArgs),
    /// Keep local folders in step with the catalog, on every device that
    /// syncs them: in real time, with history and conflict copies.
    Sync(commands::sync::SyncArgs),
    /// What each synced folder is doing.
    Status(commands::sync::StatusArgs),
    /// Verify that every file's current version opens and its chunks are
    /// readable; with --read-data, read every chunk back.
    Check(commands::check::CheckArgs),
    /// Bind the current versions written before bindings (docs/SECURITY.md);
    /// with none left, this device refuses unbound versions from then on.
    Upgrade(commands::check::UpgradeArgs),
    /// Accept the server's catalog as it is now after this device reported a
    /// rollback (the server was restored from an older backup): forget the
    /// versions seen here (under PATH, or everywhere).
    AcceptRollback(commands::check::AcceptRollbackArgs),
    /// Run the server.
    Server(Box<commands::server::ServerArgs>),
    /// Run a remote (a storage daemon).
    Remote(commands::remote::RemoteArgs),
    /// A whole local network in one command: a server and N remotes.
    Up(Box<commands::up::UpArgs>),
    /// Operator commands.
    #[command(subcommand)]
    Admin(commands::admin::AdminCommand),
    /// Built-in benchmarks.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

fn main() -> ExitCode {
    let parsed = config_file::parse(Cli::command(), std::env::args_os().collect());
    if let Some(settings) = parsed.print {
        print!("{settings}");
        return ExitCode::SUCCESS;
    }
    let cli = Cli::from_arg_matches(&parsed.matches).unwrap_or_else(|e| e.exit());
    pyxis_client::init_crypto();
    let json = cli.global.json;
    let result = match cli.command {
        // Synchronous on purpose: it measures one core.
        Command::Bench(cmd) => commands::bench::run(cmd),
        other => run_async(cli.global, other),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(json, &e);
            ExitCode::FAILURE
        }
    }
}

/// A daemon must not limp on after a panic: a dead writer thread or task
/// would leave a process that heartbeats as online and fails every request.
/// The panic is reported as usual, then the process aborts (a supervisor
/// restarts it, and recovery takes over from the durable state).
fn abort_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        eprintln!("pyxis: a daemon thread panicked; aborting so that nothing runs half-dead");
        std::process::abort();
    }));
}

/// glibc's malloc gives each thread that contends its own arena (up to
/// eight per core) and keeps what each one frees, and after a big buffer is
/// freed it serves buffers that size from the heap, which it then keeps:
/// after a 10,000-file sync an idle sync daemon held 101 MiB, 72 MiB with
/// two arenas and buffers of 256 KiB and more mapped apart (returned when
/// freed). The server, remotes and bulk client commands (put, get, check,
/// a one-shot sync) get the arenas only (mapping every chunk buffer costs
/// page faults on their bulk paths). glibc reads these when
/// the process starts, so a process started without them starts itself
/// again with them (exec keeps the pid, arguments and descriptors), before
/// any thread exists. mimalloc instead was worse (docs/PERFORMANCE.md).
fn tune_malloc(idle_matters: bool) {
    const ARENAS: &str = "MALLOC_ARENA_MAX";
    if !cfg!(all(target_os = "linux", target_env = "gnu")) || std::env::var_os(ARENAS).is_some() {
        return;
    }
    #[cfg(unix)]
    if let Ok(exe) = std::env::current_exe() {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(std::env::args_os().skip(1)).env(ARENAS, "2");
        if idle_matters && std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            cmd.env("MALLOC_MMAP_THRESHOLD_", "262144");
        }
        let err = cmd.exec();
        // Only a failed exec returns: go on with glibc's defaults.
        eprintln!("pyxis: could not restart with {ARENAS}=2 ({err}); going on without");
    }
}

fn run_async(g: commands::Global, cmd: Command) -> anyhow::Result<()> {
    let daemon = matches!(cmd, Command::Server(_) | Command::Remote(_) | Command::Up(_))
        || matches!(&cmd, Command::Sync(a) if !a.once);
    if daemon {
        tune_malloc(matches!(cmd, Command::Sync(_)));
        abort_on_panic();
    } else if matches!(cmd, Command::Put(_) | Command::Get(_) | Command::Check(_) | Command::Sync(_)) {
        // Bulk client commands free chunk buffers on other threads than
        // the ones that filled them: with glibc's default arenas a tree's
        // get held 225-300 MiB, with two 145-160 MiB (and ran no slower).
        tune_malloc(false);
    }
    output::init_logging(daemon, g.log_json);
    // A client command's id, on its log lines and on every call it makes to
    // the server and to remotes (X-Request-Id), whose lines then carry it
    // too. The server and remotes give each request its own.
    let span = if matches!(cmd, Command::Server(_) | Command::Remote(_) | Command::Up(_)) {
        tracing::Span::none()
    } else {
        let id = pyxis_net::request_id::new_id();
        pyxis_net::request_id::set_process(id.clone());
        tracing::info_span!("pyxis", request_id = %id)
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(tracing::Instrument::instrument(
        async move {
            use commands::*;
            match cmd {
                Command::Signup(a) => account::signup(&g, a).await,
                Command::Login(a) => account::login(&g, a).await,
                Command::Logout => account::logout(&g).await,
                Command::Passwd => account::passwd(&g).await,
                Command::RecoveryKey => account::recovery_key(&g).await,
                Command::Recover(a) => account::recover(&g, a).await,
                Command::Devices { cmd } => account::devices(&g, cmd).await,
                Command::Check(a) => commands::check::run(&g, a).await,
                Command::Upgrade(a) => commands::check::upgrade(&g, a).await,
                Command::AcceptRollback(a) => commands::check::accept_rollback(&g, a),
                Command::Whoami { fingerprint } => account::whoami(&g, fingerprint).await,
                Command::Account { cmd } => account::account(&g, cmd).await,
                Command::Quota => history::quota(&g).await,
                Command::Trash { cmd } => history::trash(&g, cmd).await,
                Command::Forget(a) => history::forget(&g, a).await,
                Command::Put(a) => put::run(&g, a).await,
                Command::Get(a) => get::run(&g, a).await,
                Command::Ls(a) => catalog::ls(&g, a).await,
                Command::Rm(a) => catalog::rm(&g, a).await,
                Command::Mv(a) => catalog::mv(&g, a).await,
                Command::Mkdir(a) => catalog::mkdir(&g, a).await,
                Command::Stat(a) => catalog::stat(&g, a).await,
                Command::Versions(a) => catalog::versions(&g, a).await,
                Command::Restore(a) => catalog::restore(&g, a).await,
                Command::Share(a) => commands::share::share(&g, a).await,
                Command::Unshare(a) => commands::share::unshare(&g, a).await,
                Command::Shared => commands::share::shared(&g).await,
                Command::Trust(a) => commands::share::trust(&g, a).await,
                Command::Sync(a) => commands::sync::sync(&g, a).await,
                Command::Status(a) => commands::sync::status(&g, a).await,
                Command::Server(a) => server::run(&g, *a).await,
                Command::Remote(a) => remote::run(&g, a).await,
                Command::Up(a) => up::run(*a).await,
                Command::Admin(a) => admin::run(&g, a).await,
                Command::Bench(_) => unreachable!("handled synchronously"),
            }
        },
        span,
    ))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        // Catches clashing flags (like a subcommand's --version) at test time
        // instead of as a panic in front of a user.
        super::Cli::command().debug_assert();
    }

    #[test]
    fn catalog_paths_on_the_command_line_become_nfc() {
        use clap::Parser;
        let nfc = "/docs/caf\u{E9}";
        for args in [["pyxis", "ls", "/docs/cafe\u{301}"], ["pyxis", "rm", "/docs/cafe\u{301}"]] {
            let cli = super::Cli::try_parse_from(args).unwrap();
            let path = match cli.command {
                super::Command::Ls(a) => a.path.unwrap(),
                super::Command::Rm(a) => a.path,
                _ => unreachable!(),
            };
            assert_eq!(path, nfc);
        }
        let cli = super::Cli::try_parse_from(["pyxis", "put", "local", "/cafe\u{301}"]).unwrap();
        let super::Command::Put(a) = cli.command else { unreachable!() };
        assert_eq!(a.dst.as_deref(), Some("/caf\u{E9}"));
        // A local path is the operating system's to spell.
        assert_eq!(a.src, std::path::PathBuf::from("local"));
    }
}
