//! The HTTP API: one module per area; `router` puts them together.

pub mod accounts;
pub mod admin;
pub mod admin_page;
pub mod catalog;
pub mod changes;
pub mod chunks;
pub mod devices;
pub mod extract;
pub mod history;
pub mod password;
pub mod remotes;
pub mod shares;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::State;

/// Bodies are bounded by what each route can honestly need, so that one
/// request cannot make the server decode hundreds of MiB of JSON (a decoded
/// array of small strings takes ten times its bytes). serde_json also stops
/// at 128 levels of nesting.
mod limit {
    /// Login, signup and the like.
    pub const AUTH: usize = 64 << 10;
    /// Chunk calls: up to 1,024 chunks of 10 shards and their receipts.
    pub const CHUNKS: usize = 4 << 20;
    /// A commit of 1,000 files with their sealed manifests (a big file's
    /// manifest is 76 bytes per chunk), or a read of 10,000 paths.
    pub const CATALOG: usize = 32 << 20;
    /// Everything else.
    pub const SMALL: usize = 1 << 20;
}

fn sized(router: Router<State>, bytes: usize) -> Router<State> {
    router.layer(DefaultBodyLimit::max(bytes))
}

pub fn router(state: State) -> Router {
    let l = &state.limits;
    let rates = state.opts.limits.clone();
    let auth = sized(
        Router::new()
            .route("/v1/auth/prelogin", post(accounts::prelogin))
            .route("/v1/auth/login", post(accounts::login))
            .route("/v1/auth/password", post(password::change))
            .route("/v1/auth/recovery-key", post(password::set_recovery_key))
            .route("/v1/auth/recover", post(password::recover))
            .route("/admin/login", post(admin_page::login))
            .layer(crate::limits::layer("auth", rates.auth, &l.auth)),
        limit::AUTH,
    );
    let signup = sized(
        Router::new().route("/v1/auth/signup", post(accounts::signup)).layer(crate::limits::layer(
            "signup",
            rates.signup,
            &l.signup,
        )),
        limit::AUTH,
    );
    let chunks = sized(
        Router::new()
            .route("/v1/chunks/missing", post(chunks::missing))
            .route("/v1/chunks/place", post(chunks::place))
            .route("/v1/chunks/replace", post(chunks::replace))
            .route("/v1/chunks/stored", post(chunks::stored))
            .route("/v1/chunks/abandon", post(chunks::abandon))
            .route("/v1/chunks/locate", post(chunks::locate)),
        limit::CHUNKS,
    );
    let catalog = sized(
        Router::new()
            .route("/v1/files/read", post(catalog::read))
            .route("/v1/commit", post(catalog::commit))
            // A directory rename carries a new entry tag for every file under it.
            .route("/v1/move", post(catalog::rename))
            .route("/v1/bind", post(catalog::bind))
            .route("/v1/shares/keys", post(shares::keys)),
        limit::CATALOG,
    );
    let rest = sized(
        Router::new()
            .route("/v1/auth/logout", post(accounts::logout))
            .route("/v1/auth/whoami", get(accounts::whoami))
            .route("/v1/devices", get(devices::list))
            .route("/v1/devices/revoke", post(devices::revoke))
            .route("/v1/account/delete", post(password::delete_account))
            .route("/v1/admin/users", get(admin::users))
            .route("/v1/admin/users/disable", post(admin::disable_user))
            .route("/v1/quota", get(catalog::quota))
            .route("/v1/network", get(chunks::network))
            .route("/v1/users/key", get(shares::user_key))
            .route("/v1/shares", get(shares::list).post(shares::create))
            .route("/v1/shares/remove", post(shares::remove))
            .route("/v1/changes", get(changes::list))
            .route("/v1/changes/ws", get(changes::subscribe))
            .route("/v1/list", get(catalog::list))
            .route("/v1/stat", get(catalog::stat))
            .route("/v1/versions", get(catalog::versions))
            .route("/v1/mkdir", post(catalog::mkdir))
            .route("/v1/remove", post(catalog::remove))
            .route("/v1/restore", post(catalog::restore))
            .route("/v1/trash", get(history::list))
            .route("/v1/trash/restore", post(history::restore))
            .route("/v1/trash/empty", post(history::empty))
            .route("/v1/forget", post(history::forget))
            .route("/v1/retention", get(history::retention).post(history::set_retention))
            .route("/v1/usage", get(history::usage))
            .route("/v1/remotes/register", post(remotes::register))
            .route("/v1/remotes/{id}/heartbeat", post(remotes::heartbeat))
            .route("/v1/remotes/{id}/report", post(remotes::report))
            .route("/v1/remotes/{id}/inventory", post(remotes::inventory))
            .route("/v1/admin/quota", post(admin::set_quota))
            .route("/v1/admin/remotes", get(admin::remotes))
            .route("/v1/admin/health", get(admin::health))
            .route("/v1/admin/drain", post(admin::drain))
            .route("/v1/admin/remote-tokens", post(admin::remote_token))
            .route("/v1/admin/revoke", post(admin::revoke))
            .route("/v1/admin/vet", post(admin::vet))
            .route("/v1/admin/quarantine/release", post(admin::release_quarantine))
            .route("/metrics", get(admin::metrics))
            .route("/admin", get(admin_page::page))
            .route("/admin/logout", post(admin_page::logout))
            .route("/admin/app.js", get(admin_page::script))
            .route("/admin/app.css", get(admin_page::style))
            .route("/openapi.json", get(crate::openapi::document))
            .route("/healthz", get(|| async { "ok" })),
        limit::SMALL,
    );
    Router::new()
        .merge(auth)
        .merge(signup)
        .merge(chunks)
        .merge(catalog)
        .merge(rest)
        .layer(crate::limits::layer("api", rates.api, &l.api))
        .layer(axum::middleware::from_fn_with_state(state.metrics.http.clone(), pyxis_net::metrics::HttpMetrics::track))
        .layer(axum::middleware::from_fn(pyxis_net::request_id::track))
        .with_state(state)
}
