//! The library's events that change what the phone shows besides new messages: a chat archived,
//! pinned, muted or read on another device, a message deleted for me, a group renamed or its
//! members changed, a contact's new number, and messages that could not be decrypted yet.

use wamcp_core::{ChatChange, Jid, LinkEvent, Message, MessageKind, Timestamp, Update};
use whatsapp_rust::types::events::{
    ArchiveUpdate, ContactNumberChanged, DecryptFailMode, DeleteMessageForMeUpdate, GroupUpdate, MarkChatAsReadUpdate,
    MuteUpdate, PinUpdate, UndecryptableMessage,
};
use whatsapp_rust::wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};

use super::convert::{Envelope, jid};

/// A chat archived or unarchived on another device.
pub fn archived(update: &ArchiveUpdate) -> Option<LinkEvent> {
    chat(&update.jid, ChatChange::Archived(update.action.archived?))
}

/// A chat pinned or unpinned on another device.
pub fn pinned(update: &PinUpdate) -> Option<LinkEvent> {
    chat(&update.jid, ChatChange::Pinned(update.action.pinned?))
}

/// A chat muted (until a time, or always) or unmuted on another device.
pub fn muted(update: &MuteUpdate) -> Option<LinkEvent> {
    /// What "always" is stored as: the phone's `-1` end.
    const ALWAYS: Timestamp = Timestamp(i64::MAX / 2);
    let until = match (update.action.muted?, update.action.mute_end_timestamp) {
        (false, _) => None,
        (true, Some(end)) if end > 0 => Some(Timestamp(end)),
        (true, _) => Some(ALWAYS),
    };
    chat(&update.jid, ChatChange::Muted(until))
}

/// A whole chat marked read or unread on another device.
pub fn marked_read(update: &MarkChatAsReadUpdate) -> Option<LinkEvent> {
    chat(&update.jid, ChatChange::MarkedRead(update.action.read?))
}

/// A message the account deleted for itself on another device.
pub fn deleted_for_me(update: &DeleteMessageForMeUpdate) -> Option<LinkEvent> {
    let chat = jid(&update.chat_jid)?;
    Some(LinkEvent::Updates(vec![Update::DeletedForMe { chat, id: wamcp_core::MessageId(update.message_id.clone()) }]))
}

/// A contact's new number: the same person under a new JID, and the notice the phone shows in
/// the old chat, so a reader knows where the person went.
pub fn number_changed(change: &ContactNumberChanged) -> Vec<LinkEvent> {
    let (Some(old), Some(new)) = (jid(&change.old_jid), jid(&change.new_jid)) else { return Vec::new() };
    let at = Timestamp(change.timestamp.timestamp_millis());
    let id = format!("number-changed-{}-{}", new.user(), at.millis());
    let text = format!("changed their phone number to {}", new.phone().map_or(new.to_string(), |p| format!("+{p}")));
    let notice =
        Message { kind: MessageKind::System, ..Message::text(old.clone(), &id, Some(old.clone()), false, at, &text) };
    vec![
        LinkEvent::NumberChanged { old, new, new_lid: change.new_lid.as_ref().and_then(jid), at },
        LinkEvent::Updates(vec![Update::Message(notice)]),
    ]
}

/// A message that could not be decrypted: stored as a notice under its own id, which the message
/// replaces when the sender's phone sends it again (the library asks it to). Messages WhatsApp
/// itself hides when they fail (reactions, protocol messages) get none.
pub fn undecryptable(failed: &UndecryptableMessage) -> Option<LinkEvent> {
    if failed.decrypt_fail_mode == DecryptFailMode::Hide {
        return None;
    }
    let envelope = Envelope::of_live(&failed.info)?;
    let text = if failed.is_unavailable {
        format!("this message cannot be shown on a linked device ({:?}); open it on the phone", failed.unavailable_type)
    } else {
        "waiting for this message: it could not be decrypted yet, and the sender's phone was asked to send it \
         again"
            .to_string()
    };
    let notice = Message {
        kind: MessageKind::System,
        ..Message::text(envelope.chat, &envelope.id, envelope.sender, envelope.from_me, envelope.at, &text)
    };
    Some(LinkEvent::Updates(vec![Update::Message(notice)]))
}

