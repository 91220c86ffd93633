//! Prometheus metrics for the daemons (server, remote, sync daemon), on
//! prometheus-client.
//!
//! Each daemon keeps its own [`Registry`], never a global one: the tests run
//! a server and several remotes in one process, and each must count only
//! its own. Counters are kept as things happen ([`HttpMetrics::track`] for
//! requests); numbers that need a catalog query are computed by the daemon
//! on a timer and only read at scrape time, so a scrape costs no query.
//! Names follow Prometheus conventions (`pyxis_..._total`, `_bytes`,
//! `_seconds`), each with HELP; the HELP of a gauge says whether it is
//! this instance's or the network's (the same on every instance).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Body as _;
pub use prometheus_client;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: &'static str,
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    service: &'static str,
    route: String,
    method: String,
}

type Histograms = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Requests served, by route template (never the raw path: its values are
/// unbounded), method and status, with their latency and body bytes.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    service: &'static str,
    requests: Family<RequestLabels, Counter>,
    duration: Histograms,
    bytes_in: Family<RouteLabels, Counter>,
    bytes_out: Family<RouteLabels, Counter>,
}

/// 0.5 ms to about 16 s, doubling.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl HttpMetrics {
    /// Registers the request metrics of `service` (`server`, `remote`).
    pub fn register(reg: &mut Registry, service: &'static str) -> Self {
        let m = Self {
            service,
            requests: Family::default(),
            duration: Histograms::new_with_constructor(latency_buckets),
            bytes_in: Family::default(),
            bytes_out: Family::default(),
        };
        reg.register(
            "pyxis_http_requests",
            "HTTP requests answered by this instance, by route, method and status.",
            m.requests.clone(),
        );
        reg.register_with_unit(
            "pyxis_http_request_duration",
            "Time from a request's arrival to its answer's head, by route (this instance).",
            Unit::Seconds,
            m.duration.clone(),
        );
        reg.register_with_unit(
            "pyxis_http_request",
            "Request body bytes received by this instance, by route (where the length is known).",
            Unit::Bytes,
            m.bytes_in.clone(),
        );
        reg.register_with_unit(
            "pyxis_http_response",
            "Response body bytes sent by this instance, by route (where the length is known).",
            Unit::Bytes,
            m.bytes_out.clone(),
        );
        m
    }

    /// axum middleware (`middleware::from_fn_with_state(m, HttpMetrics::track)`
    /// as a `Router::layer`, which runs after routing, so the route template
    /// is known).
    pub async fn track(State(m): State<HttpMetrics>, req: Request, next: Next) -> Response {
        let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
        let method = req.method().as_str().to_owned();
        let labels = RouteLabels { service: m.service, route, method };
        let t0 = Instant::now();
        if let Some(n) = length(req.headers(), req.body().size_hint().exact()) {
            m.bytes_in.get_or_create(&labels).inc_by(n);
        }
        let res = next.run(req).await;
        m.duration.get_or_create(&labels).observe(t0.elapsed().as_secs_f64());
        if let Some(n) = length(res.headers(), res.body().size_hint().exact()) {
            m.bytes_out.get_or_create(&labels).inc_by(n);
        }
        let status = res.status().as_u16();
        m.requests
            .get_or_create(&RequestLabels { service: m.service, route: labels.route, method: labels.method, status })
            .inc();
        res
    }
}

/// Registers `pyxis_tls_cert_expiry_timestamp_seconds`: when the
/// certificate this instance serves with expires (nothing when it serves
/// plain HTTP, as behind a TLS-terminating proxy).
pub fn register_cert_expiry(reg: &mut Registry, tls: Option<&crate::listen::TlsFiles>) {
    let Some(at) = tls.and_then(crate::listen::cert_expiry) else { return };
    let g = prometheus_client::metrics::gauge::Gauge::<i64>::default();
    g.set(at);
    reg.register_with_unit(
        "pyxis_tls_cert_expiry_timestamp",
        "When the certificate this instance serves with expires (Unix time).",
        Unit::Seconds,
        g,
    );
}

/// A body's length: its Content-Length, else what the body knows exactly.
fn length(h: &axum::http::HeaderMap, exact: Option<u64>) -> Option<u64> {
    h.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok()).or(exact)
}

/// The registry in the text format Prometheus scrapes (OpenMetrics).
pub fn render(reg: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; a collector that fails leaves what
    // it wrote so far, which is still a valid (shorter) scrape.
    let _ = prometheus_client::encoding::text::encode(&mut out, reg);
    out
}

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An answer of `render(reg)` with its content type.
pub fn answer(reg: &Registry) -> Response {
    ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], render(reg)).into_response()
}

/// Serves `GET /metrics` alone on `addr`, plain HTTP and without a token
/// (the numbers are no secret, but keep the address where only Prometheus
/// reaches), until `stop` turns true. Returns the bound address.
pub async fn serve(
    addr: std::net::SocketAddr,
    reg: Arc<Registry>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route("/metrics", axum::routing::get(move || async move { answer(&reg) }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    });
    tracing::info!(addr = %bound, "metrics listening");
    Ok(bound)
}

/// Writes gauges (and counters read from elsewhere) at scrape time, for a
/// [`prometheus_client::collector::Collector`].
pub mod emit {
    use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
    use prometheus_client::metrics::MetricType;
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;
    use prometheus_client::registry::Unit;

    pub type Labels<'a> = [(&'a str, String)];

    /// One gauge without labels (printed `name 3`, not `name{} 3`).
    pub fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, unit: Option<Unit>, v: i64) -> std::fmt::Result {
        ConstGauge::new(v).encode(e.encode_descriptor(name, help, unit.as_ref(), MetricType::Gauge)?)
    }

    /// One gauge with a series per label set.
    pub fn gauges<'a>(
        e: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        series: impl IntoIterator<Item = (Vec<(&'a str, String)>, i64)>,
    ) -> std::fmt::Result {
        let mut d = e.encode_descriptor(name, help, unit.as_ref(), MetricType::Gauge)?;
        for (labels, v) in series {
            ConstGauge::new(v).encode(d.encode_family(&labels)?)?;
        }
        Ok(())
    }

    /// One counter (`name` without `_total`) with a series per label set.
    pub fn counters<'a>(
        e: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        series: impl IntoIterator<Item = (Vec<(&'a str, String)>, u64)>,
    ) -> std::fmt::Result {
        let mut d = e.encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
        for (labels, v) in series {
            if labels.is_empty() {
                // Unlabelled: `name_total 3`, not `name_total{} 3`.
                return ConstCounter::new(v).encode(d);
            }
            ConstCounter::new(v).encode(d.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
