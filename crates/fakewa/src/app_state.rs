//! App state (`w:sync:app:state`), the server's and the phone's side. The phone shares the
//! sync key with a newly linked device (a peer message with `appStateSyncKeyShare`, as phones do
//! right after linking, so the client does not wait for it). Address-book changes
//! (`POST /contacts`) become patches of the `critical_unblock_low` collection, encrypted and
//! MACed with wacore-appstate's own encoder and LTHash exactly as the client checks them, and
//! a `server_sync` notification tells the client to fetch them. A collection without patches is
//! answered as it is: empty.

use anyhow::{Context, Result, bail};
use buffa::{Message as _, MessageField};
use serde::Deserialize;
use wacore_appstate::hash::generate_patch_mac;
use wacore_appstate::keys::expand_app_state_keys;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::Node;
use waproto::whatsapp as wa;

use crate::messaging::message_id;
use crate::people::Who;
use crate::state::HexPatch;
use crate::wire::{self, attr, child, children};
use crate::world::{World, now};

/// Where contacts live.
const CONTACTS: &str = "critical_unblock_low";

/// `POST /contacts`: one address-book entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub phone: String,
    #[serde(default)]
    pub lid: Option<String>,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub push_name: Option<String>,
}

impl World {
    /// `<iq xmlns="w:sync:app:state">`: the patches after the version each collection names.
    pub(crate) fn app_state(&mut self, node: &Node) -> Result<Node> {
        let mut answers = Vec::new();
        for asked in child(node, "sync").map(children).unwrap_or(&[]).iter().filter(|c| c.tag == "collection") {
            let name = attr(asked, "name");
            let from: u64 = attr(asked, "version").parse().unwrap_or(0);
            let collection = self.saved.collections.get(&name);
            let latest = collection.map_or(0, |c| c.patches.len() as u64);
            let mut answer =
                NodeBuilder::new("collection").attr("name", name.clone()).attr("version", latest.max(from).to_string());
            if let Some(collection) = collection
                && latest > from
            {
                answer = answer.attr("has_more_patches", "false").children([NodeBuilder::new("patches")
                    .children(
                        collection.patches[from as usize..]
                            .iter()
                            .map(|p| NodeBuilder::new("patch").bytes(p.0.clone()).build()),
                    )
                    .build()]);
            }
            answers.push(answer.build());
        }
        Ok(wire::iq_result(node, vec![NodeBuilder::new("sync").children(answers).build()]))
    }

