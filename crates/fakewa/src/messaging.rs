//! Messages both ways. A contact writes ([`World::incoming`]): the message is built as the
//! contact's phone would, padded, Signal-encrypted from the contact's identity (`pkmsg` first,
//! `msg` after; sender keys in groups) and queued for the client. The client writes
//! ([`World::client_message`]): each copy is decrypted by the person it is for, the server acks,
//! and the message is logged for `/received`.

use anyhow::{Context, Result, anyhow, bail};
use buffa::{Message as _, MessageField};
use futures_util::FutureExt;
use serde::Deserialize;
use serde_json::{Value, json};
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::{Node, NodeContent};
use waproto::whatsapp as wa;

use crate::people::{Who, split_jid};
use crate::signal::EncType;
use crate::wire::{attr, bytes, child, children};
use crate::world::{Resend, World, now};

/// `POST /incoming`: what a contact writes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incoming {
    /// The writer's phone number.
    pub from: String,
    /// A group's jid, when written in a group.
    #[serde(default)]
    pub chat: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// The id of the message this one quotes.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// `{id, emoji}`: a reaction to a message.
    #[serde(default)]
    pub reaction: Option<Reaction>,
    /// `{id, text}`: the writer edits one of their messages.
    #[serde(default)]
    pub edit: Option<Edit>,
    /// The id of one of the writer's messages they delete for everyone.
    #[serde(default)]
    pub revoke: Option<String>,
    /// `{path, caption?, mimetype?}`: a photo.
    #[serde(default)]
    pub image: Option<crate::media::Attachment>,
    /// `{path, mimetype?}`: a voice note (an Ogg/Opus file, recorded on the contact's phone).
    #[serde(default)]
    pub voice: Option<crate::media::Attachment>,
    /// Delivered while the client was away (the stanza carries `offline`).
    #[serde(default)]
    pub offline: bool,
    /// The first copy arrives so that the client cannot decrypt it (its MAC is wrong, as after
    /// a corruption in transit); the copy sent again when the client asks for it (a retry
    /// receipt) is whole. Only in direct chats, once the writer has a session with the client.
    #[serde(default)]
    pub garbled_first: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reaction {
    pub id: String,
    pub emoji: String,
    /// Whose message: the client's own (default) or the writer's.
    #[serde(default)]
    pub from_me: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    pub id: String,
    pub text: String,
}

/// Runs a Signal store operation: fakewa's stores are in memory, so it never waits.
pub(crate) fn ready<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    future.now_or_never().ok_or_else(|| anyhow!("a Signal store operation waited"))?
}

/// An `<enc>` whose message MAC (its last byte) is wrong.
fn garble(mut enc: Node) -> Node {
    if let Some(NodeContent::Bytes(bytes)) = enc.content.as_mut()
        && let Some(last) = bytes.last_mut()
    {
        *last ^= 0xff;
    }
    enc
}

/// A message id as a phone makes them: 16 random bytes, upper-case hex.
pub fn message_id() -> String {
    hex::encode_upper(rand::random::<[u8; 16]>())
}

impl World {
    /// The name of the client device, as fakewa's peers key their sessions with it.
    pub(crate) fn client_name(&self) -> Result<String> {
        let device = self.saved.device.as_ref().context("no device is linked")?;
        Ok(format!("{}:{}", self.saved.phone.number, device.id))
    }

