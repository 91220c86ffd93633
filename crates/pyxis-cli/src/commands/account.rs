//! `signup`, `login`, `logout`, `whoami`, `quota`.

use pyxis_client::account;
use pyxis_core::keys::KdfParams;

use super::Global;
use crate::output::{emit, size};

#[derive(Debug, clap::Args)]
pub struct UserArgs {
    /// Username: lowercase letters, digits, '.', '_', '-'.
    pub user: String,
}

pub async fn signup(g: &Global, a: UserArgs) -> anyhow::Result<()> {
    g.remember_ca()?;
    let password = g.password(true)?;
    let server = g.server_url();
    let s = account::signup(&g.config_dir(), &server, &a.user, &password, KdfParams::DEFAULT).await?;
    emit(g.json, &serde_json::json!({"username": s.username, "server": s.server}), |_| {
        println!("Signed up as {} on {}; this device is logged in.", s.username, s.server)
    });
    Ok(())
}

pub async fn login(g: &Global, a: UserArgs) -> anyhow::Result<()> {
    g.remember_ca()?;
    let password = g.password(false)?;
    let server = g.server_url();
    let s = account::login(&g.config_dir(), &server, &a.user, &password).await?;
    emit(g.json, &serde_json::json!({"username": s.username, "server": s.server}), |_| {
        println!("Logged in as {} on {}.", s.username, s.server)
    });
    Ok(())
}

pub async fn logout(g: &Global) -> anyhow::Result<()> {
    account::logout(&g.config_dir()).await?;
    emit(g.json, &serde_json::json!({"logged_out": true}), |_| println!("Logged out."));
    Ok(())
}

pub async fn whoami(g: &Global) -> anyhow::Result<()> {
    let c = g.client()?;
    let u = c.api().whoami().await?;
    emit(g.json, &u, |u| println!("{} on {} (user {})", u.username, c.api().base(), u.id));
    Ok(())
}

pub async fn quota(g: &Global) -> anyhow::Result<()> {
    let u = g.client()?.api().quota().await?;
    emit(g.json, &u, |u| {
        let pct = if u.quota == 0 { 0.0 } else { 100.0 * u.used as f64 / u.quota as f64 };
        println!("{} of {} used ({pct:.1} %)", size(u.used), size(u.quota))
    });
    Ok(())
}
