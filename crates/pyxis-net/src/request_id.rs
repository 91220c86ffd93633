//! Request ids: one id on every log line of one piece of work, across the
//! client, the server and the remotes.
//!
//! A client command picks an id when it starts ([`set_process`]) and sends
//! it as `X-Request-Id` on every call, to the server and to remotes alike.
//! The server and the remotes log each request inside a span that carries
//! the caller's id ([`track`]), or a new one when the caller gave none or
//! one that is not a plain token (the header is bytes from a stranger and
//! ends up in logs), and answer with it. The server's own background work
//! (a repair pass, an audit) runs under an id of its own ([`scope`]) that
//! its calls to remotes carry ([`attach`]), so a remote's lines about a
//! repair are found by the id in the server's.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header that carries the id.
pub const HEADER: &str = "x-request-id";
/// The longest id taken from a caller.
pub const MAX_LEN: usize = 64;

static PROCESS: OnceLock<String> = OnceLock::new();

tokio::task_local! {
    static CURRENT: String;
}

/// A new id: 16 random hex digits.
pub fn new_id() -> String {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).expect("system RNG");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether `id` may be taken from a caller: 1 to 64 ASCII letters, digits
/// and `-_.:`. Anything else (a newline, a quote, a kilobyte) is replaced.
pub fn valid(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Sets the id of this process's work (a client command); the first call
/// wins. HTTP clients built afterwards by [`crate::client`] send it.
pub fn set_process(id: String) {
    let _ = PROCESS.set(id);
}

/// The id [`set_process`] set.
pub fn process() -> Option<&'static str> {
    PROCESS.get().map(String::as_str)
}

/// The id of the request or job this task is working for, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `work` as a job with id `id`: its log lines and its calls carry it.
pub async fn scope<F: Future>(id: String, name: &'static str, work: F) -> F::Output {
    let span = tracing::info_span!("job", request_id = %id, job = name);
    CURRENT.scope(id, work.instrument(span)).await
}

/// Adds the current id to an outgoing call.
pub fn attach(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match current() {
        Some(id) => req.header(HEADER, id),
        None => req,
    }
}

/// Axum middleware: the request's log lines carry its id, the answer
/// repeats it, and one line at debug level (`RUST_LOG=pyxis_net=debug`)
/// says how it ended; a server error is logged at warn.
pub async fn track(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid(v))
        .map(str::to_owned)
        .unwrap_or_else(new_id);
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), route = %route);
    let started = Instant::now();
    let header = HeaderValue::from_str(&id).ok();
    let mut resp = CURRENT
        .scope(id, async move {
            let resp = next.run(req).await;
            let status = resp.status().as_u16();
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            if status >= 500 {
                tracing::warn!(status, ms, "answered with a server error");
            } else {
                tracing::debug!(status, ms, "answered");
            }
            resp
        })
        .instrument(span)
        .await;
    if let Some(v) = header {
        resp.headers_mut().insert(HEADER, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_ids_are_taken_from_a_caller() {
        assert!(valid(&new_id()) && new_id().len() == 16 && new_id() != new_id());
        assert!(valid("0af7651916cd43dd8448eb211c80319c") && valid("req-1_a.b:c"));
        for bad in ["", "a b", "a\nb", "\"x\"", "caf\u{e9}", &"a".repeat(MAX_LEN + 1)] {
            assert!(!valid(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_job_id_reaches_the_calls_made_within_it_and_only_those() {
        assert_eq!(current(), None);
        let http = reqwest::Client::new();
        let seen = scope("job-7".into(), "test", async {
            let req = attach(http.get("http://127.0.0.1:1/")).build().unwrap();
            req.headers().get(HEADER).map(|v| v.to_str().unwrap().to_owned())
        })
        .await;
        assert_eq!(seen.as_deref(), Some("job-7"));
        let outside = attach(http.get("http://127.0.0.1:1/")).build().unwrap();
        assert!(outside.headers().get(HEADER).is_none());
    }
}
