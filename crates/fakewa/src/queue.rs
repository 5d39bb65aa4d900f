//! What waits for the client: every stanza fakewa pushes (messages, receipts, notifications)
//! sits in the offline queue until the client acknowledges it, so a client that dies before
//! its ack gets it again at the next login, as WhatsApp redelivers. At login the queue is sent
//! in order, then `<ib><offline count=N/>` ends the offline phase.

use anyhow::Result;
use serde_json::json;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::Node;

use crate::state::Queued;
use crate::wire::{self, attr};
use crate::world::World;

impl World {
    /// Queues `node` for the client and sends it now if it is connected.
    pub fn push(&mut self, node: Node) -> Result<()> {
        let id = attr(&node, "id");
        self.saved.offline.push(Queued { id, node: wire::encode(&node)? });
        if self.is_connected() {
            self.send(node);
        }
        Ok(())
    }

    /// The client became active: everything queued, then the end of the offline phase.
    pub(crate) fn deliver_offline(&mut self) {
        let mut count = 0;
        for queued in &self.saved.offline {
            // Stored with the flag byte the decoder expects.
            match wire::decode(&queued.node) {
                Ok(node) => {
                    self.send(node);
                    count += 1;
                }
                Err(e) => tracing::warn!("a queued stanza does not decode: {e:#}"),
            }
        }
        self.send(
            NodeBuilder::new("ib")
                .children([NodeBuilder::new("offline").attr("count", count.to_string()).build()])
                .build(),
        );
    }

    /// The client's `<ack>` or `<receipt>` for something fakewa pushed.
    pub(crate) fn acknowledged(&mut self, node: Node) -> Result<()> {
        let id = attr(&node, "id");
        if node.tag == "receipt" {
            // Receipts for the client's own messages from fakewa's people are answered with an ack.
            let kind = attr(&node, "type");
            if kind == "retry" {
                self.retry_asked(&id)?;
            }
            self.saved.received.push(json!({
                "kind": "receipt",
                "id": id,
                "to": attr(&node, "to"),
                "type": if kind.is_empty() { "delivered".to_string() } else { kind },
            }));
            self.send(
                NodeBuilder::new("ack")
                    .attr("class", "receipt")
                    .attr("id", id.clone())
                    .attr("from", attr(&node, "to"))
                    .build(),
            );
        } else if attr(&node, "class") == "message" || attr(&node, "class").is_empty() {
            self.saved.received.push(json!({"kind": "ack", "id": id}));
        }
        let before = self.saved.offline.len();
        self.saved.offline.retain(|q| q.id != id);
        if before != self.saved.offline.len() {
            tracing::debug!("the client acknowledged {id}");
        }
        Ok(())
    }

    pub(crate) fn record_presence(&mut self, node: &Node) {
        let kind = match node.tag.as_ref() {
            "presence" => attr(node, "type"),
            _ => wire::children(node).first().map(|c| c.tag.to_string()).unwrap_or_default(),
        };
        self.saved.received.push(json!({
            "kind": node.tag.to_string(),
            "to": attr(node, "to"),
            "type": if kind.is_empty() { "available".to_string() } else { kind },
        }));
    }
}
