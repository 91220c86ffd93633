//! How the CLI talks to people and scripts: one error line, `--json`
//! objects on stdout, logs on stderr, progress bars only on a terminal.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use pyxis_client::progress::Progress;
use pyxis_proto::size::ByteSize;
use serde::Serialize;

/// Prints a value as JSON (`--json`) or runs the human printer. The JSON
/// is written in one go, and a closed pipe (`pyxis --json ls | head`) ends
/// it quietly instead of panicking as `println!` does.
pub fn emit<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T)) {
    if json {
        use std::io::Write;
        let mut body = serde_json::to_vec_pretty(value)
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string().into_bytes());
        body.push(b'\n');
        let _ = std::io::stdout().lock().write_all(&body);
    } else {
        human(value);
    }
}

/// The one error line (and a JSON object on stdout with `--json`).
pub fn error(json: bool, e: &anyhow::Error) {
    let code = e
        .downcast_ref::<pyxis_client::ClientError>()
        .and_then(|c| c.code_label())
        .unwrap_or_else(|| "error".to_owned());
    let message = format!("{e:#}");
    if json {
        let body = serde_json::json!({ "error": { "code": code, "message": message } });
        println!("{body}");
    }
    // The server's messages quote paths as stored, and an old name can hold a
    // bidirectional or invisible character.
    if LOG_JSON.get() == Some(&true) {
        tracing::error!(code, "{}", shown(&message));
    } else {
        eprintln!("pyxis: error: {}", shown(&message));
    }
}

/// Whether logs are JSON lines (`--log-json`), set once by [`init_logging`].
static LOG_JSON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// A message for the person at the terminal ("skipped X: why"): a line on
/// stderr, or with `--log-json` a warning in the log, so that every line a
/// log shipper reads is JSON.
pub fn say(message: std::fmt::Arguments<'_>) {
    if LOG_JSON.get() == Some(&true) {
        tracing::warn!("{message}");
    } else {
        eprintln!("pyxis: {message}");
    }
}

/// Logs to stderr: `info` for daemons, `warn` for client commands; `RUST_LOG` overrides.
pub fn init_logging(daemon: bool, json: bool) {
    let _ = LOG_JSON.set(json);
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

/// A path as a terminal may show it: controls, bidirectional controls and
/// invisible characters written as `\u{202e}` (JSON output keeps the exact
/// string; serde escapes what JSON needs).
pub fn shown(path: &str) -> std::borrow::Cow<'_, str> {
    pyxis_proto::path::escape_for_display(path)
}

/// Unix milliseconds as RFC 3339 to the second ("-" for none).
pub fn when(ms: i64) -> String {
    if ms <= 0 {
        return "-".into();
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

pub fn size(n: u64) -> String {
    ByteSize(n).to_string()
}

/// Draws a progress bar from `progress` until the returned guard is dropped
/// (nothing at all when stderr is not a terminal or output is JSON).
pub fn progress_bar(progress: Arc<Progress>, json: bool, verb: &'static str) -> Option<ProgressGuard> {
    if json || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let b = bar.clone();
    let task = tokio::spawn(async move {
        loop {
            let t = progress.totals();
            b.set_length(t.total.max(t.done));
            b.set_position(t.done);
            b.set_message(format!("{verb} {}/{} files", t.files, t.files_total));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    Some(ProgressGuard { bar, task })
}

pub struct ProgressGuard {
    bar: indicatif::ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn paths_are_shown_without_hidden_characters() {
        assert_eq!(shown("/docs/photo\u{202E}gnp.exe"), "/docs/photo\\u{202e}gnp.exe");
        assert_eq!(shown("/a\u{200B}b\u{1B}[2J"), "/a\\u{200b}b\\u{1b}[2J");
        // What real names use is shown as it is.
        assert_eq!(shown("/👩\u{200D}💻/caf\u{E9}/می\u{200C}خواهم"), "/👩\u{200D}💻/caf\u{E9}/می\u{200C}خواهم");
    }
}
