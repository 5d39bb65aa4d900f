//! History sync: the phone sends the linked device the account's past chats, as phones do
//! after linking. fakewa makes the people and messages (`POST /history`), packs them as
//! WhatsApp's `HistorySync` (zlib, then the media crypto) in chunks on the media host, and
//! tells the client of each chunk with a `historySyncNotification`, progress included. Half the
//! chats come keyed by LID, as on a LID-migrated account, with the phone↔LID mappings and push
//! names alongside.

use std::io::Write;

use anyhow::{Result, bail};
use buffa::{Message as _, MessageField};
use flate2::Compression;
use flate2::write::ZlibEncoder;
use serde::Deserialize;
use wacore::download::MediaType;
use waproto::whatsapp as wa;

use crate::messaging::message_id;
use crate::world::{World, now};

/// Messages per chunk (one notification and one blob each).
const CHUNK: usize = 2_000;

/// `POST /history`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryRequest {
    pub chats: usize,
    pub messages: usize,
}

/// One message of the history, before packing.
struct Past {
    chat: usize,
    id: String,
    from_me: bool,
    at: i64,
    text: String,
}

impl World {
    /// Makes `chats` people with `messages` messages between them and the account, and sends
    /// them to the client. Returns the message ids.
    pub fn history(&mut self, request: HistoryRequest) -> Result<Vec<String>> {
        if request.chats == 0 || request.chats > 10_000 || request.messages > 1_000_000 {
            bail!("history takes 1 to 10000 chats and at most 1000000 messages");
        }
        let people: Vec<usize> = (0..request.chats)
            .map(|i| {
                let index = self.contact(&format!("4477009{:05}", 10_000 + i))?;
                let contact = &mut self.saved.contacts[index];
                contact.push_name.get_or_insert_with(|| format!("Person {}", i + 1));
                Ok(index)
            })
            .collect::<Result<_>>()?;
        let start = now() - 30 * 86_400;
        let past: Vec<Past> = (0..request.messages)
            .map(|n| Past {
                chat: n % request.chats,
                id: message_id(),
                from_me: n % 3 == 0,
                at: start + n as i64,
                text: format!("history message {n}"),
            })
            .collect();
        let chunks = past.chunks(CHUNK).count().max(1);
        for (order, chunk) in past.chunks(CHUNK).enumerate() {
            let progress = ((order + 1) * 100 / chunks) as u32;
            let sync = self.pack(&people, chunk, order as u32, progress);
            self.send_history(&sync, order as u32, progress)?;
        }
        if past.is_empty() {
            let sync = self.pack(&people, &[], 0, 100);
            self.send_history(&sync, 0, 100)?;
        }
        Ok(past.into_iter().map(|p| p.id).collect())
    }

    /// A chat's jid as the history names it: by LID for every other chat.
    fn history_jid(&self, chat: usize, contact: usize) -> String {
        let person = &self.saved.contacts[contact];
        if chat % 2 == 1 { format!("{}@lid", person.lid) } else { format!("{}@s.whatsapp.net", person.phone) }
    }

    fn pack(&self, people: &[usize], chunk: &[Past], order: u32, progress: u32) -> wa::HistorySync {
        let mut conversations: Vec<wa::Conversation> = Vec::new();
        for (chat, &contact) in people.iter().enumerate() {
            let jid = self.history_jid(chat, contact);
            let name = self.saved.contacts[contact].push_name.clone().unwrap_or_default();
            let messages: Vec<wa::HistorySyncMsg> = chunk
                .iter()
                .filter(|p| p.chat == chat)
                .map(|p| wa::HistorySyncMsg {
                    message: MessageField::some(wa::WebMessageInfo {
                        key: MessageField::some(wa::MessageKey {
                            remote_jid: Some(jid.clone()),
                            from_me: Some(p.from_me),
                            id: Some(p.id.clone()),
                            participant: None,
                        }),
                        message: MessageField::some(wa::Message {
                            conversation: Some(p.text.clone()),
                            ..Default::default()
                        }),
                        message_timestamp: Some(p.at as u64),
                        push_name: if p.from_me { None } else { Some(name.clone()) },
                        ..Default::default()
                    }),
                    msg_order_id: Some(p.at as u64),
                })
                .collect();
            if messages.is_empty() && order > 0 {
                continue;
            }
            conversations.push(wa::Conversation {
                id: jid,
                last_msg_timestamp: messages
                    .last()
                    .and_then(|m| m.message.as_option())
                    .and_then(|m| m.message_timestamp),
                messages,
                ..Default::default()
            });
        }
        wa::HistorySync {
            sync_type: wa::history_sync::HistorySyncType::INITIAL_BOOTSTRAP,
            conversations,
            chunk_order: Some(order),
            progress: Some(progress),
            pushnames: people
                .iter()
                .map(|&c| wa::Pushname {
                    id: Some(format!("{}@s.whatsapp.net", self.saved.contacts[c].phone)),
                    pushname: self.saved.contacts[c].push_name.clone(),
                })
                .collect(),
            phone_number_to_lid_mappings: people
                .iter()
                .map(|&c| wa::PhoneNumberToLIDMapping {
                    pn_jid: Some(format!("{}@s.whatsapp.net", self.saved.contacts[c].phone)),
                    lid_jid: Some(format!("{}@lid", self.saved.contacts[c].lid)),
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Compresses and encrypts a chunk onto the media host and tells the client.
    fn send_history(&mut self, sync: &wa::HistorySync, order: u32, progress: u32) -> Result<()> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&sync.encode_to_vec())?;
        let compressed = encoder.finish()?;
        let encrypted = wacore::upload::encrypt_media(&compressed, MediaType::History)?;
        let direct_path = crate::media::keep(&self.data_dir, "15575-24", &encrypted.data_to_upload)?;
        let notification = wa::message::HistorySyncNotification {
            file_sha256: Some(encrypted.file_sha256.to_vec()),
            file_length: Some(compressed.len() as u64),
            media_key: Some(encrypted.media_key.to_vec()),
            file_enc_sha256: Some(encrypted.file_enc_sha256.to_vec()),
            direct_path: Some(direct_path),
            sync_type: Some(wa::message::HistorySyncType::INITIAL_BOOTSTRAP),
            chunk_order: Some(order),
            progress: Some(progress),
            ..Default::default()
        };
        let message = wa::Message {
            protocol_message: MessageField::some(wa::message::ProtocolMessage {
                r#type: Some(wa::message::protocol_message::Type::HISTORY_SYNC_NOTIFICATION),
                history_sync_notification: MessageField::some(notification),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.send_from_phone(&message)
    }
}
