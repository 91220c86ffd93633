//! Config files for the daemons: `pyxis server --config-file F` and
//! `pyxis remote --config-file F`, and `--print-config`.
//!
//! A config file is TOML whose keys are the daemon's long flags without the
//! dashes (`repair-grace = "2h"`, `trusted-proxy = ["10.0.0.0/8"]`,
//! `insecure-http = true`), plus the global `ca` and `log-json`. The command
//! line and the environment win over the file, the file over the defaults.
//! A key that is not a flag is an error that names it: a typo must not leave
//! a default silently in force.
//!
//! The file is turned into the flags it stands for and parsed by the same
//! clap definitions as the command line. So the daemon's `Args` struct (its
//! doc comments are the `--help` text) is the one documented schema; a
//! value is checked the same way wherever it comes from; and a flag added
//! later is settable in the file without anyone remembering to.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// The subcommands that take `--config-file`.
const DAEMONS: &[&str] = &["server", "remote"];
/// Global flags that a daemon's file may set too.
const GLOBAL_KEYS: &[&str] = &["ca", "log-json"];
/// Flags that make no sense in a file.
const NOT_IN_FILE: &[&str] = &["config-file", "print-config", "help", "version"];
/// Values `--print-config` does not show (they may hold passwords).
const SECRET_KEYS: &[&str] = &["admin-token", "database-url", "token"];

/// `--config-file` and `--print-config`, flattened into each daemon's args.
#[derive(Debug, clap::Args)]
pub struct ConfigFileArgs {
    /// Read settings from this TOML file: keys are the long flags, e.g.
    /// `repair-grace = "2h"` (docs/OPERATIONS.md). Flags and environment
    /// variables win over it.
    #[arg(long, value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Print the settings in effect as a config file, and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// The parsed command line, with a daemon's config file folded in, and what
/// to print instead of running when `--print-config` was given.
pub struct Parsed {
    pub matches: ArgMatches,
    pub print: Option<String>,
}

/// Parses `argv` with `cmd` like clap's `get_matches_from`, reading the
/// daemon's config file if one is given. Exits on an error, as clap does.
pub fn parse(cmd: Command, argv: Vec<OsString>) -> Parsed {
    match try_parse(cmd, argv) {
        Ok(p) => p,
        Err(Failure::Clap(e)) => e.exit(),
        Err(Failure::File(e)) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}

enum Failure {
    Clap(clap::Error),
    File(anyhow::Error),
}

fn try_parse(mut cmd: Command, argv: Vec<OsString>) -> Result<Parsed, Failure> {
    cmd.build();
    // A first, lenient pass only to find the file: what the file holds may
    // be what makes the command line complete (a remote's --dir).
    let first = cmd.clone().ignore_errors(true).try_get_matches_from(&argv).map_err(Failure::Clap)?;
    let Some((name, sub)) = first.subcommand().filter(|(n, _)| DAEMONS.contains(n)) else {
        return Ok(Parsed { matches: cmd.try_get_matches_from(argv).map_err(Failure::Clap)?, print: None });
    };
    let sub_cmd = cmd.find_subcommand(name).expect("a subcommand clap just matched").clone();
    let mut argv = argv;
    let mut from_file = BTreeSet::new();
    let file = sub.get_one::<PathBuf>("config_file").cloned();
    if let Some(path) = &file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))
            .map_err(Failure::File)?;
        let (flags, keys) = file_flags(&sub_cmd, sub, &text)
            .with_context(|| format!("config file {}", path.display()))
            .map_err(Failure::File)?;
        // The subcommand's own arguments are last on the line (server and
        // remote take no positional arguments), so flags appended belong to it.
        argv.extend(flags);
        from_file = keys;
    }
    let matches = cmd.try_get_matches_from(argv).map_err(|e| match &file {
        Some(path) if !from_file.is_empty() => Failure::File(anyhow::anyhow!(
            "{} (with the settings from config file {})",
            // The first line only: clap's "For more information, try
            // '--help'" would come between the error and the file's name.
            e.render().to_string().lines().next().unwrap_or_default().trim_start_matches("error: "),
            path.display()
        )),
        _ => Failure::Clap(e),
    })?;
    let (_, sub) = matches.subcommand().expect("matched above");
    let print = sub.get_flag("print_config").then(|| print_config(name, &sub_cmd, sub, file.as_deref(), &from_file));
    Ok(Parsed { matches, print })
}

/// The arguments a file may set, by key.
fn settable(sub_cmd: &Command) -> impl Iterator<Item = (&str, &Arg)> {
    sub_cmd.get_arguments().filter_map(|a| {
        let key = a.get_long()?;
        let own = !a.is_global_set() || GLOBAL_KEYS.contains(&key);
        (own && !NOT_IN_FILE.contains(&key) && !a.is_positional()).then_some((key, a))
    })
}

