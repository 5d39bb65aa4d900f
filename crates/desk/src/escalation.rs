//! When the agent must not answer and a person must: checked on every customer message before
//! any answer is drafted. The rules, in the order they are tried (the first that matches is the
//! reason given):
//! 1. legal words (lawyer, legal, sue, attorney, court...), whole words only — "issue" is not "sue";
//! 2. an explicit ask for a human, agent or representative;
//! 3. very negative sentiment (below the configured threshold);
//! 4. refund requests (a refund, a chargeback, money back);
//! 5. questions about prices;
//! 6. a second knowledge-base miss in a row.

use serde::Serialize;

use crate::model::Priority;
use crate::sentiment;

const LEGAL: &[&str] = &[
    "lawyer",
    "lawyers",
    "legal",
    "legally",
    "sue",
    "sues",
    "sued",
    "suing",
    "attorney",
    "attorneys",
    "court",
    "courts",
    "lawsuit",
    "litigation",
];
const HUMAN: &[&str] = &["human", "agent", "representative", "operator", "manager", "supervisor"];
const HUMAN_PHRASES: &[&str] =
    &["real person", "talk to someone", "speak to someone", "talk to a person", "speak to a person"];
const PRICING: &[&str] = &["price", "prices", "pricing", "quote", "discount", "discounts", "cost", "costs"];
const PRICING_PHRASES: &[&str] = &["how much"];
const REFUND: &[&str] = &[
    "refund",
    "refunds",
    "refunded",
    "refunding",
    "chargeback",
    "reimburse",
    "reimbursed",
    "reimbursement",
    "reembolso",
    "remboursement",
    "rembourser",
    "erstattung",
    "rückerstattung",
    "rimborso",
];
const REFUND_PHRASES: &[&str] = &["money back", "my money", "pay me back"];

/// Why a conversation went to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Legal,
    HumanRequested,
    NegativeSentiment,
    Refund,
    Pricing,
    KnowledgeGap,
    /// Nothing matched, and the customer wrote in another language than the knowledge base's.
    Language,
    /// An attachment with no words the desk could read: a photo, a voice note not transcribed.
    NoWords,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Legal => "legal",
            Reason::HumanRequested => "human_requested",
            Reason::NegativeSentiment => "negative_sentiment",
            Reason::Refund => "refund",
            Reason::Pricing => "pricing",
            Reason::KnowledgeGap => "knowledge_gap",
            Reason::Language => "language",
            Reason::NoWords => "no_words",
        }
    }

    /// The reason as its code is stored (`refund`), if it is one.
    pub fn parse(code: &str) -> Option<Reason> {
        [
            Reason::Legal,
            Reason::HumanRequested,
            Reason::NegativeSentiment,
            Reason::Refund,
            Reason::Pricing,
            Reason::KnowledgeGap,
            Reason::Language,
            Reason::NoWords,
        ]
        .into_iter()
        .find(|reason| reason.as_str() == code)
    }

    /// The reason in words, as the inbox shows it: "asked for a refund".
    pub fn in_words(self) -> &'static str {
        match self {
            Reason::Legal => "mentioned legal action",
            Reason::HumanRequested => "asked for a person",
            Reason::NegativeSentiment => "sounds upset",
            Reason::Refund => "asked for a refund",
            Reason::Pricing => "asked about prices",
            Reason::KnowledgeGap => "asked what the knowledge base does not answer",
            Reason::Language => "wrote in a language the knowledge base is not in",
            Reason::NoWords => "sent an attachment or voice note with no words to read",
        }
    }

    /// The ticket's priority and category once escalated for this reason.
    pub fn priority_and_category(self) -> (Priority, &'static str) {
        match self {
            Reason::Legal => (Priority::Urgent, "legal"),
            Reason::NegativeSentiment => (Priority::High, "complaint"),
            Reason::HumanRequested => (Priority::Normal, "general"),
            Reason::Refund => (Priority::High, "billing"),
            Reason::Pricing => (Priority::Normal, "billing"),
            Reason::KnowledgeGap | Reason::Language | Reason::NoWords => (Priority::Normal, "general"),
        }
    }
}

