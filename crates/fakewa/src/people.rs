//! Who fakewa plays besides the server: the account's phone (device 0 of the account) and the
//! contacts, each a Signal [`Peer`] with a phone number and a LID. Here too are the server's
//! answers about people: device lists and LIDs (usync) and prekey bundles.

use anyhow::Result;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::Node;

use crate::iq::id_bytes;
use crate::signal::{Bundle, Peer};
use crate::state::SavedContact;
use crate::wire::{self, attr, child, children};
use crate::world::World;

/// Someone a jid names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The account's own phone.
    Phone,
    /// A contact, by index.
    Contact(usize),
}

/// A jid's user part and server (`447…@s.whatsapp.net` → ("447…", "s.whatsapp.net")); the
/// device suffix is dropped.
pub fn split_jid(jid: &str) -> (String, String) {
    let (user, server) = jid.split_once('@').unwrap_or((jid, "s.whatsapp.net"));
    let user = user.split(':').next().unwrap_or(user);
    let user = user.split('_').next().unwrap_or(user);
    (user.to_string(), server.to_string())
}

/// The device number in `user:device@server` (0 when absent).
pub fn jid_device(jid: &str) -> u16 {
    jid.split('@').next().and_then(|u| u.split_once(':')).and_then(|(_, d)| d.parse().ok()).unwrap_or(0)
}

impl World {
    pub fn who(&self, jid: &str) -> Option<Who> {
        let (user, server) = split_jid(jid);
        let phone = &self.saved.phone;
        if (server == "lid" && user == phone.lid) || (server != "lid" && user == phone.number) {
            return Some(Who::Phone);
        }
        self.saved
            .contacts
            .iter()
            .position(|c| if server == "lid" { c.lid == user } else { c.phone == user })
            .map(Who::Contact)
    }

    pub fn peer_mut(&mut self, who: Who) -> &mut Peer {
        match who {
            Who::Phone => &mut self.phone,
            Who::Contact(i) => &mut self.contacts[i],
        }
    }

    /// The contact with this phone number, added (with new keys) when new.
    pub fn contact(&mut self, phone: &str) -> Result<usize> {
        let phone: String = phone.chars().filter(char::is_ascii_digit).collect();
        if let Some(i) = self.saved.contacts.iter().position(|c| c.phone == phone) {
            return Ok(i);
        }
        let peer = Peer::generate()?;
        let lid = format!("2{:0>13}", &phone[phone.len().saturating_sub(10)..]);
        self.saved.contacts.push(SavedContact {
            phone,
            lid,
            full_name: None,
            first_name: None,
            push_name: None,
            peer: peer.save()?,
            told_sender_key: Vec::new(),
        });
        self.contacts.push(peer);
        Ok(self.contacts.len() - 1)
    }

