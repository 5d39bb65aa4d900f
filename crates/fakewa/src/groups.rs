//! Groups (`w:g2`): fakewa makes a group of the account and some contacts, and answers the
//! client's metadata queries with it (the client asks before it sends to a group, and wamcp
//! asks for `group_info`).

use anyhow::{Result, bail};
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::Node;

use crate::people::split_jid;
use crate::state::SavedGroup;
use crate::wire::{self, attr, child, children};
use crate::world::{World, now};

impl World {
    /// Makes a group of the account (an admin of it, or not) and `participants` (phone
    /// numbers); returns its jid.
    pub fn create_group(&mut self, subject: &str, participants: &[String], account_is_admin: bool) -> Result<String> {
        if participants.is_empty() {
            bail!("a group needs at least one participant besides the account");
        }
        let mut numbers = Vec::new();
        for phone in participants {
            let index = self.contact(phone)?;
            numbers.push(self.saved.contacts[index].phone.clone());
        }
        let id = format!("120363{:012}", rand::random::<u64>() % 1_000_000_000_000);
        self.saved.groups.push(SavedGroup {
            id: id.clone(),
            subject: subject.to_string(),
            participants: numbers,
            created: now(),
            account_is_admin,
        });
        Ok(format!("{id}@g.us"))
    }

    fn group_node(&self, group: &SavedGroup) -> Node {
        let creator = format!("{}@s.whatsapp.net", group.participants[0]);
        let own = format!("{}@s.whatsapp.net", self.saved.phone.number);
        let mut account = NodeBuilder::new("participant").attr("jid", own);
        if group.account_is_admin {
            account = account.attr("type", "admin");
        }
        let mut participants = vec![account.build()];
        for (i, member) in group.participants.iter().enumerate() {
            let mut node = NodeBuilder::new("participant").attr("jid", format!("{member}@s.whatsapp.net"));
            if i == 0 {
                node = node.attr("type", "superadmin");
            }
            participants.push(node.build());
        }
        NodeBuilder::new("group")
            .attr("id", group.id.clone())
            .attr("subject", group.subject.clone())
            .attr("creation", group.created.to_string())
            .attr("creator", creator.clone())
            .attr("s_t", group.created.to_string())
            .attr("s_o", creator)
            .attr("size", (group.participants.len() + 1).to_string())
            .attr("addressing_mode", "pn")
            .children(participants)
            .build()
    }

    /// `<iq xmlns="w:g2">`: one group's metadata, or every group the account is in.
    pub(crate) fn groups_iq(&mut self, node: &Node) -> Node {
        if child(node, "participating").is_some() {
            let groups: Vec<Node> = self.saved.groups.iter().map(|g| self.group_node(g)).collect();
            return wire::iq_result(node, vec![NodeBuilder::new("groups").children(groups).build()]);
        }
        let (id, _) = split_jid(&attr(node, "to"));
        match self.saved.groups.iter().find(|g| g.id == id) {
            Some(group) if children(node).first().is_some_and(|c| c.tag == "query") => {
                wire::iq_result(node, vec![self.group_node(group)])
            }
            Some(_) => wire::iq_error(node, 501, "feature-not-implemented"),
            None => wire::iq_error(node, 404, "item-not-found"),
        }
    }
}
