//! What the account's owner does on the phone that a linked device must follow: archiving,
//! pinning, muting or reading a chat and deleting a message for themselves (app-state patches,
//! as the phone writes them), reading messages (a `read-self` receipt); and what others do that
//! the server tells every device: a group member renaming a group (a `w:gp2` notification), a
//! contact moving to a new number (a `contacts` notification).

use anyhow::{Result, bail};
use buffa::MessageField;
use serde::Deserialize;
use wacore_binary::builder::NodeBuilder;
use waproto::whatsapp as wa;
use waproto::whatsapp::sync_action_value as actions;

use crate::people::split_jid;
use crate::world::{World, now};

/// `POST /chat-state`: what the owner changed about one chat on the phone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatState {
    /// A person's phone number or a group's jid.
    pub chat: String,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub pinned: Option<bool>,
    /// Muted until this time (ms), `-1` for always, `0` to unmute.
    #[serde(default)]
    pub muted_until_ms: Option<i64>,
    /// The chat marked read (`true`) or unread (`false`).
    #[serde(default)]
    pub read: Option<bool>,
}

/// `POST /delete-for-me`: the owner deleted a message for themselves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteForMe {
    pub chat: String,
    pub id: String,
    #[serde(default)]
    pub from_me: bool,
}

/// `POST /read-on-phone`: the owner read these messages on the phone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadOnPhone {
    pub chat: String,
    pub ids: Vec<String>,
}

/// `POST /groups/{jid}/subject`: a member renames a group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The member's phone number.
    pub by: String,
    pub subject: String,
}

/// `POST /number-changed`: a contact moved to a new number (the server says so; the new number
/// is a contact of its own in fakewa, with its own keys).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberChanged {
    pub old: String,
    pub new: String,
}

impl World {
    /// A chat as a jid: a group's jid as it is, a phone number as a person's jid.
    fn chat_jid(&self, chat: &str) -> String {
        if chat.contains('@') {
            chat.to_string()
        } else {
            format!("{}@s.whatsapp.net", chat.chars().filter(char::is_ascii_digit).collect::<String>())
        }
    }

    /// The phone's patches for a chat's archive, pin, mute and read state, each in the collection
    /// and with the action version the client's schema names.
    pub fn change_chat_state(&mut self, change: ChatState) -> Result<String> {
        let jid = self.chat_jid(&change.chat);
        let value = |fill: &dyn Fn(&mut wa::SyncActionValue)| {
            let mut value = wa::SyncActionValue { timestamp: Some(now() * 1000), ..Default::default() };
            fill(&mut value);
            value
        };
        let mut made = false;
        if let Some(archived) = change.archived {
            let action = value(&|v| {
                v.archive_chat_action =
                    MessageField::some(actions::ArchiveChatAction { archived: Some(archived), ..Default::default() })
            });
            self.patch_of("regular_low", &["archive", &jid], action, 3)?;
            made = true;
        }
        if let Some(pinned) = change.pinned {
            let action = value(&|v| v.pin_action = MessageField::some(actions::PinAction { pinned: Some(pinned) }));
            self.patch_of("regular_low", &["pin_v1", &jid], action, 5)?;
            made = true;
        }
        if let Some(until) = change.muted_until_ms {
            let action = value(&|v| {
                v.mute_action = MessageField::some(actions::MuteAction {
                    muted: Some(until != 0),
                    mute_end_timestamp: (until != 0).then_some(until),
                    ..Default::default()
                })
            });
            self.patch_of("regular_high", &["mute", &jid], action, 2)?;
            made = true;
        }
        if let Some(read) = change.read {
            let action = value(&|v| {
                v.mark_chat_as_read_action =
                    MessageField::some(actions::MarkChatAsReadAction { read: Some(read), ..Default::default() })
            });
            self.patch_of("regular_low", &["markChatAsRead", &jid], action, 3)?;
            made = true;
        }
        if !made {
            bail!("say what changed: archived, pinned, muted_until_ms (-1 always, 0 unmute) or read");
        }
        Ok(jid)
    }

