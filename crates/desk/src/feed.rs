//! The desk's WhatsApp feed: messages come from a [`MessageSource`] (the daemon's event bus and
//! store, or a lharries bridge's database), become [`Inbound`] messages, and are taken in.
//!
//! A source reads from a cursor, a text of its own making that the desk keeps in its database
//! and hands back to it, after a restart too. The desk saves a batch's new cursor only once every
//! message of the batch is committed: a crash or a failed write in between reads the batch again,
//! and the desk knows its messages by id. So no message the source handed over is lost, and none
//! is taken twice.

use std::error::Error;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wamcp_core::Jid;

pub use crate::intake::Arrived;
use crate::intake::Inbound;
use crate::{Desk, DeskError, Via};

/// What a source read: messages, oldest first, and where it has read to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub messages: Vec<Arrived>,
    /// The cursor once these messages are taken in; `None` leaves the kept one as it is.
    pub cursor: Option<String>,
}

/// Why a source could not read.
pub type SourceError = Box<dyn Error + Send + Sync>;

/// Where the desk's WhatsApp messages come from.
pub trait MessageSource: Send {
    /// The name the desk keeps this source's cursor under.
    fn cursor_key(&self) -> String;

    /// Waits for the messages after `cursor` (`None` the first time this source is ever read)
    /// and reads them. `None` when the source has ended.
    fn next(&mut self, cursor: Option<&str>) -> impl Future<Output = Option<Result<Batch, SourceError>>> + Send;

    /// The desk could not take in the last batch, or keep its cursor: the next read starts
    /// again from the cursor it is given.
    fn not_taken(&mut self) {}

    /// Whether a message in the direct chat with `person` is the desk's to answer.
    fn for_the_desk(&self, person: &Jid) -> impl Future<Output = bool> + Send {
        let _ = person;
        async { true }
    }
}

/// How long the feed waits before it tries again after a failure.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The feed from one source into the desk.
pub struct Feed {
    pub desk: Arc<Desk>,
    /// How the messages reach the desk (and so how answers leave).
    pub via: Via,
    /// The wait after a failure before reading again.
    pub retry_after: Duration,
}

impl Feed {
    pub fn new(desk: Arc<Desk>, via: Via) -> Feed {
        Feed { desk, via, retry_after: RETRY_AFTER }
    }

    /// Takes in `source`'s messages until it ends or `stop` is cancelled. A batch being taken
    /// in when `stop` is cancelled is taken in first.
    pub async fn run(self, mut source: impl MessageSource, stop: CancellationToken) {
        let (desk, via) = (&self.desk, self.via.as_str());
        let pause = || async { stop.run_until_cancelled(tokio::time::sleep(self.retry_after)).await.is_some() };
        let key = source.cursor_key();
        let mut cursor = loop {
            match desk.db.meta(&key).await {
                Ok(cursor) => break cursor,
                Err(error) => tracing::warn!("desk: reading where the {via} feed was failed: {error}"),
            }
            if !pause().await {
                return;
            }
        };
        loop {
            let Some(read) = stop.run_until_cancelled(source.next(cursor.as_deref())).await else { return };
            let batch = match read {
                None => return,
                Some(Ok(batch)) => batch,
                // The error says what was read.
                Some(Err(error)) => {
                    tracing::warn!("desk: {error}");
                    if !pause().await {
                        return;
                    }
                    continue;
                }
            };
            let kept = match take(desk, &source, &batch, self.via).await {
                Ok(taken) => {
                    if taken > 0 {
                        tracing::debug!("desk: took in {taken} message(s) from the {via} feed");
                    }
                    match &batch.cursor {
                        Some(next) => desk.db.set_meta(&key, next).await.map(|()| cursor = Some(next.clone())),
                        None => Ok(()),
                    }
                }
                Err(error) => Err(error),
            };
            if let Err(error) = kept {
                tracing::warn!("desk: taking in the {via} feed failed: {error}; reading it again");
                source.not_taken();
                if !pause().await {
                    return;
                }
            }
        }
    }
}

/// Takes in the batch's messages that are the desk's; answers how many were new.
async fn take(desk: &Desk, source: &impl MessageSource, batch: &Batch, via: Via) -> Result<usize, DeskError> {
    let mut taken = 0;
    for arrived in &batch.messages {
        desk.saw_whatsapp_message(arrived.at);
        let Some(inbound) = Inbound::from_whatsapp(arrived, via) else { continue };
        if !source.for_the_desk(&arrived.chat).await {
            continue;
        }
        if !desk.receive(&inbound).await?.duplicate {
            taken += 1;
        }
    }
    Ok(taken)
}
