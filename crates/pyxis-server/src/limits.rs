//! Abuse limits: how much one address (or one account from one address) may
//! ask of the server, and how many expensive password checks run at once.
//! Every limit answers 429 (or 503) with `Retry-After` and a message naming
//! it. The limits are kept in memory, **per server instance**: behind a load
//! balancer over N instances an address gets up to N times each rate.
//!
//! | limit | key | default |
//! |---|---|---|
//! | `api` | client address | 2,000 at once, then 500 a second |
//! | `auth` (prelogin, login) | client address | 10 at once, then 1 a second |
//! | `signup` | client address | 3 at once, then 1 a minute |
//! | `login_attempts` (login, password change, recovery) | account name and client address | 10 at once, then 1 every 6 s |
//! | `password_checks` | the whole instance | one Argon2 check per core at once; a request waits up to 5 s, then 503 (see `passwords`) |
//!
//! There is no limit on one account across all addresses: anyone could use
//! it to lock the owner out. An attacker spread over many addresses is slowed
//! by the per-address limits, the Argon2 the client must run per guess, and
//! the instance-wide cap on password checks. An unknown name is limited,
//! checked (against a dummy hash) and answered exactly like a known one.
//!
//! The client address is the connection's peer, unless the peer is one of
//! the configured trusted proxies: then the rightmost `X-Forwarded-For`
//! address that is not itself a trusted proxy.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use pyxis_net::listen::Peer;
use tower_governor::GovernorError;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use crate::error::ApiError;
use pyxis_proto::api::ErrorCode;

/// A rate: a burst, then one more every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

/// `BURST/PERIOD`, as on the command line: `10/1s` is ten at once, then one
/// a second.
impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{s:?} is not a rate like 10/1s (a burst, then one per period): {why}");
        let (b, p) = s.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let burst: u32 = b.trim().parse().map_err(|_| bad("the burst is not a number"))?;
        let every = humantime::parse_duration(p.trim()).map_err(|e| bad(&e.to_string()))?;
        if burst == 0 || every.is_zero() {
            return Err(bad("the burst and the period must be above zero"));
        }
        Ok(Rate { burst, every })
    }
}

/// The limits a server enforces. `Default` is for production; tests loosen
/// what would slow them.
#[derive(Debug, Clone)]
pub struct LimitOptions {
    pub api: Rate,
    pub auth: Rate,
    pub signup: Rate,
    pub login_attempts: Rate,
    /// Argon2 password checks running at once (0: one per core).
    pub password_checks: usize,
    /// How long a request waits for a free password check before 503.
    pub password_wait: Duration,
    /// Proxies whose `X-Forwarded-For` is believed (address or CIDR).
    pub trusted_proxies: Vec<Cidr>,
}

impl Default for LimitOptions {
    fn default() -> Self {
        Self {
            api: Rate { burst: 2000, every: Duration::from_millis(2) },
            auth: Rate { burst: 10, every: Duration::from_secs(1) },
            signup: Rate { burst: 3, every: Duration::from_secs(60) },
            login_attempts: Rate { burst: 10, every: Duration::from_secs(6) },
            password_checks: 0,
            password_wait: Duration::from_secs(5),
            trusted_proxies: Vec::new(),
        }
    }
}

/// An address or network, `10.0.0.0/8` or `192.0.2.7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a.parse().map_err(|e| format!("{s:?} is not an address or CIDR network: {e}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() { max } else { p.parse().map_err(|_| format!("{s:?}: bad prefix length"))? };
        if prefix > max {
            return Err(format!("{s:?}: a prefix of {prefix} bits is longer than the address"));
        }
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let bits = |a: IpAddr| -> u128 {
            match a {
                IpAddr::V4(v) => u128::from(u32::from(v)) << 96,
                IpAddr::V6(v) => u128::from(v),
            }
        };
        if self.addr.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        let shift = if self.addr.is_ipv4() { 32 - u32::from(self.prefix) } else { 128 - u32::from(self.prefix) };
        let mask = if self.prefix == 0 { 0 } else { !0u128 << (if self.addr.is_ipv4() { shift + 96 } else { shift }) };
        bits(self.addr) & mask == bits(ip) & mask
    }
}

/// The client's address: the peer, or, from a trusted proxy, the rightmost
/// forwarded address that is not a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let trusts = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !trusts(peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded.into_iter().rev().find(|ip| !trusts(*ip)).unwrap_or(peer)
}

/// The key extractor of the address limits.
#[derive(Debug, Clone)]
pub struct ClientIp {
    trusted: Arc<Vec<Cidr>>,
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<Peer>>()
            .map(|c| c.0.0.ip())
            .ok_or(GovernorError::UnableToExtractKey)?;
        Ok(client_ip(peer, req.headers(), &self.trusted))
    }
}

