//! Turning a search text into a full-text query.
//!
//! The words of the text become one FTS5 phrase whose last word is a prefix, so `sao paul` finds
//! "São Paulo" and "meet" finds "meeting" — close to the substring search users know from
//! lharries/whatsapp-mcp, but answered by the index. A text with no word characters at all (an
//! emoji, punctuation) falls back to a substring scan.

/// How to match a search text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextMatch {
    /// An FTS5 MATCH expression.
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
    // Words are alphanumeric only, so the quoted phrase needs no escaping.
    Some(TextMatch::FullText(format!("\"{}\" *", words.join(" "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_a_prefix_phrase_and_syntax_is_inert() {
        assert_eq!(text_match("São Paulo"), Some(TextMatch::FullText("\"São Paulo\" *".into())));
        assert_eq!(text_match("a\" OR b*"), Some(TextMatch::FullText("\"a OR b\" *".into())));
        assert_eq!(text_match("  "), None);
        assert_eq!(text_match("🎉"), Some(TextMatch::Substring("%🎉%".into())));
        assert_eq!(text_match("100%"), Some(TextMatch::FullText("\"100\" *".into())));
    }
}
