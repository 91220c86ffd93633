//! Signup, login and logout: the password is stretched on this machine into a
//! login secret (sent) and a key-wrapping key (kept), and the master key is
//! created and wrapped here too (docs/SECURITY.md).

use pyxis_crypto::keys::{
    KdfParams, Keyring, MasterKey, RecoveryKey, derive_password_keys, random_salt, unwrap_master_key, wrap_master_key,
};
use pyxis_proto::api::auth::{self, LoginRequest, SessionResponse, SignupRequest};
use pyxis_proto::hex;

use crate::api::{Api, http_client};
use crate::config::{ConfigDir, Session};
use crate::error::{ClientError, Result};

/// This device's name for `pyxis devices`: `PYXIS_DEVICE`, else the host
/// name, cut to 64 characters and cleared of control characters.
pub fn device_name() -> Option<String> {
    let raw = std::env::var("PYXIS_DEVICE")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())?;
    let name: String = raw.chars().filter(|c| !c.is_control()).take(64).collect();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

fn session(server: &Api, resp: &SessionResponse, master: &MasterKey, bound: bool) -> Session {
    Session {
        server: server.base().to_owned(),
        username: resp.user.username.clone(),
        user_id: resp.user.id,
        token: resp.token.clone(),
        expires_at: resp.expires_at,
        master_key: hex::encode(master.as_bytes()),
        bound,
    }
}

async fn stretch(password: Vec<u8>, salt: Vec<u8>, kdf: KdfParams) -> Result<pyxis_crypto::keys::PasswordKeys> {
    tokio::task::spawn_blocking(move || derive_password_keys(&password, &salt, &kdf))
        .await
        .map_err(|e| ClientError::Task { task: "key derivation", why: e.to_string() })?
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
        // A new account binds every version from the start.
        wrapped_master_key: wrap_master_key(&master, &keys.wrapping, true)?,
        reader_public_key: hex::encode(&reader),
        device: device_name(),
    };
    let resp = api.signup(&req).await?;
    let s = session(&api, &resp, &master, true);
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
    let req = LoginRequest { username: username.to_owned(), login_secret: keys.login.to_hex(), device: device_name() };
    let resp = api.login(&req).await?;
    let (master, bound) = unwrap_master_key(&resp.wrapped_master_key, &keys.wrapping).map_err(|e| {
        ClientError::Invalid(format!("the server accepted the password but the master key does not open ({e})"))
    })?;
    let s = session(&api, &resp, &master, bound);
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

/// The login secret of `password` for this account, from its salt and KDF.
async fn current_keys(api: &Api, username: &str, password: &str) -> Result<pyxis_crypto::keys::PasswordKeys> {
    let pre = api.prelogin(username).await?;
    let salt = hex::decode(&pre.salt).map_err(|e| ClientError::Invalid(format!("server sent a bad salt: {e}")))?;
    let kdf =
        KdfParams { memory_kib: pre.kdf.memory_kib, iterations: pre.kdf.iterations, parallelism: pre.kdf.parallelism };
    stretch(password.as_bytes().to_vec(), salt, kdf).await
}

/// A new password's salt, KDF, login secret and wrapping of `master`.
async fn new_password(password: &str, kdf: KdfParams, master: &MasterKey, bound: bool) -> Result<auth::NewPassword> {
    let salt = random_salt()?;
    let keys = stretch(password.as_bytes().to_vec(), salt.to_vec(), kdf).await?;
    Ok(auth::NewPassword {
        salt: hex::encode(&salt),
        kdf: auth::KdfParams { memory_kib: kdf.memory_kib, iterations: kdf.iterations, parallelism: kdf.parallelism },
        login_secret: keys.login.to_hex(),
        wrapped_master_key: wrap_master_key(master, &keys.wrapping, bound)?,
    })
}

fn logged_in(config: &ConfigDir) -> Result<(Session, Api)> {
    let s = config.load()?.ok_or_else(|| ClientError::Invalid("not logged in: run `pyxis login`".into()))?;
    let api = Api::new(&s.server, http_client(config.load_ca()?.as_deref())?).with_token(&s.token);
    Ok((s, api))
}

/// Changes the password of the logged-in account: the master key is
/// wrapped again under the new one (no data is re-encrypted), and every
/// other device is logged out.
pub async fn change_password(config: &ConfigDir, current: &str, new: &str, kdf: KdfParams) -> Result<()> {
    let (s, api) = logged_in(config)?;
    let old = current_keys(&api, &s.username, current).await?;
    let master = MasterKey::from_bytes(
        hex::decode_array(&s.master_key).map_err(|e| ClientError::Invalid(format!("session.json: master key: {e}")))?,
    );
    let req = auth::PasswordChangeRequest {
        current_login_secret: old.login.to_hex(),
        new: new_password(new, kdf, &master, s.bound).await?,
    };
    api.change_password(&req).await
}