    /// `<iq xmlns="usync">`: device lists (device 0 only: fakewa's people have one phone each;
    /// the linked client is left out, so it never fans out to itself), LIDs and registration.
    pub(crate) fn usync(&mut self, node: &Node) -> Node {
        let Some(usync) = child(node, "usync") else { return wire::iq_error(node, 400, "bad-request") };
        let query: Vec<String> =
            child(usync, "query").map(|q| children(q).iter().map(|c| c.tag.to_string()).collect()).unwrap_or_default();
        let mut users = Vec::new();
        for user in child(usync, "list").map(children).unwrap_or(&[]) {
            let jid = match attr(user, "jid") {
                jid if !jid.is_empty() => jid,
                _ => {
                    // `<user><contact>+447…</contact></user>`
                    let number: String = child(user, "contact")
                        .map(|c| {
                            String::from_utf8_lossy(&wire::bytes(c)).chars().filter(char::is_ascii_digit).collect()
                        })
                        .unwrap_or_default();
                    format!("{number}@s.whatsapp.net")
                }
            };
            let (number, server) = split_jid(&jid);
            let who = self.who(&jid);
            let mut parts = Vec::new();
            for protocol in &query {
                match protocol.as_str() {
                    "devices" if who.is_some() => parts.push(
                        NodeBuilder::new("devices")
                            .children([NodeBuilder::new("device-list")
                                .children([NodeBuilder::new("device").attr("id", "0").build()])
                                .build()])
                            .build(),
                    ),
                    "contact" => parts.push(
                        NodeBuilder::new("contact")
                            .attr("type", if who.is_some() { "in" } else { "out" })
                            .bytes(format!("+{number}").into_bytes())
                            .build(),
                    ),
                    "lid" => {
                        let lid = who.filter(|_| server != "lid").map(|w| self.lid_of(w));
                        let mut lid_node = NodeBuilder::new("lid");
                        if let Some(lid) = lid {
                            lid_node = lid_node.attr("val", format!("{lid}@lid"));
                        }
                        parts.push(lid_node.build());
                    }
                    _ => {}
                }
            }
            let jid = if server == "lid" { format!("{number}@lid") } else { format!("{number}@s.whatsapp.net") };
            users.push(NodeBuilder::new("user").attr("jid", jid).children(parts).build());
        }
        wire::iq_result(
            node,
            vec![
                NodeBuilder::new("usync")
                    .attr("sid", attr(usync, "sid"))
                    .attr("mode", "query")
                    .attr("last", "true")
                    .attr("index", "0")
                    .children([NodeBuilder::new("list").children(users).build()])
                    .build(),
            ],
        )
    }

    pub fn lid_of(&self, who: Who) -> String {
        match who {
            Who::Phone => self.saved.phone.lid.clone(),
            Who::Contact(i) => self.saved.contacts[i].lid.clone(),
        }
    }

    pub fn phone_of(&self, who: Who) -> String {
        match who {
            Who::Phone => self.saved.phone.number.clone(),
            Who::Contact(i) => self.saved.contacts[i].phone.clone(),
        }
    }

    /// `<iq xmlns="encrypt" type="get"><key>`: a prekey bundle for each device asked for.
    pub(crate) fn bundles(&mut self, node: &Node) -> Result<Node> {
        let mut users = Vec::new();
        for user in child(node, "key").map(children).unwrap_or(&[]) {
            let jid = attr(user, "jid");
            let bundle = match self.who(&jid) {
                Some(who) if jid_device(&jid) == 0 => Some(self.peer_mut(who).bundle()?),
                _ => None,
            };
            users.push(match bundle {
                Some(bundle) => bundle_node(&jid, &bundle),
                None => NodeBuilder::new("user")
                    .attr("jid", jid)
                    .children([NodeBuilder::new("error").attr("code", "406").attr("text", "not-acceptable").build()])
                    .build(),
            });
        }
        Ok(wire::iq_result(node, vec![NodeBuilder::new("list").children(users).build()]))
    }
}

fn bundle_node(jid: &str, bundle: &Bundle) -> Node {
    let mut parts = vec![
        NodeBuilder::new("registration").bytes(bundle.registration_id.to_be_bytes().to_vec()).build(),
        NodeBuilder::new("type").bytes(vec![5]).build(),
        NodeBuilder::new("identity").bytes(bundle.identity.clone()).build(),
        NodeBuilder::new("skey")
            .children([
                NodeBuilder::new("id").bytes(id_bytes(bundle.signed_id)).build(),
                NodeBuilder::new("value").bytes(bundle.signed_public.clone()).build(),
                NodeBuilder::new("signature").bytes(bundle.signed_signature.clone()).build(),
            ])
            .build(),
    ];
    if let Some((id, public)) = &bundle.one_time {
        parts.push(
            NodeBuilder::new("key")
                .children([
                    NodeBuilder::new("id").bytes(id_bytes(*id)).build(),
                    NodeBuilder::new("value").bytes(public.clone()).build(),
                ])
                .build(),
        );
    }
    NodeBuilder::new("user").attr("jid", jid.to_string()).children(parts).build()
}
