//! The remote's calls to the server, each signed with its key (the server
//! knows the remote by that key, not by its URL), and each answer read no
//! further than an honest one can be.

use std::sync::Arc;

use bytes::Bytes;
use pyxis_core::identity::RemoteKey;
use pyxis_proto::api::{ErrorBody, ErrorCode};
use reqwest::StatusCode;
use serde::Serialize;
use thiserror::Error;

/// The largest answer the server gives a remote (an inventory answer can
/// name up to 10,000 hashes).
const MAX_ANSWER: usize = 2 << 20;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LinkError {
    #[error("cannot reach the server at {url}: {why}")]
    Unreachable { url: String, why: String },
    #[error("the server at {url} answered {status}: {message}")]
    Status { url: String, status: StatusCode, code: ErrorCode, message: String },
    #[error("the server's answer from {url} is not valid: {why}")]
    BadResponse { url: String, why: String },
}

impl LinkError {
    /// The server's error code, if it answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            LinkError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A signing connection to one server.
#[derive(Debug, Clone)]
pub struct ServerLink {
    pub server: String,
    client: reqwest::Client,
    key: Arc<RemoteKey>,
}

impl ServerLink {
    pub fn new(server: &str, client: reqwest::Client, key: Arc<RemoteKey>) -> Self {
        Self { server: server.trim_end_matches('/').to_owned(), client, key }
    }

    pub fn key(&self) -> &RemoteKey {
        &self.key
    }

    /// POSTs `body` as JSON, signed, and returns the body of a 2xx answer.
    pub async fn post<B: Serialize>(&self, path: &str, body: &B) -> Result<Bytes, LinkError> {
        let url = format!("{}{path}", self.server);
        // Serialising our own request types cannot fail.
        let json = serde_json::to_vec(body).unwrap_or_default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        // The signature covers the path as the server sees it.
        let signed_path = reqwest::Url::parse(&url).map(|u| u.path().to_owned()).unwrap_or_else(|_| path.to_owned());
        let auth = self.key.sign_call("POST", &signed_path, now, &json);
        let unreachable = |e: reqwest::Error| LinkError::Unreachable { url: url.clone(), why: e.to_string() };
        let resp = self
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(pyxis_proto::remote_call::HEADER, auth)
            .body(json)
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status();
        let bytes = pyxis_net::read_capped(resp, MAX_ANSWER)
            .await
            .map_err(|e| LinkError::Unreachable { url: url.clone(), why: e.to_string() })?;
        if !status.is_success() {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(b) => (b.code, b.message),
                Err(_) => (ErrorCode::Unknown, String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()),
            };
            return Err(LinkError::Status { url, status, code, message });
        }
        Ok(bytes)
    }

    /// [`post`](Self::post), parsing the answer.
    pub async fn call<B: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, LinkError> {
        let bytes = self.post(path, body).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| LinkError::BadResponse { url: format!("{}{path}", self.server), why: e.to_string() })
    }
}
