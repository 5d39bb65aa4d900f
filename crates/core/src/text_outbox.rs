//! How a part of wamcp that must not know the bridge (the support desk) asks it to send a
//! WhatsApp text. The bridge implements it in-process; the CLI hands it over. So the desk depends
//! on this trait, never on the bridge.

use std::future::Future;
use std::pin::Pin;

use crate::Jid;

/// What queuing resolves to: the WhatsApp message id, or why it was not queued.
pub type QueueFuture<'a> = Pin<Box<dyn Future<Output = Result<String, QueueError>> + Send + 'a>>;

/// Why a text was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// It never will be (a bad recipient, say): give up.
    #[error("{0}")]
    Refused(String),
    /// Not now (the daemon is stopping): try again later.
    #[error("{0}")]
    Unavailable(String),
}

/// The bridge's outbox, as far as sending text goes.
pub trait TextOutbox: Send + Sync {
    /// Queues `text` to `to`. Resolves once the send is committed to the outbox (so it survives a
    /// crash), with the message id. The same `idempotency_key` twice queues one message, which is
    /// what makes retrying after a crash safe.
    fn queue_text<'a>(&'a self, to: &'a Jid, text: &'a str, idempotency_key: &'a str) -> QueueFuture<'a>;

    /// Who sends through this outbox: for a bridge, an id its data directory keeps. Several
    /// bridges (linked devices of one account) may share one desk database; an answer is sent by
    /// the first that takes it, because another's idempotency keys are not its own.
    fn sender(&self) -> &str;
}

/// Compares a secret given by a caller with the expected one in time that does not depend on
/// where they differ, so the comparison leaks nothing about the secret.
pub fn secrets_match(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}
