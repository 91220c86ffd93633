//! `/admin`: the operator's page. The admin token is entered once in a
//! login form; the answer is a session cookie (HttpOnly, SameSite=Strict,
//! Secure over HTTPS) that the admin API's read-only routes also accept, so
//! the page's script reads `/v1/admin/remotes`, `/health` and `/users` as
//! `pyxis admin` does and never sees the token. Everything the page needs
//! is served from here (no CDN, nothing fetched at run time), under a
//! Content-Security-Policy that allows nothing else.
//!
//! The cookie is a token signed with a key derived from the server's
//! session key and the admin token's hash: it is good on every instance of
//! the server, and changing the admin token ends every admin session.

use axum::Form;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::State;
use crate::tokens::{same_hash, token_hash};
use axum::extract::State as StateX;

/// The cookie's name.
pub const COOKIE_NAME: &str = "pyxis_admin";
/// How long an admin session lasts.
const SESSION_SECS: i64 = 12 * 3600;

const LOGIN: &str = include_str!("admin_page/login.html");
const PAGE: &str = include_str!("admin_page/page.html");
const SCRIPT: &str = include_str!("admin_page/app.js");
const STYLE: &str = include_str!("admin_page/app.css");
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The key admin cookies are signed with.
pub fn cookie_keys(session_secret: &[u8], admin_token_hash: &[u8; 32]) -> pyxis_crypto::session::SessionKeys {
    let key = blake3::derive_key("pyxis 2026 admin page cookie", &[session_secret, admin_token_hash].concat());
    pyxis_crypto::session::SessionKeys::new(&key)
}

/// Whether the request carries a valid admin cookie.
pub fn has_session(state: &State, headers: &HeaderMap) -> bool {
    cookie(headers).is_some_and(|c| state.admin_cookies.check(c).is_ok_and(|(_, sid)| sid == "admin"))
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    r
}

fn login_page(status: StatusCode, error: &str) -> Response {
    html(status, LOGIN.replace("{{error}}", error))
}

/// `GET /admin`: the page, or the login form without a session.
pub async fn page(StateX(state): StateX<State>, headers: HeaderMap) -> Response {
    if has_session(&state, &headers) { html(StatusCode::OK, PAGE.to_owned()) } else { login_page(StatusCode::OK, "") }
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginForm(hidden)")
    }
}

fn set_cookie(state: &State, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.url.starts_with("https://") { "; Secure" } else { "" };
    let c = format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&c).expect("a cookie of token characters")
}

fn see_admin(cookie: HeaderValue) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut().insert(LOCATION, HeaderValue::from_static("/admin"));
    r.headers_mut().insert(SET_COOKIE, cookie);
    r
}

/// `POST /admin/login` (a form with `token`): the session cookie for the
/// right admin token, the form again with a message for a wrong one.
pub async fn login(StateX(state): StateX<State>, Form(f): Form<LoginForm>) -> Response {
    if !same_hash(&token_hash(f.token.trim()), &state.admin_token_hash) {
        tracing::warn!("admin page: wrong admin token");
        return login_page(StatusCode::UNAUTHORIZED, "Wrong admin token.");
    }
    let now = crate::db::now_ms() / 1000;
    match state.admin_cookies.issue(0, "admin", now + SESSION_SECS, now) {
        Ok(token) => see_admin(set_cookie(&state, &token, SESSION_SECS)),
        Err(e) => {
            tracing::error!(error = %e, "admin page: cannot sign a session");
            login_page(StatusCode::INTERNAL_SERVER_ERROR, "The server could not start a session.")
        }
    }
}

/// `POST /admin/logout`: forgets the cookie.
pub async fn logout(StateX(state): StateX<State>) -> Response {
    see_admin(set_cookie(&state, "", 0))
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    r
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}
