//! Listings: a page at a time, each checked before it is handed on.

use pyxis_proto::api::catalog::{Entry, ListResponse};

use super::Api;
use crate::error::{ClientError, Result};

/// Entries a client takes from one listing at most: a server cannot fill
/// its memory with one.
pub const MAX_LISTED: usize = 10_000_000;

impl Api {
    /// A page of a listing: the server's largest (10,000 entries), since
    /// each page is a round trip and a 10,000-entry `pyxis ls` took ten.
    pub async fn list(&self, path: &str, recursive: bool, after: Option<&str>) -> Result<ListResponse> {
        let rec = if recursive { "true" } else { "false" };
        let mut q = vec![("path", path), ("recursive", rec), ("limit", "10000")];
        if let Some(a) = after {
            q.push(("after", a));
        }
        self.get_query("/v1/list", &q).await
    }
    /// Every entry under `root` (all pages), each within it, the cursor
    /// moving forward and at most `max` entries: a server cannot make a
    /// client loop or fill its memory with a listing.
    pub async fn list_all(&self, root: &str, recursive: bool, max: usize) -> Result<Vec<Entry>> {
        let mut pages = self.pages(root, recursive, max);
        let mut out: Vec<Entry> = Vec::new();
        while let Some(page) = pages.recv().await {
            out.extend(page?);
        }
        Ok(out)
    }

    /// The pages of a listing, checked as [`Api::list_all`] checks them,
    /// through a channel: the next page is asked for while the caller works
    /// on this one (an `ls -R` of 100,000 entries is ten round trips, each
    /// as long as the client's work on a page). An error is the last item.
    pub fn pages(&self, root: &str, recursive: bool, max: usize) -> tokio::sync::mpsc::Receiver<Result<Vec<Entry>>> {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let (api, root) = (self.clone(), root.to_owned());
        tokio::spawn(async move {
            let mut after: Option<String> = None;
            let mut count = 0usize;
            loop {
                let bad = |why: String| ClientError::Tampered { path: root.clone(), why };
                let page = match api.list(&root, recursive, after.as_deref()).await {
                    Ok(p) => p,
                    Err(e) => return drop(tx.send(Err(e)).await),
                };
                let checked = match page.entries.iter().find(|e| !pyxis_proto::path::is_within(&e.path, &root)) {
                    Some(e) => Err(bad(format!("the listing holds {:?}, which is not under it", e.path))),
                    None if count + page.entries.len() > max => {
                        Err(bad(format!("the listing holds more than {max} entries")))
                    }
                    None => cursor_moves(after.as_deref(), &page).map_err(|why| bad(why.into())),
                };
                if let Err(e) = checked {
                    return drop(tx.send(Err(e)).await);
                }
                count += page.entries.len();
                // A receiver gone (the caller stopped) ends the listing.
                if tx.send(Ok(page.entries)).await.is_err() {
                    return;
                }
                match page.next {
                    Some(n) => after = Some(n),
                    None => return,
                }
            }
        });
        rx
    }
}

/// A page's cursor must move forward (listings are in path order) over a
/// page that holds something: otherwise a server could keep a client
/// asking for ever.
pub(crate) fn cursor_moves(after: Option<&str>, page: &ListResponse) -> std::result::Result<(), &'static str> {
    match &page.next {
        Some(n) if after.is_some_and(|a| n.as_str() <= a) => Err("the listing's cursor does not move forward"),
        Some(_) if page.entries.is_empty() => Err("the listing has an empty page with more to come"),
        _ => Ok(()),
    }
}
