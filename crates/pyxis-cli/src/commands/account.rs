//! `signup`, `login`, `logout`, `whoami`, `quota`, `passwd`, `recovery-key`, `recover`, `devices`.

use pyxis_client::account;
use pyxis_crypto::keys::KdfParams;

use super::Global;
use crate::output::emit;

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

pub async fn whoami(g: &Global, fingerprint: bool) -> anyhow::Result<()> {
    let c = g.client()?;
    let u = c.api().whoami().await?;
    let print = if fingerprint { Some(account::fingerprint(&g.config_dir()).await?) } else { None };
    let out = serde_json::json!({ "user": u, "fingerprint": print });
    emit(g.json, &out, |_| {
        println!("{} on {} (user {})", u.username, c.api().base(), u.id);
        if let Some(f) = &print {
            println!("fingerprint: {f}");
        }
    });
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Delete this account: every device is logged out now, and its files
    /// are removed after the server's grace (7 days by default; the operator
    /// can undo it until then). Asks for the password (or PYXIS_PASSWORD).
    Delete {
        /// Do not ask to type the username to confirm.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn account(g: &Global, cmd: AccountCommand) -> anyhow::Result<()> {
    match cmd {
        AccountCommand::Delete { yes } => {
            let session = g.config_dir().load()?.ok_or_else(|| anyhow::anyhow!("not logged in"))?;
            if !yes {
                eprint!("Delete the account {} and every file in it? Type its name to confirm: ", session.username);
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                if line.trim() != session.username {
                    anyhow::bail!("not confirmed; nothing was deleted");
                }
            }
            let password = g.password(false)?;
            let after = account::delete_account(&g.config_dir(), &password).await?;
            emit(g.json, &serde_json::json!({ "deleted": session.username, "delete_after": after }), |_| {
                println!(
                    "{} is deleted: every device is logged out; its files are removed after {}",
                    session.username,
                    crate::output::when(after)
                )
            });
        }
    }
    Ok(())
}

pub async fn passwd(g: &Global) -> anyhow::Result<()> {
    let current = super::read_secret("PYXIS_PASSWORD", "Current password", false, false)?;
    let new = g.new_password()?;
    account::change_password(&g.config_dir(), &current, &new, KdfParams::DEFAULT).await?;
    emit(g.json, &serde_json::json!({"password_changed": true}), |_| {
        println!("Password changed; every other device is logged out. Files need no re-encryption.")
    });
    Ok(())
}

pub async fn recovery_key(g: &Global) -> anyhow::Result<()> {
    let current = g.password(false)?;
    let key = account::make_recovery_key(&g.config_dir(), &current).await?;
    emit(g.json, &serde_json::json!({"recovery_key": key.display()}), |_| {
        println!("Recovery key (shown once; keep it offline, e.g. on paper):");
        println!();
        println!("    {}", key.display());
        println!();
        println!("With it, `pyxis recover USER` sets a new password if this one is lost.");
        println!("Anyone holding it and your username can do the same: keep it as safe as the password.");
        println!("Making a new one replaces this one.");
    });
    Ok(())
}

pub async fn recover(g: &Global, a: UserArgs) -> anyhow::Result<()> {
    g.remember_ca()?;
    let text = super::read_secret("PYXIS_RECOVERY_KEY", "Recovery key", false, false)?;
    let key = pyxis_crypto::keys::RecoveryKey::parse(&text)?;
    let new = g.new_password()?;
    let server = g.server_url();
    let s = account::recover(&g.config_dir(), &server, &a.user, &key, &new, KdfParams::DEFAULT).await?;
    emit(g.json, &serde_json::json!({"username": s.username, "server": s.server}), |_| {
        println!("New password set for {} with the recovery key; every other device is logged out.", s.username)
    });
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum DevicesCommand {
    /// Log a device out (its id from `pyxis devices`).
    Revoke { id: String },
}

pub async fn devices(g: &Global, cmd: Option<DevicesCommand>) -> anyhow::Result<()> {
    match cmd {
        Some(DevicesCommand::Revoke { id }) => {
            account::revoke_device(&g.config_dir(), &id).await?;
            emit(g.json, &serde_json::json!({"revoked": id}), |_| println!("Device {id} is logged out."));
        }
        None => {
            let list = account::devices(&g.config_dir()).await?;
            emit(g.json, &serde_json::json!({"devices": list}), |_| {
                for d in &list {
                    let when = crate::output::when(d.logged_in_at);
                    let name = crate::output::shown(d.device.as_deref().unwrap_or("(unnamed)"));
                    let mark = if d.current { "  (this device)" } else { "" };
                    println!("{}  {name:<24}  logged in {when}{mark}", d.id);
                }
            });
        }
    }
    Ok(())
}
