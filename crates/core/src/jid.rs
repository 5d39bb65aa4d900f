//! WhatsApp identities: phone users, LIDs, groups, broadcasts and newsletters.
//!
//! A JID is kept whole as a string (`user@server`), never split into columns, because the server
//! part is what tells a phone user from a LID from a group. Device suffixes (`user:3@…`) are
//! dropped on parsing: a chat or a sender is a person, not one of their devices.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Server part of a phone-number user.
pub const USER_SERVER: &str = "s.whatsapp.net";
/// Server part of a LID (WhatsApp's privacy-preserving linked identity).
pub const LID_SERVER: &str = "lid";
/// Server part of a group.
pub const GROUP_SERVER: &str = "g.us";
/// Server part of broadcast lists and the status feed.
pub const BROADCAST_SERVER: &str = "broadcast";
/// Server part of channels (newsletters).
pub const NEWSLETTER_SERVER: &str = "newsletter";

/// What a JID names, read from its server part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JidKind {
    /// A person addressed by phone number (`15551234567@s.whatsapp.net`).
    Phone,
    /// A person addressed by LID (`123456789012345@lid`).
    Lid,
    /// A group chat (`120363…@g.us`).
    Group,
    /// A broadcast list or the status feed (`status@broadcast`).
    Broadcast,
    /// A channel (`…@newsletter`).
    Newsletter,
}

/// A validated WhatsApp JID without device part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Jid(String);

/// Why a string is not a JID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JidError {
    #[error(
        "'{0}' is not a WhatsApp JID: expected user@server with server s.whatsapp.net, lid, g.us, broadcast or newsletter (e.g. 15551234567@s.whatsapp.net)"
    )]
    Malformed(String),
    #[error(
        "'{0}' is not a phone number: expected 6 to 15 digits with country code, optionally with +, spaces, dashes, dots or parentheses (e.g. +1 555 123 4567)"
    )]
    Phone(String),
    #[error(
        "'{0}' is not a person: give a phone number with country code (e.g. +44 7700 900123) or a person's JID (…@s.whatsapp.net or …@lid), not a group, broadcast or channel"
    )]
    NotAPerson(String),
}

impl Jid {
    /// Parses `user@server`, accepting the legacy `c.us` server and dropping any `:device` or
    /// `.agent` suffix of the user part.
    pub fn parse(input: &str) -> Result<Jid, JidError> {
        let malformed = || JidError::Malformed(input.to_string());
        let (user, server) = input.trim().split_once('@').ok_or_else(malformed)?;
        let server = match server.to_ascii_lowercase().as_str() {
            "c.us" | USER_SERVER => USER_SERVER,
            LID_SERVER => LID_SERVER,
            GROUP_SERVER => GROUP_SERVER,
            BROADCAST_SERVER => BROADCAST_SERVER,
            NEWSLETTER_SERVER => NEWSLETTER_SERVER,
            _ => return Err(malformed()),
        };
        let user = user.split(':').next().unwrap_or_default();
        let user = match server {
            USER_SERVER | LID_SERVER => user.split('.').next().unwrap_or_default(),
            _ => user,
        };
        let valid_user =
            !user.is_empty() && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        let digits_only = user.chars().all(|c| c.is_ascii_digit());
        if !valid_user || (matches!(server, USER_SERVER | LID_SERVER) && !digits_only) {
            return Err(malformed());
        }
        Ok(Jid(format!("{user}@{server}")))
    }

    /// The phone-user JID of a phone number in any common notation.
    pub fn from_phone(phone: &str) -> Result<Jid, JidError> {
        Ok(Jid(format!("{}@{USER_SERVER}", normalize_phone(phone)?)))
    }

    /// Reads what a user typed where a person is expected: a JID, or a phone number.
    pub fn parse_person(input: &str) -> Result<Jid, JidError> {
        if input.contains('@') { Jid::parse(input) } else { Jid::from_phone(input) }
    }