    /// A contact writes. Returns the message id.
    pub fn incoming(&mut self, request: Incoming, media_host: &str) -> Result<String> {
        let sender = self.contact(&request.from)?;
        let sender_jid = format!("{}@s.whatsapp.net", self.saved.contacts[sender].phone);
        let chat = match &request.chat {
            Some(group) => {
                let (id, _) = split_jid(group);
                if !self.saved.groups.iter().any(|g| g.id == id) {
                    bail!("no group {group}: make it with POST /groups first");
                }
                format!("{id}@g.us")
            }
            None => sender_jid.clone(),
        };
        let message = self.compose(&request, &chat, &sender_jid, media_host)?;
        let id = message_id();
        let stanza_type = if message.reaction_message.is_set() {
            "reaction"
        } else if message.image_message.is_set() || message.audio_message.is_set() {
            "media"
        } else {
            "text"
        };
        let push_name = self.saved.contacts[sender].push_name.clone().unwrap_or_default();
        let mut stanza =
            NodeBuilder::new("message").attr("id", id.clone()).attr("t", now().to_string()).attr("type", stanza_type);
        if !push_name.is_empty() {
            stanza = stanza.attr("notify", push_name);
        }
        if request.offline {
            stanza = stanza.attr("offline", "1");
        }
        if request.garbled_first && request.chat.is_some() {
            bail!("garbled_first is for direct chats only");
        }
        let encs = if request.chat.is_some() {
            stanza =
                stanza.attr("from", chat.clone()).attr("participant", sender_jid.clone()).attr("addressing_mode", "pn");
            self.group_encs(sender, &chat, &sender_jid, &message)?
        } else {
            stanza = stanza.attr("from", sender_jid.clone());
            let padded = wacore::messages::MessageUtils::encode_and_pad(&message);
            if request.garbled_first && !self.contacts[sender].has_session(&self.client_name()?) {
                bail!("garbled_first needs a session: let {} write once before", request.from);
            }
            let enc = self.pairwise(Who::Contact(sender), &padded)?;
            if request.garbled_first {
                let whole = stanza.build();
                let garbled = garble(enc);
                self.resends.insert(id.clone(), Resend { sender, padded, stanza: whole.clone() });
                let mut node = whole;
                node.content = Some(NodeContent::Nodes(vec![garbled]));
                self.push(node)?;
                return Ok(id);
            }
            vec![enc]
        };
        self.push(stanza.children(encs).build())?;
        Ok(id)
    }

    /// The client could not decrypt a message and asks for it again (`<receipt type="retry">`):
    /// a garbled one is sent again, whole, under the same id. Returns whether it was one.
    pub(crate) fn retry_asked(&mut self, id: &str) -> Result<bool> {
        let Some(resend) = self.resends.remove(id) else { return Ok(false) };
        let enc = self.pairwise(Who::Contact(resend.sender), &resend.padded)?;
        let mut node = resend.stanza;
        node.content = Some(NodeContent::Nodes(vec![enc]));
        tracing::info!("sending {id} again, whole, as the client asked");
        self.push(node)?;
        Ok(true)
    }

