//! Signup, login and logout: the password is stretched on this machine into a
//! login secret (sent) and a key-wrapping key (kept), and the master key is
//! created and wrapped here too (docs/SECURITY.md).

use pyxis_core::keys::{
    KdfParams, Keyring, MasterKey, derive_password_keys, random_salt, unwrap_master_key, wrap_master_key,
};
use pyxis_proto::api::auth::{self, LoginRequest, SessionResponse, SignupRequest};
use pyxis_proto::hex;

use crate::api::{Api, http_client};
use crate::config::{ConfigDir, Session};
use crate::error::{ClientError, Result};

fn session(server: &Api, resp: &SessionResponse, master: &MasterKey) -> Session {
    Session {
        server: server.base().to_owned(),
        username: resp.user.username.clone(),
        user_id: resp.user.id,
        token: resp.token.clone(),
        expires_at: resp.expires_at,
        master_key: hex::encode(master.as_bytes()),
    }
}

async fn stretch(password: Vec<u8>, salt: Vec<u8>, kdf: KdfParams) -> Result<pyxis_core::keys::PasswordKeys> {
    tokio::task::spawn_blocking(move || derive_password_keys(&password, &salt, &kdf))
        .await
        .map_err(|e| ClientError::Invalid(format!("key derivation task: {e}")))?
        .map_err(Into::into)
}

/// Creates an account with a fresh random master key and logs this device in.
pub async fn signup(
    config: &ConfigDir,
    server: &str,
    username: &str,
    password: &str,
    kdf: KdfParams,
) -> Result<Session> {
    signup_with_key(config, server, username, password, kdf, MasterKey::generate()?).await
}

/// [`signup`] with a given master key: for tests whose outcome depends on the
/// key (chunk boundaries are keyed), and for re-creating an account from a
/// kept master key.
pub async fn signup_with_key(
    config: &ConfigDir,
    server: &str,
    username: &str,
    password: &str,
    kdf: KdfParams,
    master: MasterKey,
) -> Result<Session> {
    let api = Api::new(server, http_client(config.load_ca()?.as_deref())?);
    let salt = random_salt()?;
    let keys = stretch(password.as_bytes().to_vec(), salt.to_vec(), kdf).await?;
    let reader = Keyring::new(&master).reader_public_key()?;
    let req = SignupRequest {
        username: username.to_owned(),
        salt: hex::encode(&salt),
        kdf: auth::KdfParams { memory_kib: kdf.memory_kib, iterations: kdf.iterations, parallelism: kdf.parallelism },
        login_secret: keys.login.to_hex(),
        wrapped_master_key: wrap_master_key(&master, &keys.wrapping)?,
        reader_public_key: hex::encode(&reader),
    };
    let resp = api.signup(&req).await?;
    let s = session(&api, &resp, &master);
    config.save(&s)?;
    Ok(s)
}

/// Logs this device in: derives the login secret, unwraps the master key.
pub async fn login(config: &ConfigDir, server: &str, username: &str, password: &str) -> Result<Session> {
    let api = Api::new(server, http_client(config.load_ca()?.as_deref())?);
    let pre = api.prelogin(username).await?;
    let salt = hex::decode(&pre.salt).map_err(|e| ClientError::Invalid(format!("server sent a bad salt: {e}")))?;
    let kdf =
        KdfParams { memory_kib: pre.kdf.memory_kib, iterations: pre.kdf.iterations, parallelism: pre.kdf.parallelism };
    let keys = stretch(password.as_bytes().to_vec(), salt, kdf).await?;
    let resp = api.login(&LoginRequest { username: username.to_owned(), login_secret: keys.login.to_hex() }).await?;
    let master = unwrap_master_key(&resp.wrapped_master_key, &keys.wrapping).map_err(|e| {
        ClientError::Invalid(format!("the server accepted the password but the master key does not open ({e})"))
    })?;
    let s = session(&api, &resp, &master);
    config.save(&s)?;
    Ok(s)
}

/// Ends the session on the server (if reachable) and forgets it here.
pub async fn logout(config: &ConfigDir) -> Result<()> {
    if let Some(s) = config.load()? {
        let api = Api::new(&s.server, http_client(config.load_ca()?.as_deref())?).with_token(&s.token);
        match api.logout().await {
            Ok(()) | Err(ClientError::Api { status: 401, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    config.clear()
}