    /// The phone's `deleteMessageForMe` patch.
    pub fn delete_for_me(&mut self, delete: DeleteForMe) -> Result<()> {
        let jid = self.chat_jid(&delete.chat);
        let value = wa::SyncActionValue {
            timestamp: Some(now() * 1000),
            delete_message_for_me_action: MessageField::some(actions::DeleteMessageForMeAction {
                delete_media: Some(true),
                message_timestamp: Some(now()),
            }),
            ..Default::default()
        };
        let from_me = if delete.from_me { "1" } else { "0" };
        self.patch_of("regular_high", &["deleteMessageForMe", &jid, &delete.id, from_me, "0"], value, 3)
    }

    /// The `read-self` receipt the server sends the account's other devices when the phone reads:
    /// from the account, naming the chat as `recipient` (a group as `from`, the account as
    /// `participant`).
    pub fn read_on_phone(&mut self, read: ReadOnPhone) -> Result<()> {
        let Some((first, rest)) = read.ids.split_first() else { bail!("name the ids read: {{\"ids\": [\"…\"]}}") };
        let chat = self.chat_jid(&read.chat);
        let own = format!("{}@s.whatsapp.net", self.saved.phone.number);
        let mut receipt = NodeBuilder::new("receipt").attr("id", first.clone()).attr("t", now().to_string());
        receipt = if chat.ends_with("@g.us") {
            receipt.attr("from", chat).attr("participant", own)
        } else {
            receipt.attr("from", own).attr("recipient", chat)
        };
        receipt = receipt.attr("type", "read-self");
        if !rest.is_empty() {
            let items = rest.iter().map(|id| NodeBuilder::new("item").attr("id", id.clone()).build());
            receipt = receipt.children([NodeBuilder::new("list").children(items).build()]);
        }
        self.push(receipt.build())
    }

    /// A member renames a group: the subject changes and every member gets a `w:gp2` notice.
    pub fn rename_group(&mut self, group: &str, rename: Rename) -> Result<()> {
        let (id, _) = split_jid(group);
        let member = self.contact(&rename.by)?;
        let by = self.saved.contacts[member].phone.clone();
        let Some(stored) = self.saved.groups.iter_mut().find(|g| g.id == id) else {
            bail!("there is no group {group}: make one with POST /groups")
        };
        stored.subject = rename.subject.clone();
        let notice_id = self.new_id();
        let by = format!("{by}@s.whatsapp.net");
        self.push(
            NodeBuilder::new("notification")
                .attr("from", format!("{id}@g.us"))
                .attr("type", "w:gp2")
                .attr("id", notice_id)
                .attr("participant", by.clone())
                .attr("t", now().to_string())
                .children([NodeBuilder::new("subject")
                    .attr("subject", rename.subject)
                    .attr("s_o", by)
                    .attr("s_t", now().to_string())
                    .build()])
                .build(),
        )
    }

    /// The server tells the account that a contact changed number: `<modify old new old_lid
    /// new_lid>`; the person keeps their LID.
    pub fn number_changed(&mut self, change: NumberChanged) -> Result<()> {
        let old = self.contact(&change.old)?;
        let (old_phone, lid) = (self.saved.contacts[old].phone.clone(), self.saved.contacts[old].lid.clone());
        let new = self.contact(&change.new)?;
        let new_phone = self.saved.contacts[new].phone.clone();
        let id = self.new_id();
        self.push(
            NodeBuilder::new("notification")
                .attr("from", "s.whatsapp.net")
                .attr("type", "contacts")
                .attr("id", id)
                .attr("t", now().to_string())
                .children([NodeBuilder::new("modify")
                    .attr("old", format!("{old_phone}@s.whatsapp.net"))
                    .attr("new", format!("{new_phone}@s.whatsapp.net"))
                    .attr("old_lid", format!("{lid}@lid"))
                    .attr("new_lid", format!("{lid}@lid"))
                    .build()])
                .build(),
        )
    }
}