/// The flags `text` stands for, leaving out those the command line or the
/// environment already set; and the keys they came from.
fn file_flags(sub_cmd: &Command, given: &ArgMatches, text: &str) -> anyhow::Result<(Vec<OsString>, BTreeSet<String>)> {
    let table: toml::Table = toml::from_str(text).context("not valid TOML")?;
    let args: Vec<(&str, &Arg)> = settable(sub_cmd).collect();
    let mut flags = Vec::new();
    let mut keys = BTreeSet::new();
    for (key, value) in &table {
        let Some((_, arg)) = args.iter().find(|(k, _)| k == key) else {
            let known: Vec<&str> = args.iter().map(|(k, _)| *k).collect();
            bail!("unknown key `{key}` (a key is one of: {})", known.join(", "));
        };
        if matches!(
            given.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let switch = matches!(arg.get_action(), ArgAction::SetTrue);
        let many = matches!(arg.get_action(), ArgAction::Append);
        let values: Vec<&toml::Value> = match value {
            toml::Value::Array(items) if many => items.iter().collect(),
            toml::Value::Array(_) => bail!("`{key}` takes one value, not a list"),
            v => vec![v],
        };
        for v in values {
            match (v, switch) {
                (toml::Value::Boolean(true), true) => flags.push(format!("--{key}").into()),
                (toml::Value::Boolean(false), true) => {}
                (_, true) => bail!("`{key}` is a switch: write `{key} = true` or `false`"),
                (toml::Value::String(s), false) => flags.push(format!("--{key}={s}").into()),
                (toml::Value::Integer(i), false) => flags.push(format!("--{key}={i}").into()),
                (toml::Value::Float(f), false) => flags.push(format!("--{key}={f}").into()),
                (other, false) => bail!("`{key}` must be a string or a number, not a {}", other.type_str()),
            }
        }
        keys.insert(key.clone());
    }
    Ok((flags, keys))
}

/// The settings in effect as a config file, each with its help and where
/// its value came from. Secrets are shown as set or not, never their value.
fn print_config(
    name: &str,
    sub_cmd: &Command,
    m: &ArgMatches,
    file: Option<&Path>,
    from_file: &BTreeSet<String>,
) -> String {
    let mut out = format!("# pyxis {name}: the settings in effect (pyxis {name} --print-config)\n");
    for (key, arg) in settable(sub_cmd) {
        let id = arg.get_id().as_str();
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let first = help.split(". ").next().unwrap_or_default().trim_end_matches('.');
        let _ = writeln!(out, "\n# {first}.");
        let source = if from_file.contains(key) {
            format!("from {}", file.map(|f| f.display().to_string()).unwrap_or_default())
        } else {
            match m.value_source(id) {
                Some(ValueSource::CommandLine) => "from the command line".to_owned(),
                Some(ValueSource::EnvVariable) => {
                    format!("from {}", arg.get_env().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default())
                }
                _ => "default".to_owned(),
            }
        };
        let raw: Vec<String> =
            m.get_raw(id).map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect()).unwrap_or_default();
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            let _ = writeln!(out, "{key} = {}  # {source}", m.get_flag(id));
        } else if raw.is_empty() {
            let _ = writeln!(out, "# {key} = (not set)");
        } else if SECRET_KEYS.contains(&key) {
            let _ = writeln!(out, "# {key} = (set, not shown)  # {source}");
        } else if matches!(arg.get_action(), ArgAction::Append) {
            let items: Vec<String> = raw.iter().map(|s| toml_value(s)).collect();
            let _ = writeln!(out, "{key} = [{}]  # {source}", items.join(", "));
        } else {
            let _ = writeln!(out, "{key} = {}  # {source}", toml_value(&raw[0]));
        }
    }
    out
}

