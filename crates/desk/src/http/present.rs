//! How the web inbox shows what the database holds, for a person rather than a program: times
//! in words ("2 h ago"), escalation reasons in words ("asked for a refund"), WhatsApp markup as
//! formatting, and long messages cut with an ellipsis. Every function escapes what it is given.

use wamcp_core::html::escape;

use crate::escalation::Reason;

/// An excerpt of at most `chars` characters, cut at a word where it can be, with "…" when cut.
pub fn excerpt(text: &str, chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= chars {
        return flat;
    }
    let cut: String = flat.chars().take(chars).collect();
    let at_word = match cut.rfind(' ') {
        Some(space) if space > cut.len() / 2 => &cut[..space],
        _ => &cut,
    };
    format!("{}…", at_word.trim_end_matches([',', '.', ';', ':', ' ']))
}

/// How long ago `then` was, from `now` (both in milliseconds): "just now", "5 min ago", "2 h ago",
/// "3 days ago"; older than a month, the date (2026-12-02).
pub fn ago(then_ms: i64, now_ms: i64) -> String {
    let seconds = (now_ms - then_ms).max(0) / 1000;
    match seconds {
        0..60 => "just now".to_string(),
        60..3_600 => format!("{} min ago", seconds / 60),
        3_600..86_400 => format!("{} h ago", seconds / 3_600),
        86_400..172_800 => "yesterday".to_string(),
        172_800..2_592_000 => format!("{} days ago", seconds / 86_400),
        _ => wamcp_core::Timestamp(then_ms).to_rfc3339().chars().take(10).collect(),
    }
}

/// An escalation reason as the inbox says it; a code this version does not know, as it is.
pub fn reason(code: &str) -> String {
    Reason::parse(code).map(|r| r.in_words().to_string()).unwrap_or_else(|| code.replace('_', " "))
}

/// A customer's or an answer's text as HTML: escaped, with WhatsApp's markup shown as what it
/// means (`*bold*`, `_italic_`, `~strike~`, ```` ```code``` ````) and line breaks kept.
pub fn whatsapp_markup(text: &str) -> String {
    let escaped = escape(text);
    let code = wrap(&escaped, "```", "<code>", "</code>");
    let bold = wrap(&code, "*", "<strong>", "</strong>");
    let italic = wrap(&bold, "_", "<em>", "</em>");
    wrap(&italic, "~", "<s>", "</s>")
}

/// Replaces each `marker…marker` span (on one line, not starting or ending with a space, the
/// markers at word edges) with `open…close`.
fn wrap(text: &str, marker: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(marker) {
        let before = &rest[..start];
        let after = &rest[start + marker.len()..];
        let at_word_start = before.chars().last().is_none_or(|c| !c.is_alphanumeric());
        let end = after.find(marker).filter(|&end| {
            let inner = &after[..end];
            let next = after[end + marker.len()..].chars().next();
            !inner.is_empty()
                && !inner.starts_with(' ')
                && !inner.ends_with(' ')
                && !inner.contains('\n')
                && next.is_none_or(|c| !c.is_alphanumeric())
        });
        match end {
            Some(end) if at_word_start => {
                out.push_str(before);
                out.push_str(open);
                out.push_str(&after[..end]);
                out.push_str(close);
                rest = &after[end + marker.len()..];
            }
            _ => {
                out.push_str(before);
                out.push_str(marker);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatsapp_markup_becomes_formatting_and_stays_escaped() {
        assert_eq!(whatsapp_markup("*Shipping* takes _two_ days"), "<strong>Shipping</strong> takes <em>two</em> days");
        assert_eq!(whatsapp_markup("~old~ ```a<b>```"), "<s>old</s> <code>a&lt;b&gt;</code>");
        assert_eq!(whatsapp_markup("2 * 3 * 4 and snake_case_name"), "2 * 3 * 4 and snake_case_name");
        assert_eq!(whatsapp_markup("<script>*x*</script>"), "&lt;script&gt;<strong>x</strong>&lt;/script&gt;");
    }

    #[test]
    fn long_text_is_cut_at_a_word_with_an_ellipsis() {
        assert_eq!(excerpt("short", 80), "short");
        let cut = excerpt("When will my order ship, I ordered it last week and nothing came", 30);
        assert_eq!(cut, "When will my order ship, I…");
        assert!(cut.chars().count() <= 31);
    }

    #[test]
    fn times_and_reasons_are_in_words() {
        let now = 1_700_000_000_000;
        assert_eq!(ago(now - 5_000, now), "just now");
        assert_eq!(ago(now - 5 * 60_000, now), "5 min ago");
        assert_eq!(ago(now - 2 * 3_600_000, now), "2 h ago");
        assert_eq!(ago(now - 3 * 86_400_000, now), "3 days ago");
        assert_eq!(reason("refund"), "asked for a refund");
        assert_eq!(reason("something_new"), "something new");
    }
}