/// A change to a group, as the notice the phone shows in the chat, plus its subject when renamed
/// and the members' phone numbers when the group gives them beside their LIDs.
pub fn group(update: &GroupUpdate) -> Vec<LinkEvent> {
    let Some(group) = jid(&update.group_jid) else { return Vec::new() };
    let actor = update.participant_pn.as_ref().or(update.participant.as_ref()).and_then(jid);
    let mut events = Vec::new();
    let members = |participants: &[GroupParticipantInfo]| -> String {
        participants.iter().map(person).collect::<Vec<_>>().join(", ")
    };
    let is_actor = |participants: &[GroupParticipantInfo]| {
        participants.len() == 1 && actor.as_ref() == participant(&participants[0]).as_ref()
    };
    use GroupNotificationAction as A;
    let notice = match &update.action {
        A::Subject { subject, .. } => {
            events.push(LinkEvent::Chat { chat: group.clone(), change: ChatChange::Subject(subject.clone()) });
            format!("changed the group name to \"{subject}\"")
        }
        A::Description { description: Some(text), .. } => format!("changed the group description to \"{text}\""),
        A::Description { description: None, .. } => "deleted the group description".to_string(),
        A::Add { participants, .. } if is_actor(participants) => "joined".to_string(),
        A::Add { participants, .. } => format!("added {}", members(participants)),
        A::Remove { participants, .. } if is_actor(participants) => "left".to_string(),
        A::Remove { participants, .. } => format!("removed {}", members(participants)),
        A::Promote { participants } => format!("made {} admin", members(participants)),
        A::Demote { participants } => format!("dismissed {} as admin", members(participants)),
        A::Announce => "allowed only admins to send messages".to_string(),
        A::NotAnnounce => "allowed all members to send messages".to_string(),
        A::Locked { .. } => "allowed only admins to edit the group info".to_string(),
        A::Unlocked => "allowed all members to edit the group info".to_string(),
        _ => return events,
    };
    if let A::Add { participants, .. }
    | A::Remove { participants, .. }
    | A::Promote { participants }
    | A::Demote { participants } = &update.action
    {
        events.extend(participants.iter().filter_map(lid_mapping));
    }
    let id = match &update.notification_id {
        Some(id) => format!("group-{id}-{}", update.action_index),
        None => format!("group-{}-{}", update.timestamp.timestamp_millis(), update.action_index),
    };
    let at = Timestamp(update.timestamp.timestamp_millis());
    let message = Message { kind: MessageKind::System, ..Message::text(group, &id, actor, false, at, &notice) };
    events.push(LinkEvent::Updates(vec![Update::Message(message)]));
    events
}

fn chat(chat: &whatsapp_rust::Jid, change: ChatChange) -> Option<LinkEvent> {
    Some(LinkEvent::Chat { chat: jid(chat)?, change })
}

/// A member's JID, by phone number when the group gives it.
fn participant(info: &GroupParticipantInfo) -> Option<Jid> {
    info.phone_number.as_ref().or(Some(&info.jid)).and_then(jid)
}

/// A member as the notice names them: their phone number, else their JID.
fn person(info: &GroupParticipantInfo) -> String {
    match participant(info) {
        Some(member) => member.phone().map_or_else(|| member.to_string(), |phone| format!("+{phone}")),
        None => info.jid.to_string(),
    }
}

