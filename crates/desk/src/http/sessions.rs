//! Who is signed in to the web inbox: a server-side session per sign-in. The cookie holds a
//! random id (256 bits) that the database keeps only as its SHA-256, so a copy of the database
//! signs nobody in. A session ends when its person signs out, after 12 hours unused, or when the
//! API token changes (each session remembers a fingerprint of the token it was opened with).

use sha2::{Digest, Sha256};
use wamcp_core::Timestamp;

use crate::DeskError;
use crate::db::Db;

/// The session cookie's name.
pub const COOKIE: &str = "wamcp_desk";
/// A session unused this long is over.
pub const IDLE_MS: i64 = 12 * 60 * 60 * 1000;
/// Use is written back at most this often, so reading pages does not write on every click.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

/// Which token a session was opened with, without holding the token.
fn fingerprint(token: &str) -> String {
    hash(&format!("wamcp desk token\0{token}"))
}

/// Opens a session for someone who gave `token`; answers the cookie value.
pub async fn open(db: &Db, token: &str) -> Result<String, DeskError> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| DeskError::Unavailable(format!("no randomness for a session: {e}")))?;
    let id = hex(&random);
    let now = Timestamp::now().millis();
    let mut tx = db.write().await?;
    // Sessions long over are swept here, where one is made.
    sqlx::query("DELETE FROM inbox_sessions WHERE last_seen_at < $1").bind(now - IDLE_MS).execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO inbox_sessions (id_hash, token_fingerprint, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(hash(&id))
    .bind(fingerprint(token))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Whether `id` (the cookie's value) is a live session opened with the current `token`; a
/// live one counts as used now.
pub async fn check(db: &Db, id: &str, token: &str) -> Result<bool, DeskError> {
    let now = Timestamp::now().millis();
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT token_fingerprint, last_seen_at FROM inbox_sessions WHERE id_hash = $1")
            .bind(hash(id))
            .fetch_optional(db.pool())
            .await?;
    let Some((opened_with, last_seen)) = row else { return Ok(false) };
    if !wamcp_core::secrets_match(&opened_with, &fingerprint(token)) || last_seen < now - IDLE_MS {
        return Ok(false);
    }
    if last_seen < now - TOUCH_EVERY_MS {
        sqlx::query("UPDATE inbox_sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(hash(id))
            .execute(db.pool())
            .await?;
    }
    Ok(true)
}

/// Ends the session `id`; ending one that is gone is fine.
pub async fn close(db: &Db, id: &str) -> Result<(), DeskError> {
    sqlx::query("DELETE FROM inbox_sessions WHERE id_hash = $1").bind(hash(id)).execute(db.pool()).await?;
    Ok(())
}
