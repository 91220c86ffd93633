//! The change feed (docs/PROTOCOL.md, "Change feed"): a user's catalog
//! changes after a cursor, by long poll or pushed over a WebSocket. Through
//! a share (`?share=ID`), the owner's changes under the shared path only.

use std::time::Duration;

use axum::Json;
use axum::extract::State as StateX;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use pyxis_proto::api::changes::{Change, ChangeKind, ChangesResponse};
use pyxis_proto::path;
use serde::Deserialize;

use super::extract::Query;
use crate::State;
use crate::acl::Tree;
use crate::db::changes::{self, ChangeRow};
use crate::error::ApiResult;

/// Changes per answer, by default and at most.
const PAGE: i64 = 1000;
const MAX_PAGE: i64 = 10_000;
/// The longest a long poll waits.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// A WebSocket is pinged this often, so proxies keep it open.
const PING: Duration = Duration::from_secs(25);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ChangesQuery {
    /// The cursor: answer the changes after this one (0: from the start).
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<i64>,
    /// Seconds to wait for a change when there is none yet (at most 30).
    #[serde(default)]
    wait: Option<u64>,
}

fn change(r: ChangeRow) -> Option<Change> {
    let kind = match r.kind {
        changes::COMMIT => ChangeKind::Commit,
        changes::MKDIR => ChangeKind::Mkdir,
        changes::MOVE => ChangeKind::Move,
        changes::REMOVE => ChangeKind::Remove,
        changes::SHARE => ChangeKind::Share,
        changes::UNSHARE => ChangeKind::Unshare,
        _ => return None,
    };
    Some(Change { seq: r.seq, kind, path: r.path, to: r.to_path, version: r.version, peer: r.peer, at: r.at })
}

/// The changes after `after` this tree's reader may see.
async fn read(state: &State, tree: &Tree, after: i64, limit: i64) -> ApiResult<ChangesResponse> {
    let rows = state.db.changes(tree.owner, after, limit).await?;
    let newest = state.db.change_seq(tree.owner).await?;
    let cursor = rows.last().map_or(after, |r| r.seq);
    let visible = |c: &Change| match &tree.share {
        None => true,
        // A grantee sees the tree's changes under the shared path (a move
        // into or out of it too), not the owner's sharing.
        Some(s) => {
            !matches!(c.kind, ChangeKind::Share | ChangeKind::Unshare)
                && (path::is_within(&c.path, &s.path) || c.to.as_deref().is_some_and(|t| path::is_within(t, &s.path)))
        }
    };
    let changes = rows.into_iter().filter_map(change).filter(visible).collect();
    Ok(ChangesResponse { changes, cursor, newest, restored_from: state.restored_from })
}

/// Waits until the server stops.
async fn stopping(closed: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = closed.wait_for(|c| *c).await;
}

/// Waits until `owner`'s tree may have changed (or the server stops).
async fn changed(rx: &mut tokio::sync::broadcast::Receiver<i64>, owner: i64) {
    loop {
        match rx.recv().await {
            Ok(u) if u == owner || u == crate::db::changes::EVERYONE => return,
            Ok(_) => {}
            // Missed some: one of them may have been ours.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

#[utoipa::path(get, path = "/v1/changes", params(ChangesQuery, pyxis_proto::api::shares::ShareParam),
    responses((status = 200, body = ChangesResponse)), tag = "catalog")]
pub async fn list(
    StateX(state): StateX<State>,
    tree: Tree,
    Query(q): Query<ChangesQuery>,
) -> ApiResult<Json<ChangesResponse>> {
    let limit = q.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(q.wait.unwrap_or(0)).min(MAX_WAIT);
    // Subscribed before the first read, so no change slips in between.
    let mut rx = state.feed.subscribe();
    let mut closed = state.feed.closed();
    let mut after = q.after;
    loop {
        let answer = read(&state, &tree, after, limit).await?;
        if !answer.changes.is_empty() || tokio::time::Instant::now() >= deadline || *closed.borrow() {
            return Ok(Json(answer));
        }
        after = answer.cursor;
        tokio::select! {
            _ = changed(&mut rx, tree.owner) => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = stopping(&mut closed) => {}
        }
    }
}

/// Pushes the tree's changes after `after` as they happen, each message a
/// [`ChangesResponse`] in JSON.
#[utoipa::path(get, path = "/v1/changes/ws", params(ChangesQuery, pyxis_proto::api::shares::ShareParam),
    responses((status = 101)), tag = "catalog")]
pub async fn subscribe(
    StateX(state): StateX<State>,
    tree: Tree,
    Query(q): Query<ChangesQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| push(state, tree, q.after, socket))
}

async fn push(state: State, tree: Tree, mut after: i64, mut socket: WebSocket) {
    let mut rx = state.feed.subscribe();
    let mut closed = state.feed.closed();
    let mut ping = tokio::time::interval(PING);
    loop {
        let answer = match read(&state, &tree, after, PAGE).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = ?e, "change feed: read failed; closing the socket");
                break;
            }
        };
        let more = answer.cursor > after;
        after = answer.cursor;
        if !answer.changes.is_empty() {
            let Ok(text) = serde_json::to_string(&answer) else { break };
            if socket.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
        if more {
            continue; // a full page (or filtered rows): read on before waiting
        }
        tokio::select! {
            _ = changed(&mut rx, tree.owner) => {}
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = stopping(&mut closed) => break,
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