/// A member's LID and phone number, when the group names both.
fn lid_mapping(info: &GroupParticipantInfo) -> Option<LinkEvent> {
    let lid = [Some(&info.jid), info.lid.as_ref()].into_iter().flatten().find(|j| j.is_lid()).and_then(jid)?;
    let phone = info.phone_number.as_ref().or(Some(&info.jid).filter(|j| !j.is_lid())).and_then(jid)?;
    Some(LinkEvent::LidMapping { lid, phone })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wamcp_core::{ChatChange, Jid, LinkEvent, MessageKind, Timestamp, Update};
    use whatsapp_rust::chrono::{self, TimeZone, Utc};
    use whatsapp_rust::types::events::*;
    use whatsapp_rust::types::message::{MessageInfo, MessageSource};
    use whatsapp_rust::wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};
    use whatsapp_rust::waproto::whatsapp::sync_action_value as actions;

    use super::*;

    const ALICE: &str = "447700900123@s.whatsapp.net";
    const BRUNO: &str = "5511987654321@s.whatsapp.net";
    const GROUP: &str = "120363025246125486@g.us";

    fn wire(text: &str) -> whatsapp_rust::Jid {
        text.parse().unwrap()
    }

    fn when() -> chrono::DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    fn change(event: Option<LinkEvent>) -> ChatChange {
        match event {
            Some(LinkEvent::Chat { chat, change }) => {
                assert_eq!(chat.as_str(), ALICE);
                change
            }
            other => panic!("expected a chat change, got {other:?}"),
        }
    }

    #[test]
    fn archive_pin_mute_and_read_from_the_phone_become_chat_changes() {
        let archive = actions::ArchiveChatAction { archived: Some(true), ..Default::default() };
        let update = ArchiveUpdate::builder().jid(wire(ALICE)).timestamp(when()).action(Box::new(archive));
        assert_eq!(change(archived(&update.from_full_sync(false).build())), ChatChange::Archived(true));

        let pin = actions::PinAction { pinned: Some(false) };
        let update = PinUpdate::builder().jid(wire(ALICE)).timestamp(when()).action(Box::new(pin));
        assert_eq!(change(pinned(&update.from_full_sync(true).build())), ChatChange::Pinned(false));

        let mute = |muted, end| {
            let action = actions::MuteAction { muted: Some(muted), mute_end_timestamp: end, ..Default::default() };
            let update = MuteUpdate::builder().jid(wire(ALICE)).timestamp(when()).action(Box::new(action));
            change(self::muted(&update.from_full_sync(false).build()))
        };
        assert_eq!(mute(true, Some(1_700_003_600_000)), ChatChange::Muted(Some(Timestamp(1_700_003_600_000))));
        assert!(matches!(mute(true, Some(-1)), ChatChange::Muted(Some(t)) if t > Timestamp::now()), "always");
        assert_eq!(mute(false, Some(1_700_003_600_000)), ChatChange::Muted(None));

        let read = actions::MarkChatAsReadAction { read: Some(false), ..Default::default() };
        let update = MarkChatAsReadUpdate::builder().jid(wire(ALICE)).timestamp(when()).action(Box::new(read));
        assert_eq!(change(marked_read(&update.from_full_sync(false).build())), ChatChange::MarkedRead(false));
    }

    #[test]
    fn a_message_deleted_for_me_and_a_new_number() {
        let update = DeleteMessageForMeUpdate::builder()
            .chat_jid(wire(ALICE))
            .message_id("3EB0DEL".to_string())
            .from_me(false)
            .timestamp(when())
            .action(Box::default())
            .from_full_sync(false)
            .build();
        assert_eq!(
            deleted_for_me(&update),
            Some(LinkEvent::Updates(vec![Update::DeletedForMe {
                chat: Jid::parse(ALICE).unwrap(),
                id: wamcp_core::MessageId("3EB0DEL".into())
            }]))
        );

        let change = ContactNumberChanged::builder()
            .old_jid(wire(ALICE))
            .new_jid(wire(BRUNO))
            .new_lid(wire("99887766554433@lid"))
            .timestamp(when())
            .build();
        let events = number_changed(&change);
        assert_eq!(
            events[0],
            LinkEvent::NumberChanged {
                old: Jid::parse(ALICE).unwrap(),
                new: Jid::parse(BRUNO).unwrap(),
                new_lid: Some(Jid::parse("99887766554433@lid").unwrap()),
                at: Timestamp(1_700_000_000_000),
            }
        );
        let Some(LinkEvent::Updates(updates)) = events.get(1) else { panic!("a notice: {events:?}") };
        let [Update::Message(notice)] = updates.as_slice() else { panic!("one message") };
        assert_eq!(notice.chat.as_str(), ALICE);
        assert_eq!(notice.text.as_deref(), Some("changed their phone number to +5511987654321"));
    }

    fn failed(mode: DecryptFailMode, unavailable: bool) -> UndecryptableMessage {
        let info = MessageInfo {
            source: MessageSource { chat: wire(ALICE), sender: wire(ALICE), ..Default::default() },
            id: "3EB0LOST".into(),
            timestamp: when(),
            ..Default::default()
        };
        UndecryptableMessage::builder()
            .info(Arc::new(info))
            .is_unavailable(unavailable)
            .unavailable_type(UnavailableType::ViewOnce)
            .decrypt_fail_mode(mode)
            .build()
    }

    #[test]
    fn an_undecryptable_message_stands_in_under_its_own_id_unless_whatsapp_hides_it() {
        let Some(LinkEvent::Updates(updates)) = undecryptable(&failed(DecryptFailMode::Show, false)) else {
            panic!("a stand-in")
        };
        let [Update::Message(notice)] = updates.as_slice() else { panic!("one message: {updates:?}") };
        assert_eq!((notice.id.as_str(), notice.kind), ("3EB0LOST", MessageKind::System));
        assert!(notice.text.as_deref().unwrap().starts_with("waiting for this message"));
        assert_eq!(notice.sender.as_ref().map(Jid::as_str), Some(ALICE));

        let Some(LinkEvent::Updates(updates)) = undecryptable(&failed(DecryptFailMode::Show, true)) else {
            panic!("a notice")
        };
        let [Update::Message(notice)] = updates.as_slice() else { panic!("one message") };
        assert!(notice.text.as_deref().unwrap().contains("open it on the phone"), "{:?}", notice.text);

        assert_eq!(undecryptable(&failed(DecryptFailMode::Hide, false)), None);
    }

    fn member(jid: &str, phone: Option<&str>) -> GroupParticipantInfo {
        GroupParticipantInfo {
            jid: wire(jid),
            phone_number: phone.map(wire),
            display_name: None,
            r#type: None,
            lid: None,
            username: None,
            join_time: None,
            group_history_sent_state: None,
        }
    }

    fn group_update(actor: &str, action: GroupNotificationAction) -> Vec<LinkEvent> {
        let update = GroupUpdate::builder()
            .group_jid(wire(GROUP))
            .notification_id("N1".to_string())
            .participant(wire(actor))
            .timestamp(when())
            .is_lid_addressing_mode(false)
            .action(action)
            .build();
        group(&update)
    }

    fn notice(events: &[LinkEvent]) -> (String, Option<String>) {
        let Some(LinkEvent::Updates(updates)) = events.last() else { panic!("a notice last: {events:?}") };
        let [Update::Message(message)] = updates.as_slice() else { panic!("one message") };
        assert_eq!(
            (message.chat.as_str(), message.kind, message.id.as_str()),
            (GROUP, MessageKind::System, "group-N1-0")
        );
        (message.text.clone().unwrap(), message.sender.as_ref().map(|s| s.to_string()))
    }

    #[test]
    fn group_changes_are_notices_in_the_group_and_a_rename_names_it() {
        let renamed = group_update(
            ALICE,
            GroupNotificationAction::Subject {
                subject: "Climbing 🧗".into(), subject_owner: None, subject_time: None
            },
        );
        assert_eq!(
            renamed[0],
            LinkEvent::Chat { chat: Jid::parse(GROUP).unwrap(), change: ChatChange::Subject("Climbing 🧗".into()) }
        );
        assert_eq!(notice(&renamed), ("changed the group name to \"Climbing 🧗\"".into(), Some(ALICE.into())));

        let added = group_update(
            ALICE,
            GroupNotificationAction::Add {
                participants: vec![member("184467440737095@lid", Some(BRUNO))],
                reason: None,
            },
        );
        assert!(added.contains(&LinkEvent::LidMapping {
            lid: Jid::parse("184467440737095@lid").unwrap(),
            phone: Jid::parse(BRUNO).unwrap()
        }));
        assert_eq!(notice(&added).0, "added +5511987654321");

        let left = group_update(
            BRUNO,
            GroupNotificationAction::Remove { participants: vec![member(BRUNO, None)], reason: None },
        );
        assert_eq!(notice(&left), ("left".into(), Some(BRUNO.into())));
        let joined =
            group_update(BRUNO, GroupNotificationAction::Add { participants: vec![member(BRUNO, None)], reason: None });
        assert_eq!(notice(&joined).0, "joined");
        let promoted =
            group_update(ALICE, GroupNotificationAction::Promote { participants: vec![member(BRUNO, None)] });
        assert_eq!(notice(&promoted).0, "made +5511987654321 admin");
        let described = group_update(
            ALICE,
            GroupNotificationAction::Description { id: "D1".into(), description: Some("Weekends".into()) },
        );
        assert_eq!(notice(&described).0, "changed the group description to \"Weekends\"");
        assert!(
            group_update(ALICE, GroupNotificationAction::MembershipApprovalMode { enabled: true }).is_empty(),
            "changes the phone does not show as notices give nothing"
        );
    }
}
