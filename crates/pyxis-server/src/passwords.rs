//! The server's own Argon2id hashes of login secrets, with bounded memory.
//!
//! Each check takes tens of MiB for tens of milliseconds. At most
//! `password_checks` run at once (a request waits `password_wait` for a
//! turn, then gets 503), and they run in work areas kept in a pool: letting
//! Argon2 allocate its own would leave each blocking thread's allocator
//! arena holding a freed 19 MiB, and 100 concurrent logins took a server
//! from 37 MiB to 490 MiB that way (`abuse.rs` in the CLI's tests).

use std::sync::Mutex;
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use pyxis_crypto::keys::KdfParams;
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};
use pyxis_proto::api::ErrorCode;

/// Bytes of a stored hash.
const OUTPUT_LEN: usize = 32;

#[derive(Debug)]
pub struct Passwords {
    turns: Semaphore,
    wait: Duration,
    /// Work areas not in use (at most one per turn ever exists).
    areas: Mutex<Vec<Vec<Block>>>,
}

impl Passwords {
    /// `checks` at once (0: one per core), waiting at most `wait` for a turn.
    pub fn new(checks: usize, wait: Duration) -> Self {
        let checks = match checks {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        Self { turns: Semaphore::new(checks), wait, areas: Mutex::new(Vec::new()) }
    }

    /// Runs `f` with a work area, on a blocking thread, in a turn.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let Ok(Ok(_turn)) = tokio::time::timeout(self.wait, self.turns.acquire()).await else {
            return Err(ApiError::unavailable(
                ErrorCode::Busy,
                "the password_checks limit is reached (too many logins at once on this server): retry in a second",
            )
            .retry_after(1));
        };
        let mut area =
            self.areas.lock().map_err(|_| ApiError::internal("password areas poisoned"))?.pop().unwrap_or_default();
        let (result, area) = tokio::task::spawn_blocking(move || {
            let r = f(&mut area);
            (r, area)
        })
        .await
        .map_err(ApiError::internal)?;
        self.areas.lock().map_err(|_| ApiError::internal("password areas poisoned"))?.push(area);
        result
    }

    /// An Argon2id PHC string of `secret` with these parameters and a new salt.
    pub async fn hash(&self, secret: Vec<u8>, p: KdfParams) -> ApiResult<String> {
        self.run(move |area| hash(&secret, p, area)).await
    }

    /// Whether `secret` matches `stored` (a PHC string that carries its
    /// parameters).
    pub async fn verify(&self, secret: Vec<u8>, stored: String) -> ApiResult<bool> {
        self.run(move |area| verify(&secret, &stored, area)).await
    }
}

fn fill(
    argon: &Argon2,
    params: &Params,
    secret: &[u8],
    salt: &[u8],
    out: &mut [u8],
    area: &mut Vec<Block>,
) -> ApiResult<()> {
    // A stored hash names its own memory cost; resizing keeps the largest.
    if area.len() < params.block_count() {
        area.resize(params.block_count(), Block::default());
    }
    argon
        .hash_password_into_with_memory(secret, salt, out, &mut area[..params.block_count()])
        .map_err(ApiError::internal)
}

fn hash(secret: &[u8], p: KdfParams, area: &mut Vec<Block>) -> ApiResult<String> {
    let params =
        Params::new(p.memory_kib, p.iterations, p.parallelism, Some(OUTPUT_LEN)).map_err(ApiError::internal)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| ApiError::internal("RNG"))?;
    let mut out = [0u8; OUTPUT_LEN];
    fill(&argon, &params, secret, &salt, &mut out, area)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(ApiError::internal)?,
        salt: Some(Salt::new(&salt).map_err(ApiError::internal)?),
        hash: Some(Output::new(&out).map_err(ApiError::internal)?),
    };
    Ok(phc.to_string())
}

fn verify(secret: &[u8], stored: &str, area: &mut Vec<Block>) -> ApiResult<bool> {
    let bad = |e: &dyn std::fmt::Display| ApiError::internal(format!("a stored password hash is unreadable: {e}"));
    let phc = PasswordHash::new(stored).map_err(|e| bad(&e))?;
    let algorithm = Algorithm::try_from(phc.algorithm.as_str()).map_err(|e| bad(&e))?;
    let version = phc.version.map(Version::try_from).transpose().map_err(|e| bad(&e))?.unwrap_or_default();
    let params = Params::try_from(&phc).map_err(|e| bad(&e))?;
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else { return Err(bad(&"no salt or no hash")) };
    let mut out = vec![0u8; expected.len()];
    fill(&Argon2::new(algorithm, version, params.clone()), &params, secret, salt, &mut out, area)?;
    Ok(crate::tokens::same_hash(&out, expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_agree_with_the_argon2_crate() {
        let p = Passwords::new(1, Duration::from_secs(5));
        let cost = KdfParams { memory_kib: 1024, iterations: 1, parallelism: 1 };
        let h = p.hash(b"secret".to_vec(), cost).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{h}");
        assert!(p.verify(b"secret".to_vec(), h.clone()).await.unwrap());
        assert!(!p.verify(b"secreT".to_vec(), h.clone()).await.unwrap());
        // Hashes made by the crate's own hasher (as stored by earlier releases) verify too.
        use argon2::PasswordHasher;
        let older = Argon2::default().hash_password_with_salt(b"pw", b"0123456789abcdef").unwrap().to_string();
        assert!(p.verify(b"pw".to_vec(), older.clone()).await.unwrap());
        assert!(!p.verify(b"px".to_vec(), older).await.unwrap());
        // One work area served every check, and is sized for the largest.
        assert_eq!(p.areas.lock().unwrap().len(), 1);
        assert!(p.verify(b"x".to_vec(), "not a hash".into()).await.is_err());
    }
}