/// The thresholds the rules use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// Sentiment at or below this escalates (-1.0 ..= 1.0).
    pub sentiment_threshold: f64,
    /// Misses in a row that escalate.
    pub misses: i64,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules { sentiment_threshold: -0.6, misses: 2 }
    }
}

impl Rules {
    /// The reason to escalate `text`, if any, given how many searches in a row (counting this
    /// message's) found nothing.
    pub fn check(&self, text: &str, misses_in_a_row: i64) -> Option<Reason> {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        let has_word = |list: &[&str]| words.iter().any(|w| list.contains(w));
        let has_phrase = |list: &[&str]| list.iter().any(|p| words.join(" ").contains(p));
        if has_word(LEGAL) {
            Some(Reason::Legal)
        } else if has_word(HUMAN) || has_phrase(HUMAN_PHRASES) {
            Some(Reason::HumanRequested)
        } else if sentiment::score(text) <= self.sentiment_threshold {
            Some(Reason::NegativeSentiment)
        } else if has_word(REFUND) || has_phrase(REFUND_PHRASES) {
            Some(Reason::Refund)
        } else if has_word(PRICING) || has_phrase(PRICING_PHRASES) {
            Some(Reason::Pricing)
        } else if misses_in_a_row >= self.misses {
            Some(Reason::KnowledgeGap)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Option<Reason> {
        Rules::default().check(text, 0)
    }

    #[test]
    fn legal_words_count_only_as_whole_words() {
        assert_eq!(check("I will sue you"), Some(Reason::Legal));
        assert_eq!(check("My lawyer will call"), Some(Reason::Legal));
        assert_eq!(check("See you in COURT."), Some(Reason::Legal));
        assert_eq!(check("There is an issue with my order"), None);
        assert_eq!(check("Please pursue the tissue issue"), None);
        assert_eq!(check("The courtyard door is stuck"), None);
    }

    #[test]
    fn asking_for_a_person_escalates() {
        assert_eq!(check("Can I talk to a human please"), Some(Reason::HumanRequested));
        assert_eq!(check("representative"), Some(Reason::HumanRequested));
        assert_eq!(check("I want to speak to someone"), Some(Reason::HumanRequested));
        assert_eq!(check("Is my agentless setup supported?"), None);
    }

    #[test]
    fn anger_escalates_at_the_configured_threshold() {
        let furious = "This is the worst, most useless service ever!!!";
        assert_eq!(check(furious), Some(Reason::NegativeSentiment));
        let lenient = Rules { sentiment_threshold: -0.99, ..Rules::default() };
        assert_eq!(lenient.check(furious, 0), None);
        assert_eq!(check("The app is a bit slow today"), None);
    }

    #[test]
    fn pricing_and_refunds_escalate_each_with_its_own_reason() {
        assert_eq!(check("How much is the premium plan?"), Some(Reason::Pricing));
        assert_eq!(check("Do you have a discount for students"), Some(Reason::Pricing));
        assert_eq!(check("I want a refund"), Some(Reason::Refund));
        assert_eq!(check("Can I get my money back"), Some(Reason::Refund));
        assert_eq!(check("Quiero un reembolso"), Some(Reason::Refund));
        assert_eq!(Reason::parse("refund"), Some(Reason::Refund));
        assert_eq!(Reason::Refund.in_words(), "asked for a refund");
    }

    #[test]
    fn the_second_miss_in_a_row_escalates() {
        let rules = Rules::default();
        assert_eq!(rules.check("Do you sell bicycles?", 1), None);
        assert_eq!(rules.check("Do you sell bicycles?", 2), Some(Reason::KnowledgeGap));
    }
}
