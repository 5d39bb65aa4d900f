//! The server's answers to the client's `<iq>` requests: login chores (active, props, privacy,
//! blocklist, digest), prekeys (upload, count, fetch), device lists and LIDs (usync), app state,
//! keepalive pings. Whatever fakewa does not know gets an empty result and a log line, as every
//! background caller in the client only logs an error.

use anyhow::Result;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::Node;

use crate::signal::ClientKeys;
use crate::wire::{self, attr, bytes, child, children};
use crate::world::World;

impl World {
    pub(crate) fn iq(&mut self, node: Node) -> Result<()> {
        let xmlns = attr(&node, "xmlns");
        let kind = attr(&node, "type");
        if kind == "result" || kind == "error" {
            return self.iq_answer(node);
        }
        let first = children(&node).first().map(|c| c.tag.to_string()).unwrap_or_default();
        if xmlns != "w:p" {
            // Keepalive pings would drown the rest.
            self.saved.received.push(serde_json::json!({"kind": "iq", "type": xmlns, "text": first}));
        }
        match (xmlns.as_str(), kind.as_str(), first.as_str()) {
            ("passive", "set", _) => {
                self.send(wire::iq_result(&node, vec![]));
                self.deliver_offline();
            }
            ("md", "set", "link_code_companion_reg") => self.link_code(&node)?,
            ("abt", _, _) => {
                self.send(wire::iq_result(&node, vec![NodeBuilder::new("props").attr("protocol", "1").build()]))
            }
            ("blocklist", _, _) => self.send(wire::iq_result(&node, vec![NodeBuilder::new("list").build()])),
            ("privacy", _, _) => self.send(wire::iq_result(&node, vec![NodeBuilder::new("privacy").build()])),
            ("w:p", _, _) => self.send(wire::iq_result(&node, vec![])),
            ("encrypt", "set", "rotate") => {
                if let (Some(device), Some(skey)) =
                    (self.saved.device.as_mut(), child(&node, "rotate").and_then(|r| child(r, "skey")))
                {
                    read_skey(skey, &mut device.keys);
                }
                self.send(wire::iq_result(&node, vec![]));
            }
            ("encrypt", "set", _) => {
                self.upload(&node);
                self.send(wire::iq_result(&node, vec![]));
                // A newly linked device: the phone shares the app-state key as soon as it can
                // reach the device (it needs the device's prekeys for that).
                if let Some(device) = self.saved.device.as_mut()
                    && !device.logged_in
                {
                    device.logged_in = true;
                    self.share_app_state_key()?;
                    self.share_push_name()?;
                }
            }
            ("encrypt", "get", "count") => {
                let left = self.saved.device.as_ref().map_or(0, |d| d.keys.prekeys.len());
                self.send(wire::iq_result(
                    &node,
                    vec![NodeBuilder::new("count").attr("value", left.to_string()).build()],
                ));
            }
            // The cheapest answer the client only logs.
            ("encrypt", "get", "digest") => self.send(wire::iq_error(&node, 503, "service-unavailable")),
            ("encrypt", "get", "key") => {
                let answer = self.bundles(&node)?;
                self.send(answer);
            }
            ("usync", _, _) => {
                let answer = self.usync(&node);
                self.send(answer);
            }
            ("w:g2", _, _) => {
                let answer = self.groups_iq(&node);
                self.send(answer);
            }
            ("w:m", _, "media_conn") => self.send(wire::iq_result(&node, vec![self.media_conn(&self.media_host)])),
            ("w:sync:app:state", _, _) => {
                let answer = self.app_state(&node)?;
                self.send(answer);
            }
            _ => {
                tracing::info!("an iq fakewa does not know, answered empty: {}", wire::show(&node));
                self.send(wire::iq_result(&node, vec![]));
            }
        }
        Ok(())
    }

    /// `<iq xmlns="encrypt" type="set">` with the device's registration, identity and prekeys.
    fn upload(&mut self, node: &Node) {
        let Some(device) = self.saved.device.as_mut() else { return };
        let keys = &mut device.keys;
        if let Some(registration) = child(node, "registration") {
            let b = bytes(registration);
            if b.len() == 4 {
                keys.registration_id = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        if let Some(identity) = child(node, "identity") {
            keys.identity = bytes(identity);
        }
        if let Some(list) = child(node, "list") {
            for key in children(list) {
                if let (Some(id), Some(value)) = (child(key, "id"), child(key, "value")) {
                    keys.prekeys.insert(be_id(&bytes(id)), bytes(value));
                }
            }
        }
        if let Some(skey) = child(node, "skey") {
            read_skey(skey, keys);
        }
        tracing::info!("the client uploaded {} prekeys", keys.prekeys.len());
    }
}

fn read_skey(skey: &Node, keys: &mut ClientKeys) {
    if let Some(id) = child(skey, "id") {
        keys.signed_id = be_id(&bytes(id));
    }
    if let Some(value) = child(skey, "value") {
        keys.signed_public = bytes(value);
    }
    if let Some(signature) = child(skey, "signature") {
        keys.signed_signature = bytes(signature);
    }
}

/// A 3-byte (or 4-byte) big-endian id.
pub(crate) fn be_id(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |acc, byte| (acc << 8) | u32::from(*byte))
}

/// The 3-byte big-endian form of an id.
pub(crate) fn id_bytes(id: u32) -> Vec<u8> {
    id.to_be_bytes()[1..].to_vec()
}
