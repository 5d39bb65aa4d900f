//! The user's consent asked on WhatsApp itself (`confirm_via = "whatsapp"`): the question goes to
//! the account's own chat ("Message yourself"), and the user answers from their phone. A reply
//! of yes (or 👍 on the question) sends; any other reply or reaction there does not; no answer
//! in time does not either. No client support is needed.
//!
//! Only the account's own devices write in its own chat, and the model cannot answer for the
//! user: a "yes" it tried to send there would itself be a send waiting for the user's consent.

use std::time::Duration;

use wamcp_api::events::{BridgeEvent, EventStream, Heard, next};
use wamcp_api::{Daemon, GetStatus, SendMessage};
use wamcp_core::Jid;

use crate::consent::{Consent, Refusal};

/// The replies that mean yes, compared without case, spaces or a final `!` or `.`.
const YES: &[&str] = &["yes", "y", "ok", "👍", "sí", "si", "oui", "ja", "sim"];

/// Asks in the account's own chat and waits up to `timeout` for the user's answer.
pub async fn ask(daemon: &(dyn Daemon + 'static), question: String, timeout: Duration) -> Consent {
    match put(daemon, question, timeout).await {
        Ok(consent) => consent,
        Err(why) => Consent::Refused(Refusal::QuestionFailed(why)),
    }
}

async fn put(daemon: &(dyn Daemon + 'static), question: String, timeout: Duration) -> Result<Consent, String> {
    let status = daemon.call(GetStatus {}).await.map_err(|e| e.to_string())?;
    let own = status
        .connection
        .account
        .as_deref()
        .and_then(|account| Jid::parse(account).ok())
        .ok_or("the account is not linked yet, so there is no own chat to ask in")?;
    // Listening starts before the question is sent, so the answer cannot come before it.
    let mut events = daemon.events().await.map_err(|e| e.to_string())?;
    let message = format!(
        "🔐 wamcp asks before sending.\n\n{question}\n\nReply yes (or react 👍) to send. Anything else cancels; \
         no answer in {} s cancels too.",
        timeout.as_secs()
    );
    let asked = SendMessage { recipient: own.to_string(), message, ..SendMessage::default() };
    let asked = daemon.call(asked).await.map_err(|e| e.to_string())?;
    let answer = tokio::time::timeout(timeout, answer(&mut events, &own, &asked.id)).await;
    Ok(match answer {
        Ok(Some(true)) => Consent::Given,
        Ok(Some(false)) => Consent::Refused(Refusal::Declined),
        Ok(None) => Consent::Refused(Refusal::QuestionFailed("the daemon stopped while waiting".into())),
        Err(_) => Consent::Refused(Refusal::NoAnswerWithin(timeout)),
    })
}

/// The user's answer in `own` chat to the question `asked`: yes or no, or `None` if the daemon
/// stopped first.
async fn answer(events: &mut EventStream, own: &Jid, asked: &str) -> Option<bool> {
    loop {
        let heard = next(events).await?;
        match heard {
            Heard::Event(BridgeEvent::Message(m)) if m.chat_jid == own.as_str() && m.is_from_me && m.id != asked => {
                return Some(means_yes(m.text.as_deref().unwrap_or_default()));
            }
            Heard::Event(BridgeEvent::Reaction { chat_jid, id, is_from_me: true, emoji, .. })
                if chat_jid == own.as_str() && id == asked && !emoji.is_empty() =>
            {
                return Some(emoji.starts_with('👍'));
            }
            _ => {}
        }
    }
}

fn means_yes(reply: &str) -> bool {
    let reply = reply.trim().trim_end_matches(['!', '.']).trim().to_lowercase();
    YES.contains(&reply.as_str()) || reply.starts_with('👍')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_is_yes_however_it_is_written_and_anything_else_is_no() {
        for yes in ["yes", "Yes!", " YES. ", "y", "ok", "👍", "👍🏽", "Sí"] {
            assert!(means_yes(yes), "{yes}");
        }
        for no in ["no", "yes, but later", "", "send it to someone else", "yess"] {
            assert!(!means_yes(no), "{no}");
        }
    }
}
