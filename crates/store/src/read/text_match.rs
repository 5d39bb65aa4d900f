//! Turning a search text into a full-text query.
//!
//! The words of the text become one FTS5 phrase over text and caption, accents and case folded, so
//! `sao paulo` finds "São Paulo". Words match whole words; a text ending in `*` makes the last word
//! a prefix (`meet*` finds "meeting"). Whole words are the default because a prefix makes SQLite
//! merge the doclists of every word that starts with it, which costs tens of milliseconds on a
//! large store, while a whole word is answered from one doclist, newest first, in a fraction of a
//! millisecond. A text with no word characters at all (an emoji, punctuation) falls back to a
//! substring scan.

use wamcp_core::Jid;

/// How to match a search text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextMatch {
    /// An FTS5 MATCH expression over text and caption.
    FullText(String),
    /// A LIKE pattern (escaped, with `%` around) over text and caption.
    Substring(String),
}

/// The match for a search text; `None` when the text is blank (no filter).
pub(crate) fn text_match(query: &str) -> Option<TextMatch> {
    let words: Vec<&str> = query.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        let trimmed = query.trim();
        return (!trimmed.is_empty()).then(|| TextMatch::Substring(format!("%{}%", super::like_escape(trimmed))));
    }
    let prefix = if query.trim_end().ends_with('*') { " *" } else { "" };
    // Words are alphanumeric only, so the quoted phrase needs no escaping.
    Some(TextMatch::FullText(format!("{{text caption}} : \"{}\"{prefix}", words.join(" "))))
}

/// Restricts a full-text expression to messages in one of `chats` and from one of `senders`, using
/// the one-token chat and sender columns of the index.
pub(crate) fn restrict(expression: &str, chats: &[Jid], senders: &[Jid]) -> String {
    let mut out = format!("({expression})");
    for (column, jids) in [("chat", chats), ("sender", senders)] {
        if !jids.is_empty() {
            let any: Vec<String> = jids.iter().map(|jid| format!("{column} : \"{}\"", token(jid))).collect();
            out = format!("{out} AND ({})", any.join(" OR "));
        }
    }
    out
}

/// The index token of a JID: `j` and its letters and digits, as the schema's view derives it.
fn token(jid: &Jid) -> String {
    let mut token = String::from("j");
    token.extend(jid.as_str().chars().filter(|c| !matches!(c, '@' | '.' | '-' | '_')));
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_a_phrase_and_search_syntax_is_inert() {
        assert_eq!(text_match("São Paulo"), Some(TextMatch::FullText("{text caption} : \"São Paulo\"".into())));
        assert_eq!(text_match("a\" OR b"), Some(TextMatch::FullText("{text caption} : \"a OR b\"".into())));
        assert_eq!(text_match("meet*"), Some(TextMatch::FullText("{text caption} : \"meet\" *".into())));
        assert_eq!(text_match("  "), None);
        assert_eq!(text_match("🎉"), Some(TextMatch::Substring("%🎉%".into())));
    }

    #[test]
    fn restrictions_name_chat_and_sender_tokens() {
        let chat = Jid::parse("120363-01@g.us").unwrap();
        let sender = Jid::parse("15551234567@s.whatsapp.net").unwrap();
        assert_eq!(
            restrict("X", std::slice::from_ref(&chat), std::slice::from_ref(&sender)),
            "(X) AND (chat : \"j12036301gus\") AND (sender : \"j15551234567swhatsappnet\")"
        );
    }
}