/// The answer of a limit: 429, `Retry-After`, and a message naming the limit.
pub fn too_many(limit: &str, rate: Rate, wait_secs: u64) -> ApiError {
    let message = format!(
        "the {limit} limit is reached (at most {} requests at once, then one every {:?}): retry in {} s",
        rate.burst,
        rate.every,
        wait_secs.max(1)
    );
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, message).retry_after(wait_secs)
}

/// A per-address limit as a tower layer.
pub type AddressLimit =
    Arc<GovernorConfig<ClientIp, governor::middleware::NoOpMiddleware<governor::clock::QuantaInstant>>>;

fn address_limit(rate: Rate, trusted: &Arc<Vec<Cidr>>) -> AddressLimit {
    Arc::new(
        GovernorConfigBuilder::default()
            .period(rate.every)
            .burst_size(rate.burst.max(1))
            .key_extractor(ClientIp { trusted: trusted.clone() })
            .finish()
            .expect("a burst and a period of at least one"),
    )
}

/// A layer enforcing `config` under the name `limit`.
pub fn layer(
    limit: &'static str,
    rate: Rate,
    config: &AddressLimit,
) -> tower_governor::GovernorLayer<ClientIp, governor::middleware::NoOpMiddleware<governor::clock::QuantaInstant>, Body>
{
    use axum::response::IntoResponse;
    tower_governor::GovernorLayer::new(config.clone()).error_handler(move |e| match e {
        GovernorError::TooManyRequests { wait_time, .. } => too_many(limit, rate, wait_time).into_response(),
        GovernorError::UnableToExtractKey => ApiError::internal("no client address for a rate limit").into_response(),
        GovernorError::Other { code, msg, .. } => {
            let mut r = Response::new(Body::from(msg.unwrap_or_default()));
            *r.status_mut() = code;
            r
        }
    })
}

/// The limiters of one server instance.
#[derive(Debug)]
pub struct Limits {
    pub opts: LimitOptions,
    pub api: AddressLimit,
    pub auth: AddressLimit,
    pub signup: AddressLimit,
    pub login_attempts: DefaultKeyedRateLimiter<(String, IpAddr)>,
}

impl Limits {
    pub fn new(opts: LimitOptions) -> Self {
        let trusted = Arc::new(opts.trusted_proxies.clone());
        let attempts = Quota::with_period(opts.login_attempts.every)
            .expect("a period of at least a nanosecond")
            .allow_burst(NonZeroU32::new(opts.login_attempts.burst.max(1)).expect("at least one"));
        Self {
            api: address_limit(opts.api, &trusted),
            auth: address_limit(opts.auth, &trusted),
            signup: address_limit(opts.signup, &trusted),
            login_attempts: RateLimiter::keyed(attempts),
            opts,
        }
    }

    /// One login attempt at `user` from `ip`: refused while that pair has
    /// used up its attempts.
    pub fn login_attempt(&self, user: &str, ip: IpAddr) -> Result<(), ApiError> {
        let clock = governor::clock::DefaultClock::default();
        self.login_attempts.check_key(&(user.to_owned(), ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&clock)).as_secs();
            too_many("login_attempts", self.opts.login_attempts, wait)
        })
    }

    /// Forgets keys that are back to full quota (run every minute or so),
    /// so the maps do not grow with every address ever seen.
    pub fn forget_idle(&self) {
        for l in [&self.api, &self.auth, &self.signup] {
            l.limiter().retain_recent();
            l.limiter().shrink_to_fit();
        }
        self.login_attempts.retain_recent();
        self.login_attempts.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_forwarded_addresses() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains("10.2.3.4".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.9.9.9".parse().unwrap()), "v4-mapped v6 is the v4 address");
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()) && !one.contains("192.0.2.8".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()) && !v6.contains("fe80::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err() && "nope".parse::<Cidr>().is_err());

        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 198.51.100.1, 10.1.1.1".parse().unwrap());
        // From a trusted proxy: the rightmost forwarded address it did not add itself.
        assert_eq!(client_ip("10.0.0.5".parse().unwrap(), &h, &trusted), "198.51.100.1".parse::<IpAddr>().unwrap());
        // From anyone else, the header is a claim and ignored.
        assert_eq!(
            client_ip("198.51.100.77".parse().unwrap(), &h, &trusted),
            "198.51.100.77".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip("10.0.0.5".parse().unwrap(), &HeaderMap::new(), &trusted),
            "10.0.0.5".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn login_attempts_are_counted_per_account_and_address() {
        let limits = Limits::new(LimitOptions {
            login_attempts: Rate { burst: 3, every: Duration::from_secs(3600) },
            ..Default::default()
        });
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            limits.login_attempt("alice", a).unwrap();
        }
        let refused = limits.login_attempt("alice", a).unwrap_err();
        assert_eq!((refused.status, refused.code), (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited));
        assert!(refused.retry_after.is_some() && refused.message.contains("login_attempts"), "{refused}");
        // The owner, elsewhere, is not locked out; nor is another account.
        limits.login_attempt("alice", b).unwrap();
        limits.login_attempt("bob", a).unwrap();
    }
}
