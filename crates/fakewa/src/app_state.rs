//! App state (`w:sync:app:state`): the phone shares the sync key with a newly linked device
//! (a peer message with `appStateSyncKeyShare`, as phones do right after linking, so the client
//! does not wait for it), and answers the client's collection syncs. Collections fakewa has no
//! patches for are answered as they are: empty, at version 0.

use anyhow::Result;
use buffa::MessageField;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::Node;
use waproto::whatsapp as wa;

use crate::messaging::message_id;
use crate::people::Who;
use crate::wire::{self, attr, child, children};
use crate::world::{World, now};

impl World {
    pub(crate) fn app_state(&mut self, node: &Node) -> Result<Node> {
        let collections: Vec<Node> = child(node, "sync")
            .map(children)
            .unwrap_or(&[])
            .iter()
            .filter(|c| c.tag == "collection")
            .map(|c| NodeBuilder::new("collection").attr("name", attr(c, "name")).attr("version", "0").build())
            .collect();
        Ok(wire::iq_result(node, vec![NodeBuilder::new("sync").children(collections).build()]))
    }

    /// The phone sends the device the app-state sync key (made on first use).
    pub(crate) fn share_app_state_key(&mut self) -> Result<()> {
        let Some(device) = self.saved.device.as_mut() else { return Ok(()) };
        if device.app_state_key.is_empty() {
            device.app_state_key = rand::random::<[u8; 32]>().to_vec();
            device.app_state_key_id = rand::random::<[u8; 6]>().to_vec();
        }
        let key = wa::message::AppStateSyncKey {
            key_id: MessageField::some(wa::message::AppStateSyncKeyId { key_id: Some(device.app_state_key_id.clone()) }),
            key_data: MessageField::some(wa::message::AppStateSyncKeyData {
                key_data: Some(device.app_state_key.clone()),
                fingerprint: MessageField::some(wa::message::AppStateSyncKeyFingerprint {
                    raw_id: Some(1),
                    current_index: Some(0),
                    device_indexes: vec![0, u32::from(device.id)],
                }),
                timestamp: Some(now() * 1000),
            }),
        };
        let message = wa::Message {
            protocol_message: MessageField::some(wa::message::ProtocolMessage {
                r#type: Some(wa::message::protocol_message::Type::APP_STATE_SYNC_KEY_SHARE),
                app_state_sync_key_share: MessageField::some(wa::message::AppStateSyncKeyShare { keys: vec![key] }),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.from_phone(&message)
    }

    /// A peer message from the account's phone to the device.
    pub(crate) fn from_phone(&mut self, message: &wa::Message) -> Result<()> {
        let padded = wacore::messages::MessageUtils::encode_and_pad(message);
        let enc = self.pairwise(Who::Phone, &padded)?;
        let stanza = NodeBuilder::new("message")
            .attr("from", format!("{}@s.whatsapp.net", self.saved.phone.number))
            .attr("id", message_id())
            .attr("t", now().to_string())
            .attr("type", "text")
            .attr("category", "peer")
            .children([enc])
            .build();
        self.push(stanza)
    }
}
