//! whatsapp-rust events as link events.

use std::sync::Arc;

use wamcp_core::{Contact, Disconnect, JidKind, LinkEvent, MessageId, Timestamp};
use whatsapp_rust::Client;
use whatsapp_rust::types::events::{Event, InboundMessage};
use whatsapp_rust::types::presence::ReceiptType;

use super::changes;
use super::convert::{self, Envelope};

/// What one library event means for wamcp (often nothing).
pub fn translate(event: &Event, client: &Arc<Client>) -> Vec<LinkEvent> {
    match event {
        Event::PairingQrCode(qr) => {
            vec![LinkEvent::PairingQr { code: qr.code.clone(), valid_for_secs: qr.timeout.as_secs() }]
        }
        Event::PairingCode(code) => vec![LinkEvent::PairingCode { code: code.code.clone() }],
        Event::PairingCodeError(error) => vec![LinkEvent::PairingEnded {
            why: convert::pairing_code_refused(error.rejection, error.backoff.map(|b| b.as_secs())),
            timed_out: false,
        }],
        Event::PairingQrCodesExhausted(_) => vec![LinkEvent::PairingEnded {
            why: "no phone scanned the QR codes before WhatsApp stopped offering them".to_string(),
            timed_out: true,
        }],
        Event::PairError(failed) => vec![LinkEvent::PairingEnded {
            why: format!("the phone's answer could not be completed ({}); run `wamcp login` again", failed.error),
            timed_out: false,
        }],
        Event::PairSuccess(paired) => {
            convert::jid(&paired.id).map(|account| LinkEvent::Paired { account }).into_iter().collect()
        }
        Event::Connected(_) => vec![LinkEvent::Connected { account: client.pn().as_ref().and_then(convert::jid) }],
        Event::Disconnected(why) => vec![LinkEvent::Disconnected(Disconnect::Transient(format!("{:?}", why.reason)))],
        Event::LoggedOut(out) => {
            let (code, why) = convert::failure(out.reason);
            vec![LinkEvent::Disconnected(Disconnect::LoggedOut(format!("{code} {why}")))]
        }
        Event::ConnectFailure(failure) => {
            vec![LinkEvent::Disconnected(convert::connect_failure(failure.reason, failure.message.as_deref()))]
        }
        Event::StreamReplaced(_) => vec![LinkEvent::Disconnected(Disconnect::StreamReplaced)],
        Event::ClientOutdated(_) => vec![LinkEvent::Disconnected(Disconnect::ClientOutdated)],
        Event::TemporaryBan(ban) => vec![LinkEvent::Disconnected(Disconnect::TemporaryBan {
            reason: ban.code.to_string(),
            until: Some(Timestamp(Timestamp::now().millis() + ban.expire.num_milliseconds())),
        })],
        // Committed through the durability hook already (see `durable`); only what the hook does
        // not see (channels, placeholder recoveries) comes this way.
        Event::Messages(batch) if batch.hook_committed => Vec::new(),
        Event::Messages(batch) => messages(batch.iter()),
        // The phone read messages: a direct chat's receipt names the account, not the chat.
        Event::Receipt(receipt) if receipt.r#type == ReceiptType::ReadSelf => {
            vec![LinkEvent::Read { ids: receipt.message_ids.iter().cloned().map(MessageId).collect() }]
        }
        Event::Receipt(receipt) => convert::receipt(
            &receipt.source.chat,
            &receipt.source.sender,
            &receipt.message_ids,
            &receipt.r#type,
            Timestamp(receipt.timestamp.timestamp_millis()),
        )
        .map(LinkEvent::Receipt)
        .into_iter()
        .collect(),
        Event::HistorySync(sync) => {
            sync.get().map(|history| LinkEvent::History(convert::history(history))).into_iter().collect()
        }
        Event::ContactUpdate(update) => {
            convert::address_book(&update.jid, &update.action).map(LinkEvent::Contact).into_iter().collect()
        }
        Event::PushNameUpdate(update) => convert::jid(&update.jid)
            .map(|jid| {
                let mut contact = Contact::new(jid);
                contact.push_name = Some(update.new_push_name.clone());
                LinkEvent::Contact(contact)
            })
            .into_iter()
            .collect(),
        Event::Presence(presence) => convert::jid(&presence.from)
            .map(|jid| LinkEvent::Presence {
                jid,
                available: !presence.unavailable,
                last_seen: presence.last_seen.map(|t| Timestamp(t.timestamp_millis())),
            })
            .into_iter()
            .collect(),
        Event::ArchiveUpdate(update) => changes::archived(update).into_iter().collect(),
        Event::PinUpdate(update) => changes::pinned(update).into_iter().collect(),
        Event::MuteUpdate(update) => changes::muted(update).into_iter().collect(),
        Event::MarkChatAsReadUpdate(update) => changes::marked_read(update).into_iter().collect(),
        Event::DeleteMessageForMeUpdate(update) => changes::deleted_for_me(update).into_iter().collect(),
        Event::ContactNumberChanged(change) => changes::number_changed(change),
        Event::UndecryptableMessage(failed) => changes::undecryptable(failed).into_iter().collect(),
        Event::GroupUpdate(update) => changes::group(update),
        _ => Vec::new(),
    }
}

/// What a batch of received messages means: the senders' other addresses, their push names, and
/// the messages' updates to the history.
pub fn messages<'a>(batch: impl Iterator<Item = &'a InboundMessage>) -> Vec<LinkEvent> {
    let mut events = Vec::new();
    let mut updates = Vec::new();
    for inbound in batch {
        let info = &inbound.info;
        // The sender under their other address (phone or LID): the same person.
        if let (Some(sender), Some(alt)) =
            (convert::jid(&info.source.sender), info.source.sender_alt.as_ref().and_then(convert::jid))
        {
            match (sender.kind(), alt.kind()) {
                (JidKind::Lid, JidKind::Phone) => {
                    events.push(LinkEvent::LidMapping { lid: sender.clone(), phone: alt })
                }
                (JidKind::Phone, JidKind::Lid) => {
                    events.push(LinkEvent::LidMapping { lid: alt, phone: sender.clone() })
                }
                _ => {}
            }
        }
        if !info.source.is_from_me
            && !info.push_name.is_empty()
            && let Some(sender) = convert::jid(&info.source.sender)
        {
            let mut contact = Contact::new(sender);
            contact.push_name = Some(info.push_name.clone());
            events.push(LinkEvent::Contact(contact));
        }
        if let Some(envelope) = Envelope::of_live(info)
            && let Some(update) = convert::message_update(&envelope, &inbound.message)
        {
            updates.push(update);
        }
    }
    if !updates.is_empty() {
        events.push(LinkEvent::Updates(updates));
    }
    events
}
