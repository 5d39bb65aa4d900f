//! Telling a short acknowledgement ("Thanks, that works.", "ok 👍", "gracias") from a message
//! that asks for something. An acknowledgement after an answer or a resolution needs no answer of
//! its own: it reopens nothing, starts no ticket and is not a question the knowledge base missed.

/// Words that make a message an acknowledgement; at least one must be there.
const THANKS: &[&str] = &[
    "thanks",
    "thank",
    "thx",
    "ty",
    "cheers",
    "ok",
    "okay",
    "k",
    "great",
    "perfect",
    "awesome",
    "excellent",
    "cool",
    "nice",
    "brilliant",
    "wonderful",
    "works",
    "worked",
    "solved",
    "fixed",
    "received",
    "noted",
    "gracias",
    "vale",
    "perfecto",
    "genial",
    "merci",
    "parfait",
    "danke",
    "super",
    "prima",
    "obrigado",
    "obrigada",
    "valeu",
    "grazie",
    "perfetto",
    "shukriya",
    "shukria",
    "dhanyavaad",
    "bedankt",
    "dank",
    "tack",
    "takk",
    "tak",
    "dzięki",
    "спасибо",
    "شكرا",
    "شكراً",
    "धन्यवाद",
    "شکریہ",
    "teşekkürler",
    "sağol",
    "👍",
    "🙏",
    "❤",
    "👌",
    "🙂",
    "😊",
    "✅",
];

/// Words that may stand beside them without making a request of it.
const ALONG: &[&str] = &[
    "you",
    "u",
    "so",
    "very",
    "much",
    "a",
    "lot",
    "many",
    "all",
    "that",
    "this",
    "it",
    "now",
    "again",
    "good",
    "fine",
    "got",
    "great",
    "for",
    "the",
    "help",
    "your",
    "quick",
    "reply",
    "answer",
    "that's",
    "thats",
    "it's",
    "its",
    "is",
    "was",
    "has",
    "been",
    "everything",
    "ok",
    "yes",
    "yeah",
    "yep",
    "sure",
    "alright",
    "and",
    "have",
    "day",
    "nice",
    "weekend",
    "muchas",
    "mil",
    "muy",
    "bien",
    "todo",
    "beaucoup",
    "bien",
    "c'est",
    "vielen",
    "schön",
    "sehr",
    "muito",
    "mille",
    "tante",
    "bahut",
    "hai",
    "wel",
    "heel",
    "veel",
    "большое",
    "جزيلا",
    "جزيلاً",
    "bahot",
    "hi",
    "ji",
];

/// The longest message still taken as an acknowledgement, in words.
const MOST_WORDS: usize = 8;

/// Whether `text` only acknowledges: a few words, no question, at least one of thanks or
/// agreement, and nothing else that could be a request.
pub fn is_acknowledgement(text: &str) -> bool {
    if text.contains(['?', '¿', '؟']) {
        return false;
    }
    let words = words(&text.to_lowercase());
    if words.is_empty() || words.len() > MOST_WORDS {
        return false;
    }
    let word = |w: &String| THANKS.contains(&w.as_str());
    words.iter().any(word) && words.iter().all(|w| word(w) || ALONG.contains(&w.as_str()))
}

/// The words of `text`, punctuation dropped; an emoji is a word of its own even when stuck to
/// one ("ok👍" is "ok" and "👍"), with its variation selector dropped.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        let emoji = (c as u32) >= 0x2600 && !c.is_alphanumeric() && c != '\u{fe0f}';
        if c.is_whitespace() || c == '\u{fe0f}' || emoji || (c.is_ascii_punctuation() && c != '\'') || c == '¡' {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            if emoji {
                words.push(c.to_string());
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::is_acknowledgement;

    #[test]
    fn thanks_and_agreement_in_a_few_words_are_acknowledgements() {
        for text in [
            "Thanks, that works.",
            "thank you so much!",
            "ok 👍",
            "ok👍",
            "👍",
            "Perfect, thanks",
            "Gracias!",
            "muchas gracias",
            "Merci beaucoup",
            "Danke schön",
            "Obrigado",
            "Great, got it",
            "спасибо",
            "❤️",
        ] {
            assert!(is_acknowledgement(text), "{text}");
        }
    }

    #[test]
    fn questions_complaints_and_requests_are_not() {
        for text in [
            "Thanks, but it still does not work",
            "thanks, when will it ship?",
            "ok so where is my order",
            "I want a refund, thanks",
            "Are you around later",
            "Hello",
            "",
            "thanks thanks thanks thanks thanks thanks thanks thanks thanks",
        ] {
            assert!(!is_acknowledgement(text), "{text}");
        }
    }
}
