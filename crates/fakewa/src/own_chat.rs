//! The owner writing in their own chat ("Message yourself") from the phone: a text, or a reaction
//! to a message there. WhatsApp hands it to the linked device as the account's own message,
//! encrypted by the phone: `from` is the account and there is no `recipient`, so the chat is the
//! account's own.

use anyhow::{Result, bail};
use buffa::MessageField;
use serde::Deserialize;
use wacore_binary::builder::NodeBuilder;
use waproto::whatsapp as wa;

use crate::messaging::{Reaction, message_id};
use crate::people::Who;
use crate::world::{World, now};

/// `POST /phone/own-chat`: what the owner writes there.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnChat {
    #[serde(default)]
    pub text: Option<String>,
    /// `{id, emoji}`: a reaction to a message of the own chat.
    #[serde(default)]
    pub reaction: Option<Reaction>,
}

impl World {
    /// The owner writes in their own chat. Returns the message id.
    pub fn write_in_own_chat(&mut self, request: OwnChat) -> Result<String> {
        let own = format!("{}@s.whatsapp.net", self.saved.phone.number);
        let mut message = wa::Message::default();
        let kind = match (request.text, request.reaction) {
            (Some(text), None) => {
                message.conversation = Some(text);
                "text"
            }
            (None, Some(reaction)) => {
                message.reaction_message = MessageField::some(wa::message::ReactionMessage {
                    key: MessageField::some(wa::MessageKey {
                        remote_jid: Some(own.clone()),
                        from_me: Some(true),
                        id: Some(reaction.id),
                        participant: None,
                    }),
                    text: Some(reaction.emoji),
                    sender_timestamp_ms: Some(now() * 1000),
                    ..Default::default()
                });
                "reaction"
            }
            _ => bail!("give text or reaction (one of them)"),
        };
        let padded = wacore::messages::MessageUtils::encode_and_pad(&message);
        let enc = self.pairwise(Who::Phone, &padded)?;
        let id = message_id();
        let stanza = NodeBuilder::new("message")
            .attr("from", own)
            .attr("id", id.clone())
            .attr("t", now().to_string())
            .attr("type", kind)
            .children([enc])
            .build();
        self.push(stanza)?;
        Ok(id)
    }
}
