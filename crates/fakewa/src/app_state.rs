//! App state (`w:sync:app:state`): the collections the client syncs from the server.
//! For now every collection the client asks for is answered as it is: empty.

use anyhow::Result;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::Node;

use crate::wire::{self, attr, child, children};
use crate::world::World;

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
}
