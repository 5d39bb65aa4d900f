//! Chats as lines: `Name (jid) time [flags]`, and under it the newest message. In a list the
//! newest message is a preview (its start, without its id); one chat shows it whole.

use std::fmt::Write;

use super::transcript::{body, sender};
use super::{Fence, chat_label, cut, one_line};
use crate::MessageKind;
use crate::view::{ChatView, MessageView};

/// How much of a chat's newest message a list shows.
const PREVIEW_CHARS: usize = 100;

/// A list of chats, fenced (names and messages are others' words).
pub fn chats(list: &[ChatView]) -> String {
    if list.is_empty() {
        return "No chats found.".to_string();
    }
    let lines: Vec<String> = list
        .iter()
        .map(|chat| {
            let mut line = heading(chat);
            if let Some(last) = &chat.last_message {
                let _ = write!(line, "\n  {}", preview(last));
            }
            line
        })
        .collect();
    Fence::random().block(&lines.join("\n"))
}

/// One chat, its newest message in full with its id.
pub fn chat(chat: &ChatView) -> String {
    let mut line = heading(chat);
    if let Some(last) = &chat.last_message {
        let _ = write!(line, "\n  {}", body(last));
    }
    Fence::random().block(&line)
}

/// `Name (jid)`, when it was last active, and its state.
fn heading(chat: &ChatView) -> String {
    let mut line = chat_label(chat.name.as_deref(), &chat.jid);
    match chat.last_message_time {
        Some(time) => {
            let time = time.to_rfc3339();
            let _ = write!(line, " {} {}", &time[..10], &time[11..16]);
        }
        None => line.push_str(" no messages"),
    }
    for (flag, word) in [(chat.pinned, "pinned"), (chat.archived, "archived"), (chat.muted, "muted")] {
        if flag {
            let _ = write!(line, " [{word}]");
        }
    }
    if chat.unread_count > 0 {
        let _ = write!(line, " [{} unread]", chat.unread_count);
    }
    line
}

/// The start of a message: who, what kind, and its first words.
fn preview(message: &MessageView) -> String {
    let mut line = sender(message);
    if message.kind != MessageKind::Text {
        let _ = write!(line, " [{}]", message.kind.as_str());
    }
    if let Some(status) = message.status {
        let _ = write!(line, " [{}]", status.as_str());
    }
    if message.revoked {
        line.push_str(" [deleted by sender]");
    }
    let text = message.text.as_deref().or(message.caption.as_deref()).unwrap_or_default();
    if !text.is_empty() {
        let _ = write!(line, ": {}", cut(&one_line(text), PREVIEW_CHARS));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::transcript::tests::message;
    use crate::{ChatKind, Timestamp};

    fn alice(last: Option<&str>) -> ChatView {
        ChatView {
            jid: "447700900123@s.whatsapp.net".into(),
            name: Some("Alice Smith".into()),
            kind: ChatKind::Direct,
            is_group: false,
            last_message_time: Some(Timestamp(1_740_830_400_000)),
            unread_count: 2,
            archived: false,
            pinned: true,
            muted: false,
            last_message: last.map(|text| {
                let mut newest = message("3EB0AA", 0, text);
                newest.sender_name = Some("Alice Smith".into());
                newest
            }),
        }
    }

    #[test]
    fn a_list_shows_each_chat_and_the_start_of_its_newest_message() {
        let long = "word ".repeat(40);
        let out = chats(&[alice(Some(&long))]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[2], "Alice Smith (447700900123@s.whatsapp.net) 2025-03-01 12:00 [pinned] [2 unread]");
        assert!(lines[3].starts_with("  Alice Smith: word word"), "{out}");
        assert!(lines[3].ends_with('…') && lines[3].chars().count() < 120, "cut to a preview: {out}");
    }

    #[test]
    fn one_chat_shows_its_newest_message_whole_with_its_id() {
        let long = "word ".repeat(40);
        let out = chat(&alice(Some(long.trim())));
        assert!(out.contains(&format!("  Alice Smith #3EB0AA: {}", long.trim())), "{out}");
    }

    #[test]
    fn nothing_to_show_says_so() {
        assert_eq!(chats(&[]), "No chats found.");
    }
}