    /// The phone's address book changes: the contacts are made (or updated) and sent to the
    /// client as one app-state patch.
    pub fn add_contacts(&mut self, entries: Vec<NewContact>) -> Result<Vec<String>> {
        if entries.is_empty() {
            bail!("send a list of contacts: [{{\"phone\": \"+44…\", \"full_name\": \"…\"}}]");
        }
        let mut records = Vec::new();
        let mut jids = Vec::new();
        for entry in entries {
            let index = self.contact(&entry.phone)?;
            let contact = &mut self.saved.contacts[index];
            if let Some(lid) = entry.lid {
                contact.lid = lid.trim_end_matches("@lid").to_string();
            }
            contact.full_name = entry.full_name.or(contact.full_name.take());
            contact.first_name = entry.first_name.or(contact.first_name.take());
            contact.push_name = entry.push_name.or(contact.push_name.take());
            let jid = format!("{}@s.whatsapp.net", contact.phone);
            let value = wa::SyncActionValue {
                timestamp: Some(now() * 1000),
                contact_action: MessageField::some(wa::sync_action_value::ContactAction {
                    full_name: contact.full_name.clone(),
                    first_name: contact.first_name.clone(),
                    lid_jid: Some(format!("{}@lid", contact.lid)),
                    pn_jid: Some(jid.clone()),
                    save_on_primary_addressbook: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            };
            records.push((serde_json::to_vec(&["contact", jid.as_str()])?, value));
            jids.push(jid);
        }
        self.patch(CONTACTS, records, 2)?;
        Ok(jids)
    }

    /// The account's own name (`setting_pushName` in `critical_block`), as every real account
    /// has: a client that knows it does not wait for the app-state bootstrap at each login.
    pub(crate) fn share_push_name(&mut self) -> Result<()> {
        let value = wa::SyncActionValue {
            timestamp: Some(now() * 1000),
            push_name_setting: MessageField::some(wa::sync_action_value::PushNameSetting {
                name: Some(self.saved.phone.push_name.clone()),
            }),
            ..Default::default()
        };
        self.patch("critical_block", vec![(serde_json::to_vec(&["setting_pushName"])?, value)], 1)
    }

    /// One SET patch of `name` under an index written as the client reads it (a JSON array).
    pub(crate) fn patch_of(
        &mut self,
        name: &str,
        index: &[&str],
        value: wa::SyncActionValue,
        action_version: i32,
    ) -> Result<()> {
        self.patch(name, vec![(serde_json::to_vec(index)?, value)], action_version)
    }

    /// Appends a patch of SETs to `name` and tells the client.
    fn patch(&mut self, name: &str, records: Vec<(Vec<u8>, wa::SyncActionValue)>, action_version: i32) -> Result<()> {
        self.saved.device.as_ref().context("no device is linked: the phone has no one to sync with")?;
        let account = &self.saved.phone;
        if account.app_state_key.is_empty() {
            bail!("the device has no app-state key yet: let it log in first");
        }
        let keys = expand_app_state_keys(&account.app_state_key);
        let key_id = account.app_state_key_id.clone();
        let collection = self.saved.collections.entry(name.to_string()).or_default();
        let mut mutations = Vec::new();
        for (index, value) in &records {
            let (mutation, _) = wacore_appstate::encode::encode_record(
                wa::syncd_mutation::SyncdOperation::SET,
                index,
                value,
                &keys,
                &key_id,
                &rand::random::<[u8; 16]>(),
                action_version,
            );
            mutations.push(mutation);
        }
        let values = &collection.values;
        let (_, updated) =
            collection.state.update_hash(&mutations, |index_mac, _| Ok(values.get(&hex::encode(index_mac)).cloned()));
        updated?;
        for mutation in &mutations {
            let record = mutation.record.as_option().context("a record")?;
            let index_mac = record.index.blob.clone().unwrap_or_default();
            let blob = record.value.blob.clone().unwrap_or_default();
            collection.values.insert(hex::encode(index_mac), blob[blob.len() - 32..].to_vec());
        }
        let version = collection.patches.len() as u64 + 1;
        collection.state.version = version;
        let mut patch = wa::SyncdPatch {
            version: MessageField::some(wa::SyncdVersion { version: Some(version) }),
            mutations,
            snapshot_mac: Some(collection.state.generate_snapshot_mac(name, &keys.snapshot_mac)),
            key_id: MessageField::some(wa::KeyId { id: Some(key_id) }),
            ..Default::default()
        };
        patch.patch_mac = Some(generate_patch_mac(&patch, name, &keys.patch_mac, version));
        collection.patches.push(HexPatch(patch.encode_to_vec()));
        let id = self.new_id();
        self.push(
            NodeBuilder::new("notification")
                .attr("from", "s.whatsapp.net")
                .attr("type", "server_sync")
                .attr("id", id)
                .attr("t", now().to_string())
                .children([NodeBuilder::new("collection")
                    .attr("name", name.to_string())
                    .attr("version", version.to_string())
                    .build()])
                .build(),
        )
    }

    /// The phone sends the device the app-state sync key (made on first use).
    pub(crate) fn share_app_state_key(&mut self) -> Result<()> {
        let Some(device) = self.saved.device.as_ref() else { return Ok(()) };
        let device_id = device.id;
        let account = &mut self.saved.phone;
        if account.app_state_key.is_empty() {
            account.app_state_key = rand::random::<[u8; 32]>().to_vec();
            account.app_state_key_id = rand::random::<[u8; 6]>().to_vec();
        }
        let key = wa::message::AppStateSyncKey {
            key_id: MessageField::some(wa::message::AppStateSyncKeyId {
                key_id: Some(account.app_state_key_id.clone()),
            }),
            key_data: MessageField::some(wa::message::AppStateSyncKeyData {
                key_data: Some(account.app_state_key.clone()),
                fingerprint: MessageField::some(wa::message::AppStateSyncKeyFingerprint {
                    raw_id: Some(1),
                    current_index: Some(0),
                    device_indexes: vec![0, u32::from(device_id)],
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
        self.send_from_phone(&message)
    }

    /// A peer message from the account's phone to the device.
    pub(crate) fn send_from_phone(&mut self, message: &wa::Message) -> Result<()> {
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