    /// Like [`Jid::parse_person`], but refuses a group, broadcast or channel JID: where only one
    /// person makes sense (erasing someone's data).
    pub fn parse_one_person(input: &str) -> Result<Jid, JidError> {
        Jid::parse_person(input)
            .ok()
            .filter(Jid::is_person)
            .ok_or_else(|| JidError::NotAPerson(input.trim().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`.
    pub fn user(&self) -> &str {
        self.0.split_once('@').map_or("", |(user, _)| user)
    }

    /// The part after `@`.
    pub fn server(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, server)| server)
    }

    pub fn kind(&self) -> JidKind {
        match self.server() {
            USER_SERVER => JidKind::Phone,
            LID_SERVER => JidKind::Lid,
            GROUP_SERVER => JidKind::Group,
            NEWSLETTER_SERVER => JidKind::Newsletter,
            _ => JidKind::Broadcast,
        }
    }

    /// The phone number (digits, no `+`) of a phone-user JID.
    pub fn phone(&self) -> Option<&str> {
        (self.kind() == JidKind::Phone).then(|| self.user())
    }

    /// Whether this JID names a single person (phone user or LID).
    pub fn is_person(&self) -> bool {
        matches!(self.kind(), JidKind::Phone | JidKind::Lid)
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Jid {
    type Error = JidError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Jid::parse(&value)
    }
}

impl From<Jid> for String {
    fn from(jid: Jid) -> String {
        jid.0
    }
}

impl std::str::FromStr for Jid {
    type Err = JidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Jid::parse(s)
    }
}

/// Reduces a phone number written any common way (`+1 (555) 123-4567`, `0044 7700 900123`,
/// `15551234567`) to its digits with country code. A leading `00` international prefix is dropped.
pub fn normalize_phone(input: &str) -> Result<String, JidError> {
    let bad = || JidError::Phone(input.to_string());
    let trimmed = input.trim();
    let mut digits = String::with_capacity(trimmed.len());
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => {}
            ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
            _ => return Err(bad()),
        }
    }
    let digits = match digits.strip_prefix("00") {
        Some(rest) if !trimmed.starts_with('+') => rest.to_string(),
        _ => digits,
    };
    if !(6..=15).contains(&digits.len()) {
        return Err(bad());
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_server_and_drops_devices() {
        assert_eq!(Jid::parse("15551234567:12@s.whatsapp.net").unwrap().as_str(), "15551234567@s.whatsapp.net");
        assert_eq!(Jid::parse("15551234567.0:3@s.whatsapp.net").unwrap().as_str(), "15551234567@s.whatsapp.net");
        assert_eq!(Jid::parse("15551234567@c.us").unwrap().as_str(), "15551234567@s.whatsapp.net");
        assert_eq!(Jid::parse("98765432101234@lid").unwrap().kind(), JidKind::Lid);
        assert_eq!(Jid::parse("120363025246125888@g.us").unwrap().kind(), JidKind::Group);
        assert_eq!(Jid::parse("status@broadcast").unwrap().kind(), JidKind::Broadcast);
    }

    #[test]
    fn refuses_what_is_not_a_jid() {
        for bad in ["", "15551234567", "@s.whatsapp.net", "abc@s.whatsapp.net", "1@example.com", "a b@g.us"] {
            let err = Jid::parse(bad).unwrap_err().to_string();
            assert!(err.contains("user@server"), "{bad}: {err}");
        }
    }

    #[test]
    fn phone_numbers_in_common_notations_are_the_same_person() {
        for written in ["+44 7700 900123", "447700900123", "+44-7700-900-123", "0044 7700 900123", "(44) 7700.900123"] {
            assert_eq!(Jid::from_phone(written).unwrap().as_str(), "447700900123@s.whatsapp.net", "{written}");
        }
        assert_eq!(Jid::parse_person("447700900123@s.whatsapp.net").unwrap().phone(), Some("447700900123"));
    }

    #[test]
    fn refuses_what_is_not_a_phone_number() {
        for bad in ["12345", "1234567890123456", "+44 77OO", "44+7700900123", "bob"] {
            assert!(normalize_phone(bad).unwrap_err().to_string().contains("6 to 15 digits"), "{bad}");
        }
    }
}
