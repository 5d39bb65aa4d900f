//! Retention: with `retention.days` set, messages older than that many days are removed, with
//! their attachment files, when the daemon starts and once a day after.
//!
//! The rows go through the writer thread like every other write (one writer); the files are
//! deleted after the rows are committed, so a crash in between can leave a file without its row,
//! never a row whose file is gone.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use wamcp_core::{Clock, Timestamp};

use crate::ingest::{Command, Ingest};
use crate::status::{Counters, Status};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// When and how old: what a purge removes.
pub struct Retention {
    pub ingest: Ingest,
    pub data_dir: PathBuf,
    pub keep_days: u32,
    pub status: Arc<Status>,
    pub clock: Arc<dyn Clock>,
}

/// Purges now and every day after, until `stop` is cancelled (a purge under way finishes, files
/// included) or the writer stops.
pub async fn run(retention: Retention, stop: CancellationToken) {
    let Retention { ingest, data_dir, keep_days, status, clock } = retention;
    let mut every_day = tokio::time::interval(DAY);
    loop {
        tokio::select! {
            _ = every_day.tick() => {}
            _ = stop.cancelled() => return,
        }
        let before = Timestamp(clock.now().millis() - i64::from(keep_days) * DAY.as_millis() as i64);
        let (reply, erased) = oneshot::channel();
        if ingest.send(Command::Purge { before, reply }).await.is_err() {
            return;
        }
        let Ok(erased) = erased.await else {
            warn!("retention: the store could not remove old messages; trying again tomorrow");
            continue;
        };
        let files = erased.media_files.clone();
        let dir = data_dir.clone();
        let removed =
            match tokio::task::spawn_blocking(move || wamcp_store::erase::remove_media_files(&dir, &files)).await {
                Ok(Ok(removed)) => removed,
                Ok(Err(e)) => {
                    warn!("retention: cannot delete an attachment file: {e}");
                    0
                }
                Err(_) => 0,
            };
        let counters = &status.counters;
        Counters::add(&counters.retention_runs, 1);
        Counters::add(&counters.retention_messages, erased.messages);
        Counters::add(&counters.retention_files, removed);
        info!("retention: removed {} messages older than {keep_days} days and {removed} files", erased.messages);
    }
}
