//! The OpenAPI document served at `/openapi.json`, generated from the
//! handlers' annotations and the API types' schemas.

use axum::Json;
use utoipa::OpenApi;

use crate::routes::{accounts, admin, catalog, changes, chunks, devices, history, password, remotes, shares};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Pyxis server API", description = "Accounts, catalog, chunk placement and the remote registry. \
        Authenticate with `Authorization: Bearer <session token>` (from signup or login); remotes use their \
        key (every call signed, see docs/PROTOCOL.md), operators the admin token."),
    paths(
        accounts::prelogin, accounts::signup, accounts::login, accounts::logout, accounts::whoami,
        password::change, password::set_recovery_key, password::recover, devices::list, devices::revoke, password::delete_account,
        chunks::network, chunks::missing, chunks::place, chunks::replace, chunks::stored, chunks::abandon, chunks::locate,
        catalog::list, catalog::stat, catalog::versions, catalog::read, catalog::commit, catalog::mkdir,
        catalog::rename, catalog::remove, catalog::restore, catalog::bind, catalog::quota,
        history::list, history::restore, history::empty, history::forget, history::retention, history::set_retention, history::usage,
        changes::list, changes::subscribe, shares::user_key, shares::list, shares::create, shares::keys, shares::remove,
        remotes::register, remotes::heartbeat, remotes::report, remotes::inventory,
        admin::set_quota, admin::users, admin::disable_user, admin::remotes, admin::health, admin::drain, admin::remote_token, admin::revoke,
        admin::vet, admin::release_quarantine, admin::metrics,
    ),
    tags((name = "accounts"), (name = "catalog"), (name = "history"), (name = "chunks"), (name = "shares"), (name = "remotes"), (name = "admin"))
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
