//! Shaping an answer for the channel it goes out on:
//! - WhatsApp: at most 300 characters (Unicode characters, footer included), cut at a word
//!   boundary, with WhatsApp's own markup only (`*bold*`, `_italic_`) — Markdown headings, links,
//!   code and other emphasis are turned into plain text;
//! - email: formal, with a greeting and a signature;
//! - web form: at most 300 words.

use crate::language::Phrases;
use crate::model::Channel;

/// The longest WhatsApp answer, footer included.
pub const WHATSAPP_MAX_CHARS: usize = 300;
/// The longest web-form answer.
pub const WEB_MAX_WORDS: usize = 300;

/// How answers are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Style {
    /// Appended to every WhatsApp answer (within the limit).
    pub whatsapp_footer: String,
    /// The name under email answers.
    pub signature: String,
}

impl Default for Style {
    fn default() -> Style {
        Style { whatsapp_footer: "_Reply *human* for a person._".into(), signature: "Customer Support".into() }
    }
}

/// `text` (Markdown or plain) as it should go out on `channel` to a customer called `name`.
/// An email's greeting and sign-off are in `phrases`' language (the customer's).
pub fn format(channel: Channel, text: &str, name: Option<&str>, style: &Style, phrases: &Phrases) -> String {
    match channel {
        Channel::Whatsapp => whatsapp(text, &style.whatsapp_footer),
        Channel::Email => email(text, name, &style.signature, phrases),
        Channel::WebForm => truncate_words(&plain(text), WEB_MAX_WORDS),
    }
}

/// A WhatsApp answer: WhatsApp markup, footer on its own line, all within 300 characters.
pub fn whatsapp(text: &str, footer: &str) -> String {
    let body = whatsapp_markup(text);
    let footer = footer.trim();
    let room = if footer.is_empty() { WHATSAPP_MAX_CHARS } else { WHATSAPP_MAX_CHARS - footer.chars().count() - 1 };
    let body = truncate_chars(&body, room);
    if footer.is_empty() { body } else { format!("{body}\n{footer}") }
}

fn email(text: &str, name: Option<&str>, signature: &str, phrases: &Phrases) -> String {
    let greeting = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => phrases.dear.replace("{name}", name),
        None => phrases.dear_customer.to_string(),
    };
    format!("{greeting}\n\n{}\n\n{}\n{signature}", plain(text).trim(), phrases.kind_regards)
}

/// Markdown to WhatsApp: `**b**`/`__b__` to `*b*`, headings to bold lines, `[text](url)` to
/// `text (url)`, code and strike-through marks dropped.
fn whatsapp_markup(text: &str) -> String {
    let mut lines = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let line = match trimmed.trim_start_matches('#') {
            rest if rest.len() < trimmed.len() && rest.starts_with(' ') => format!("*{}*", rest.trim()),
            _ => line.to_string(),
        };
        let line = line.replace("**", "*").replace("__", "_").replace(['`', '~'], "");
        lines.push(links_to_text(&line));
    }
    collapse_blank_lines(&lines.join("\n"))
}

/// Plain text: no markup at all.
fn plain(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let line = line.trim_start().trim_start_matches('#').trim_start();
            links_to_text(&line.replace(['*', '`', '~'], "").replace("__", ""))
        })
        .collect();
    collapse_blank_lines(&lines.join("\n"))
}

fn links_to_text(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find("](") else { break };
        let Some(end) = after[close + 2..].find(')') else { break };
        let label = &after[..close];
        let url = &after[close + 2..close + 2 + end];
        out.push_str(&rest[..open]);
        out.push_str(&format!("{label} ({url})"));
        rest = &after[close + 2 + end + 1..];
    }
    out.push_str(rest);
    out
}

fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::new();
    let mut blank = false;
    for line in text.trim().lines() {
        if line.trim().is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
        } else {
            out.push_str(line.trim_end());
            out.push('\n');
            blank = false;
        }
    }
    out.trim_end().to_string()
}

/// At most `max` characters, cut at the last word boundary with `…` when cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let budget = max - 1; // room for the ellipsis
    let cut: String = text.chars().take(budget).collect();
    let next_is_space = text.chars().nth(budget).is_some_and(char::is_whitespace);
    let kept = if next_is_space {
        cut.as_str()
    } else {
        match cut.rfind(char::is_whitespace) {
            Some(space) if space > 0 => &cut[..space],
            _ => cut.as_str(),
        }
    };
    format!("{}…", kept.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-')))
}

fn truncate_words(text: &str, max: usize) -> String {
    let mut count = 0;
    let mut end = text.len();
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_word = false;
        } else if !in_word {
            in_word = true;
            count += 1;
            if count > max {
                end = i;
                break;
            }
        }
    }
    if end == text.len() { text.to_string() } else { format!("{}…", text[..end].trim_end()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::ENGLISH;

    #[test]
    fn whatsapp_answers_fit_300_characters_with_the_footer() {
        let long = "Our couriers deliver every weekday between nine and five. ".repeat(12);
        let answer = whatsapp(&long, "_Reply *human* for a person._");
        assert!(answer.chars().count() <= WHATSAPP_MAX_CHARS, "{}", answer.chars().count());
        assert!(answer.ends_with("\n_Reply *human* for a person._"));
        let body = answer.lines().next().unwrap();
        assert!(body.ends_with("five…") || body.ends_with("between…") || body.ends_with('…'), "{body}");
        assert!(!body.trim_end_matches('…').ends_with(' '));
        // Each word before the ellipsis is whole.
        let last_word = body.trim_end_matches('…').split(' ').next_back().unwrap();
        assert!(long.split(' ').any(|w| w == last_word), "cut inside '{last_word}'");
    }

    #[test]
    fn characters_not_bytes_are_counted() {
        let text = "ü".repeat(400);
        let answer = whatsapp(&text, "");
        assert_eq!(answer.chars().count(), 300);
        let emoji = "😀 ".repeat(200);
        assert!(whatsapp(&emoji, "footer").chars().count() <= 300);
    }

    #[test]
    fn markdown_becomes_whatsapp_markup() {
        let text = "## Returns\nSend it **back** within `30` days, see [our page](https://x.example/r) ~now~.";
        assert_eq!(
            whatsapp(text, ""),
            "*Returns*\nSend it *back* within 30 days, see our page (https://x.example/r) now."
        );
    }

    #[test]
    fn email_answers_are_formal() {
        let answer = format(Channel::Email, "Your order ships **today**.", Some("Ann"), &Style::default(), &ENGLISH);
        assert_eq!(answer, "Dear Ann,\n\nYour order ships today.\n\nKind regards,\nCustomer Support");
    }

    #[test]
    fn web_form_answers_stop_at_300_words() {
        let answer = format(Channel::WebForm, &"word ".repeat(500), None, &Style::default(), &ENGLISH);
        assert_eq!(answer.split_whitespace().count(), 300);
        assert!(answer.ends_with('…'));
        assert_eq!(format(Channel::WebForm, "short answer", None, &Style::default(), &ENGLISH), "short answer");
    }
}