    /// The message a request describes.
    fn compose(&mut self, request: &Incoming, chat: &str, sender_jid: &str, media_host: &str) -> Result<wa::Message> {
        let mut message = wa::Message::default();
        if let Some(reaction) = &request.reaction {
            let from_me = reaction.from_me.unwrap_or(true);
            message.reaction_message = MessageField::some(wa::message::ReactionMessage {
                key: MessageField::some(wa::MessageKey {
                    remote_jid: Some(chat.to_string()),
                    from_me: Some(from_me),
                    id: Some(reaction.id.clone()),
                    participant: if chat.ends_with("@g.us") && !from_me { Some(sender_jid.to_string()) } else { None },
                }),
                text: Some(reaction.emoji.clone()),
                sender_timestamp_ms: Some(now() * 1000),
                ..Default::default()
            });
            return Ok(message);
        }
        if let Some(edit) = &request.edit {
            message.protocol_message = MessageField::some(wa::message::ProtocolMessage {
                key: MessageField::some(own_key(chat, &edit.id, sender_jid)),
                r#type: Some(wa::message::protocol_message::Type::MESSAGE_EDIT),
                edited_message: MessageField::some(wa::Message {
                    conversation: Some(edit.text.clone()),
                    ..Default::default()
                }),
                timestamp_ms: Some(now() * 1000),
                ..Default::default()
            });
            return Ok(message);
        }
        if let Some(revoked) = &request.revoke {
            message.protocol_message = MessageField::some(wa::message::ProtocolMessage {
                key: MessageField::some(own_key(chat, revoked, sender_jid)),
                r#type: Some(wa::message::protocol_message::Type::REVOKE),
                ..Default::default()
            });
            return Ok(message);
        }
        if let Some(image) = &request.image {
            message.image_message = MessageField::some(self.upload_image(image, media_host)?);
            return Ok(message);
        }
        if let Some(voice) = &request.voice {
            message.audio_message = MessageField::some(self.upload_voice(voice, media_host)?);
            return Ok(message);
        }
        let text = request
            .text
            .clone()
            .context("say what the contact writes: text, image, voice, reaction, edit or revoke")?;
        match &request.reply_to {
            None => message.conversation = Some(text),
            Some(quoted) => {
                let (quoted_sender, quoted_text) = self.quoted(quoted);
                message.extended_text_message = MessageField::some(wa::message::ExtendedTextMessage {
                    text: Some(text),
                    context_info: MessageField::some(wa::ContextInfo {
                        stanza_id: Some(quoted.clone()),
                        participant: Some(quoted_sender),
                        quoted_message: MessageField::some(wa::Message {
                            conversation: Some(quoted_text),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            }
        }
        Ok(message)
    }

    /// Who wrote the message `id` and its text, from what fakewa saw (the client's own sends
    /// are in `received`; anything else is taken as the account's).
    fn quoted(&self, id: &str) -> (String, String) {
        for item in self.saved.received.iter().rev() {
            if item["kind"] == "message" && item["id"] == id {
                let own = format!("{}@s.whatsapp.net", self.saved.phone.number);
                return (own, item["text"].as_str().unwrap_or_default().to_string());
            }
        }
        (format!("{}@s.whatsapp.net", self.saved.phone.number), String::new())
    }

    /// `<enc>` from `who` to the client.
    pub(crate) fn pairwise(&mut self, who: Who, padded: &[u8]) -> Result<Node> {
        let client = self.client_name()?;
        let device = self.saved.device.as_mut().context("no device is linked")?;
        let mut keys = device.keys.clone();
        let peer = match who {
            Who::Phone => &mut self.phone,
            Who::Contact(i) => &mut self.contacts[i],
        };
        let (kind, ciphertext) = ready(peer.encrypt(&client, &mut keys, padded))?;
        if let Some(device) = self.saved.device.as_mut() {
            device.keys = keys;
        }
        Ok(NodeBuilder::new("enc").attr("v", "2").attr("type", kind.as_str()).bytes(ciphertext).build())
    }

    /// The `<enc>` nodes of a group message: the sender key's distribution first (pairwise),
    /// then the message under the sender key.
    fn group_encs(&mut self, sender: usize, group: &str, sender_jid: &str, message: &wa::Message) -> Result<Vec<Node>> {
        let client = self.client_name()?;
        let distribution_key = format!("{group}|{client}");
        let mut encs = Vec::new();
        let peer = &mut self.contacts[sender];
        let skdm = ready(peer.sender_key_distribution(group, sender_jid))?;
        let told = self.saved.contacts[sender].told_sender_key.contains(&distribution_key);
        if !told {
            let distribution = wa::Message {
                sender_key_distribution_message: MessageField::some(wa::message::SenderKeyDistributionMessage {
                    group_id: Some(group.to_string()),
                    axolotl_sender_key_distribution_message: Some(skdm),
                }),
                ..Default::default()
            };
            let padded = wacore::messages::MessageUtils::encode_and_pad(&distribution);
            encs.push(self.pairwise(Who::Contact(sender), &padded)?);
            self.saved.contacts[sender].told_sender_key.push(distribution_key);
        }
        let padded = wacore::messages::MessageUtils::encode_and_pad(message);
        let ciphertext = ready(self.contacts[sender].group_encrypt(group, sender_jid, &padded))?;
        encs.push(NodeBuilder::new("enc").attr("v", "2").attr("type", "skmsg").bytes(ciphertext).build());
        Ok(encs)
    }

    /// The client sent a `<message>`: decrypt each copy, ack, log it.
    pub(crate) fn client_message(&mut self, node: Node) -> Result<()> {
        let id = attr(&node, "id");
        let to = attr(&node, "to");
        // The server takes a message without reading it: it acknowledges first, and a message
        // whose id it already has is acknowledged again but not delivered twice.
        self.send(
            NodeBuilder::new("ack")
                .attr("class", "message")
                .attr("id", id.clone())
                .attr("from", to.clone())
                .attr("t", now().to_string())
                .build(),
        );
        let seen = |r: &Value| r["kind"] == "message" && r["id"] == id.as_str();
        if attr(&node, "category") != "peer" && self.saved.received.iter().any(seen) {
            tracing::info!("{id} again: already delivered, not twice");
            return Ok(());
        }
        if let Err(error) = self.deliver(&node, &id, &to) {
            // The recipient would ask for it again (a retry receipt); fakewa only says so.
            tracing::warn!("the recipient could not read {id}: {error:#}");
        }
        Ok(())
    }

    /// The recipient (the phone, a contact, a group's members) reads a message the client sent.
    fn deliver(&mut self, node: &Node, id: &str, to: &str) -> Result<()> {
        let (id, to) = (id.to_string(), to.to_string());
        let client = self.client_name()?;
        let mut decrypted: Vec<(Who, wa::Message)> = Vec::new();
        let mut copies: Vec<(String, &Node)> = Vec::new();
        if let Some(participants) = child(node, "participants") {
            for target in children(participants) {
                if let Some(enc) = child(target, "enc") {
                    copies.push((attr(target, "jid"), enc));
                }
            }
        }
        let group_enc = children(node).iter().find(|c| c.tag == "enc" && attr(c, "type") == "skmsg");
        for enc in children(node).iter().filter(|c| c.tag == "enc" && attr(c, "type") != "skmsg") {
            copies.push((to.clone(), enc));
        }
        for (jid, enc) in copies {
            let Some(who) = self.who(&jid) else {
                tracing::info!("a copy for {jid}, whom fakewa does not play");
                continue;
            };
            let kind = if attr(enc, "type") == "pkmsg" { EncType::PreKey } else { EncType::Whisper };
            let padded = ready(self.peer_mut(who).decrypt(&client, kind, &bytes(enc)))
                .with_context(|| format!("decrypting the copy for {jid}"))?;
            let message = wacore::messages::decode_plaintext(&padded, 2)?;
            if let Some(skdm) = message.sender_key_distribution_message.as_option() {
                let bytes = skdm.axolotl_sender_key_distribution_message.clone().unwrap_or_default();
                ready(self.peer_mut(who).accept_sender_key(&to, &client, &bytes))?;
            }
            decrypted.push((who, message));
        }
        let mut content: Option<wa::Message> = None;
        if let Some(enc) = group_enc {
            let (group, _) = split_jid(&to);
            let members =
                self.saved.groups.iter().find(|g| g.id == group).map(|g| g.participants.clone()).unwrap_or_default();
            for member in members {
                let Some(who) = self.who(&format!("{member}@s.whatsapp.net")) else { continue };
                if let Ok(padded) = ready(self.peer_mut(who).group_decrypt(&to, &client, &bytes(enc))) {
                    content = Some(wacore::messages::decode_plaintext(&padded, 2)?);
                    break;
                }
            }
            if content.is_none() {
                tracing::warn!("no member of {to} could read the group message {id}");
            }
        }
        // The recipient's copy, else the phone's (a device-sent copy wraps the message).
        let recipient = self.who(&to);
        if content.is_none() {
            content = decrypted
                .iter()
                .find(|(who, m)| Some(*who) == recipient && !m.sender_key_distribution_message.is_set())
                .map(|(_, m)| m.clone())
                .or_else(|| {
                    decrypted.iter().find_map(|(_, m)| {
                        m.device_sent_message.as_option().and_then(|d| d.message.as_option().cloned())
                    })
                });
        }
        if attr(node, "category") == "peer" {
            tracing::info!("a peer message to the phone: {:?}", content.as_ref().map(summary));
            return self.peer_message(content);
        }
        let Some(message) = content else { return Ok(()) };
        let mut item = json!({
            "kind": "message",
            "id": id,
            "to": to,
            "type": attr(node, "type"),
            "edit": attr(node, "edit"),
            "text": text_of(&message),
            "proto": lean(serde_json::to_value(&message).unwrap_or(Value::Null)),
        });
        if let Some(media) = crate::media::open_media(&self.data_dir, &message) {
            item["media"] = media;
        }
        self.saved.received.push(item);
        Ok(())
    }
}

/// The key of the writer's own message `id` in `chat`.
fn own_key(chat: &str, id: &str, sender_jid: &str) -> wa::MessageKey {
    wa::MessageKey {
        remote_jid: Some(chat.to_string()),
        from_me: Some(true),
        id: Some(id.to_string()),
        participant: if chat.ends_with("@g.us") { Some(sender_jid.to_string()) } else { None },
    }
}

/// The text a person would read in a message, if any.
pub fn text_of(message: &wa::Message) -> Option<String> {
    if let Some(text) = &message.conversation {
        return Some(text.clone());
    }
    if let Some(extended) = message.extended_text_message.as_option() {
        return extended.text.clone();
    }
    if let Some(image) = message.image_message.as_option() {
        return image.caption.clone();
    }
    if let Some(video) = message.video_message.as_option() {
        return video.caption.clone();
    }
    if let Some(document) = message.document_message.as_option() {
        return document.caption.clone();
    }
    if let Some(reaction) = message.reaction_message.as_option() {
        return reaction.text.clone();
    }
    if let Some(protocol) = message.protocol_message.as_option()
        && let Some(edited) = protocol.edited_message.as_option()
    {
        return text_of(edited);
    }
    None
}

fn summary(message: &wa::Message) -> String {
    format!("{} bytes", message.encode_to_vec().len())
}

impl World {
    /// The recipient's phone confirms the client's message `id`: delivered, read or played.
    pub fn confirm(&mut self, id: &str, kind: &str) -> Result<()> {
        if !matches!(kind, "delivered" | "read" | "played") {
            bail!("a receipt's type is delivered, read or played, not {kind:?}");
        }
        let sent = self
            .saved
            .received
            .iter()
            .rev()
            .find(|item| item["kind"] == "message" && item["id"] == id)
            .with_context(|| format!("the client sent no message {id}"))?;
        let to = sent["to"].as_str().unwrap_or_default().to_string();
        let mut receipt = NodeBuilder::new("receipt").attr("id", id.to_string()).attr("t", now().to_string());
        if to.ends_with("@g.us") {
            let (group, _) = split_jid(&to);
            let member = self
                .saved
                .groups
                .iter()
                .find(|g| g.id == group)
                .and_then(|g| g.participants.first().cloned())
                .context("the group has no members")?;
            receipt = receipt.attr("from", to).attr("participant", format!("{member}@s.whatsapp.net"));
        } else {
            receipt = receipt.attr("from", to);
        }
        if kind != "delivered" {
            receipt = receipt.attr("type", kind.to_string());
        }
        let node = receipt.build();
        let mut node = node;
        // Receipts are acked by id; keep them apart from the message's own id in the queue.
        node.attrs.insert("id", id.to_string());
        self.push(node)
    }

    /// A message the client sent to its own phone (`category="peer"`): app-state key
    /// requests are answered with the key, others are only logged.
    pub(crate) fn peer_message(&mut self, message: Option<wa::Message>) -> Result<()> {
        let Some(message) = message else { return Ok(()) };
        if let Some(protocol) = message.protocol_message.as_option()
            && protocol.app_state_sync_key_request.is_set()
        {
            self.share_app_state_key()?;
        }
        Ok(())
    }
}

/// A message as JSON without its unset fields (the generated types list every field).
fn lean(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !(v.is_null() || v.as_array().is_some_and(Vec::is_empty)))
                .map(|(k, v)| (k, lean(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(lean).collect()),
        other => other,
    }
}
