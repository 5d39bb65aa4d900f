//! What logs may say about people. By default no message text and no whole phone number: a log
//! is shipped to journald, to files and to support tickets, and must not leak chats. Runs of
//! seven or more digits (phone numbers, the user part of JIDs) keep only their last four digits,
//! and message text is shown as its length. `--log-content` turns both off, for debugging.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

static CONTENT_ALLOWED: AtomicBool = AtomicBool::new(false);
/// Shorter runs of digits are times, counts and ids, not phone numbers.
const PHONE_DIGITS: usize = 7;
const KEPT_DIGITS: usize = 4;

/// Lets logs carry message text and whole numbers (`--log-content`).
pub fn allow_content(allowed: bool) {
    CONTENT_ALLOWED.store(allowed, Ordering::Relaxed);
}

pub fn content_allowed() -> bool {
    CONTENT_ALLOWED.load(Ordering::Relaxed)
}

/// Message text as a log line may show it: itself with `--log-content`, else its length.
pub fn text(text: &str) -> Cow<'_, str> {
    if content_allowed() { Cow::Borrowed(text) } else { Cow::Owned(format!("[{} characters]", text.chars().count())) }
}

/// `line` with every run of seven or more digits cut to `…` and its last four digits, unless
/// content is allowed.
pub fn redact_numbers(line: &str) -> Cow<'_, str> {
    if content_allowed() || !has_long_number(line) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= PHONE_DIGITS {
            out.push('…');
            out.push_str(&digits[digits.len() - KEPT_DIGITS..]);
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in line.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    Cow::Owned(out)
}

fn has_long_number(line: &str) -> bool {
    let mut run = 0;
    for b in line.bytes() {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        if run >= PHONE_DIGITS {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_keep_their_last_four_digits_and_short_numbers_stay() {
        let line = "2026-11-22T13:00:09.123456Z WARN send to 447700900123@s.whatsapp.net failed after 3 tries";
        assert_eq!(
            redact_numbers(line),
            "2026-11-22T13:00:09.123456Z WARN send to …0123@s.whatsapp.net failed after 3 tries"
        );
        assert_eq!(redact_numbers("lid 184467440737095@lid"), "lid …7095@lid");
        assert!(matches!(redact_numbers("nothing long 123456"), Cow::Borrowed(_)));
    }

    #[test]
    fn text_is_shown_as_its_length() {
        assert_eq!(text("secret plans ✈"), "[14 characters]");
    }
}