/// Makes a recovery key for the logged-in account (replacing any earlier
/// one) and returns it: it is shown once and kept by the user.
pub async fn make_recovery_key(config: &ConfigDir, current: &str) -> Result<RecoveryKey> {
    let (s, api) = logged_in(config)?;
    let old = current_keys(&api, &s.username, current).await?;
    let master = MasterKey::from_bytes(
        hex::decode_array(&s.master_key).map_err(|e| ClientError::Invalid(format!("session.json: master key: {e}")))?,
    );
    let key = RecoveryKey::generate()?;
    let keys = key.keys();
    let req = auth::RecoveryKeyRequest {
        current_login_secret: old.login.to_hex(),
        recovery_secret: keys.login.to_hex(),
        wrapped_master_key: wrap_master_key(&master, &keys.wrapping, s.bound)?,
    };
    api.set_recovery_key(&req).await?;
    Ok(key)
}

/// Sets a new password with the recovery key, when the old password is
/// lost, and logs this device in. Every other session ends.
pub async fn recover(
    config: &ConfigDir,
    server: &str,
    username: &str,
    key: &RecoveryKey,
    new: &str,
    kdf: KdfParams,
) -> Result<Session> {
    let api = Api::new(server, http_client(config.load_ca()?.as_deref())?);
    let keys = key.keys();
    let ask = auth::RecoverRequest {
        username: username.to_owned(),
        recovery_secret: keys.login.to_hex(),
        new_password: None,
        device: device_name(),
    };
    let wrapped = api.recover(&ask).await?.recovery_wrapped_master_key;
    // The master key must open before the password is replaced: a server
    // answering with another wrapping must not make this device adopt it.
    let (master, bound) = unwrap_master_key(&wrapped, &keys.wrapping)
        .map_err(|e| ClientError::Invalid(format!("the recovery key does not open this account's master key ({e})")))?;
    let set = auth::RecoverRequest { new_password: Some(new_password(new, kdf, &master, bound).await?), ..ask };
    let resp =
        api.recover(&set).await?.session.ok_or_else(|| ClientError::Invalid("the server set no session".into()))?;
    let s = session(&api, &resp, &master, bound);
    config.save(&s)?;
    Ok(s)
}

/// The account's logged-in devices.
pub async fn devices(config: &ConfigDir) -> Result<Vec<auth::DeviceInfo>> {
    let (_, api) = logged_in(config)?;
    Ok(api.devices().await?.devices)
}

/// Logs one of the account's devices out (its id from [`devices`]).
pub async fn revoke_device(config: &ConfigDir, id: &str) -> Result<()> {
    let (_, api) = logged_in(config)?;
    api.revoke_device(&auth::RevokeDeviceRequest { id: id.to_owned() }).await
}

/// Deletes the logged-in account (the password proved again): every device
/// is logged out now, and the files are removed after the server's grace.
/// This device's session is forgotten. Returns when the files go (Unix ms).
pub async fn delete_account(config: &ConfigDir, password: &str) -> Result<i64> {
    let (s, api) = logged_in(config)?;
    let keys = current_keys(&api, &s.username, password).await?;
    let r = api.delete_account(&auth::AccountDeleteRequest { current_login_secret: keys.login.to_hex() }).await?;
    config.clear()?;
    Ok(r.delete_after)
}

/// This account's public key as the server hands it to others, checked
/// against the one this account's keys give: a server that substitutes it
/// is caught here. Returns the fingerprint (what others compare, and pin).
pub async fn fingerprint(config: &ConfigDir) -> Result<String> {
    let (s, api) = logged_in(config)?;
    let own = s.keyring()?.reader_public_key()?;
    let served = api.whoami().await?.reader_public_key;
    if served.as_deref() != Some(hex::encode(&own).as_str()) {
        return Err(ClientError::Tampered {
            path: format!("the public key of {}", s.username),
            why: "the server hands out a key that is not this account's".into(),
        });
    }
    Ok(key_fingerprint(&own))
}

/// A public key's fingerprint: BLAKE3 of it, 20 bytes in groups of four hex
/// digits, short enough to read out and compare.
pub fn key_fingerprint(public_key: &[u8; 32]) -> String {
    let h = blake3::hash(public_key).to_hex();
    h.as_bytes()[..40].chunks(4).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect::<Vec<_>>().join(" ")
}