/// A number as a TOML integer, anything else as a string.
fn toml_value(s: &str) -> String {
    match s.parse::<i64>() {
        Ok(i) => i.to_string(),
        Err(_) => toml::Value::String(s.to_owned()).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;
    use crate::{Cli, Command as Sub};

    fn parse_with(file: &str, args: &[&str]) -> Result<(Cli, Option<String>), String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyxis.toml");
        std::fs::write(&path, file).unwrap();
        let mut argv: Vec<OsString> = vec!["pyxis".into()];
        argv.extend(args.iter().map(|a| a.replace("FILE", path.to_str().unwrap()).into()));
        match try_parse(Cli::command(), argv) {
            Ok(p) => Ok((Cli::from_arg_matches(&p.matches).unwrap(), p.print)),
            Err(Failure::File(e)) => Err(format!("{e:#}")),
            Err(Failure::Clap(e)) => Err(e.to_string()),
        }
    }

    fn server(cli: Cli) -> crate::commands::server::ServerArgs {
        match cli.command {
            Sub::Server(a) => *a,
            _ => panic!("not the server"),
        }
    }

    const SERVER: &str = r#"
        listen = "127.0.0.1:9999"
        quota = "2GiB"
        repair-grace = "2h"
        audit-sample = 3
        trusted-proxy = ["10.0.0.0/8", "127.0.0.1"]
        rotate-grant-key = true
        log-json = true
    "#;

    #[test]
    fn a_file_sets_flags_and_the_command_line_wins() {
        let (cli, print) = parse_with(SERVER, &["server", "--config-file", "FILE", "--audit-sample", "5"]).unwrap();
        assert!(print.is_none());
        assert!(cli.global.log_json, "a global key in the file");
        let a = server(cli);
        assert_eq!(a.listen.to_string(), "127.0.0.1:9999");
        assert_eq!(a.quota.0, 2 << 30);
        assert_eq!(a.repair_grace, std::time::Duration::from_secs(7200));
        assert_eq!(a.audit_sample, 5, "the command line wins over the file");
        assert_eq!(a.limits.trusted_proxies.len(), 2);
        assert!(a.rotate_grant_key);
        // Untouched by the file: the default.
        assert_eq!(a.heartbeat, std::time::Duration::from_secs(10));
    }

    #[test]
    fn a_remote_may_take_its_required_flags_from_the_file() {
        let file = "server = \"https://s.example:7070\"\ndir = \"/srv/pyxis\"\ncapacity = \"1TB\"\n";
        let (cli, _) = parse_with(file, &["remote", "--config-file", "FILE"]).unwrap();
        let Sub::Remote(a) = cli.command else { panic!("not the remote") };
        assert_eq!(a.server, "https://s.example:7070");
        assert_eq!(a.dir, PathBuf::from("/srv/pyxis"));
        // Without the file they are missing, and clap says so.
        let e = parse_with("", &["remote", "--config-file", "FILE"]).unwrap_err();
        assert!(e.contains("--dir"), "{e}");
    }

    #[test]
    fn a_bad_file_is_refused_with_what_is_wrong_in_it() {
        let e = |file: &str| parse_with(file, &["server", "--config-file", "FILE"]).unwrap_err();
        let typo = e("repair-grase = \"2h\"");
        assert!(typo.contains("unknown key `repair-grase`") && typo.contains("repair-grace"), "{typo}");
        let bad = e("quota = \"lots\"");
        assert!(bad.contains("--quota") && bad.contains("lots") && bad.contains("pyxis.toml"), "{bad}");
        assert_eq!(bad.lines().count(), 1, "the file named on the error's line: {bad}");
        assert!(e("insecure-http = \"yes\"").contains("is a switch"));
        assert!(e("listen = [\"a\", \"b\"]").contains("takes one value"));
        assert!(e("quota = {a = 1}").contains("not a table"));
        assert!(e("quota = ").contains("not valid TOML"));
        assert!(e("config-file = \"x\"").contains("unknown key `config-file`"));
        // Not a daemon's: the client's session flags stay off the file.
        assert!(e("json = true").contains("unknown key `json`"));
        let missing = parse_with("", &["server", "--config-file", "/nonexistent/pyxis.toml"]).unwrap_err();
        assert!(missing.contains("cannot read config file /nonexistent/pyxis.toml"), "{missing}");
    }

    #[test]
    fn print_config_shows_every_setting_and_where_it_came_from_and_reads_back() {
        let (_, print) = parse_with(
            &format!("{SERVER}admin-token = \"hunter2\"\n"),
            &["server", "--config-file", "FILE", "--print-config", "--heartbeat", "7s"],
        )
        .unwrap();
        let text = print.expect("--print-config prints");
        assert!(text.contains("quota = \"2GiB\"  # from "), "{text}");
        assert!(text.contains("heartbeat = \"7s\"  # from the command line"), "{text}");
        assert!(text.contains("offline-after = \"30s\"  # default"), "{text}");
        assert!(text.contains("trusted-proxy = [\"10.0.0.0/8\", \"127.0.0.1\"]"), "{text}");
        assert!(text.contains("# public-url = (not set)"), "{text}");
        assert!(!text.contains("hunter2") && text.contains("# admin-token = (set, not shown)"), "{text}");
        // Every flag of the server is there.
        let sub = Cli::command().find_subcommand("server").unwrap().clone();
        for a in sub.get_arguments().filter_map(|a| a.get_long()).filter(|l| !NOT_IN_FILE.contains(l)) {
            assert!(text.contains(&format!("\n{a} = ")) || text.contains(&format!("# {a} = ")), "{a} missing:\n{text}");
        }
        // And it is a config file that gives the same settings.
        let (again, _) = parse_with(&text, &["server", "--config-file", "FILE"]).unwrap();
        let (first, _) =
            parse_with(&format!("{SERVER}heartbeat = \"7s\"\n"), &["server", "--config-file", "FILE"]).unwrap();
        let settings = |cli| {
            let mut a = server(cli);
            a.config.config_file = None;
            format!("{a:?}")
        };
        assert_eq!(settings(again), settings(first));
    }
}
