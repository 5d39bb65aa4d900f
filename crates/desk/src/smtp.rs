//! Email answers sent over SMTP (lettre): to email customers and to the address a web form gave.
//!
//! `desk.smtp_url` says where: `smtps://user@host:465` (TLS from the start), `smtp://user@host:587`
//! (STARTTLS, required), or `smtp://host:25?tls=none` (no TLS: only to a relay on this machine).
//! The password comes from `WAMCP_DESK_SMTP_PASSWORD`, never from the URL, which sits in a
//! settings file. Each answer carries `From`, `Reply-To`, its own `Message-ID`, and `In-Reply-To`
//! / `References` naming the customer's mail, so their mail client keeps one thread.

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MessageBuilder};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::DeskError;

/// The environment variable holding the SMTP password.
pub const PASSWORD_ENV: &str = "WAMCP_DESK_SMTP_PASSWORD";

/// How the desk sends mail.
#[derive(Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    /// Where the server is, for messages (never with a password).
    pub shown: String,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp").field("server", &self.shown).field("from", &self.from.to_string()).finish()
    }
}

/// One email answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Ours, without angle brackets: `msg_…@example.com`.
    pub message_id: String,
    /// The customer's mail this answers, with angle brackets as it came.
    pub in_reply_to: Option<String>,
    /// The thread so far, oldest first, with angle brackets.
    pub references: Vec<String>,
}

/// Why a mail did not go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server refused it for good (a 5xx answer, a bad address): trying again cannot help.
    #[error("{0}")]
    Permanent(String),
    /// The server or the network may let it through later.
    #[error("{0}")]
    Transient(String),
}

impl Smtp {
    /// The transport for `url`, sending as `from` with replies to `reply_to`.
    pub fn new(url: &str, password: Option<String>, from: &str, reply_to: Option<&str>) -> Result<Smtp, DeskError> {
        let bad = |why: String| DeskError::Config(format!("desk.smtp_url: {why}"));
        let parsed = url::Url::parse(url).map_err(|e| {
            bad(format!("'{url}' is not a URL ({e}); use smtps://USER@HOST:465 or smtp://USER@HOST:587"))
        })?;
        if parsed.password().is_some() {
            return Err(bad(format!("put the password in {PASSWORD_ENV}, not in the URL (settings files are shared)")));
        }
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad(format!("'{url}' names no host")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let tls = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_string());
        let mut builder = match (parsed.scheme(), tls.as_deref()) {
            ("smtps", None) => AsyncSmtpTransport::<Tokio1Executor>::relay(&host),
            ("smtp", None | Some("required")) => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host),
            ("smtp", Some("none")) => {
                let local = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
                if !local {
                    return Err(bad(format!(
                        "tls=none sends mail and password in the clear: only to a relay on this machine, not '{host}'"
                    )));
                }
                Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host))
            }
            (scheme, tls) => {
                return Err(bad(format!(
                    "'{scheme}://{}' is not accepted; use smtps://USER@HOST:465, smtp://USER@HOST:587 (STARTTLS) \
                     or smtp://localhost:25?tls=none",
                    tls.map(|t| format!("…?tls={t}")).unwrap_or_default()
                )));
            }
        }
        .map_err(|e| bad(e.to_string()))?;
        if let Some(port) = parsed.port() {
            builder = builder.port(port);
        }
        let user = percent_decode(parsed.username());
        if !user.is_empty() {
            let password = password.ok_or_else(|| bad(format!("user '{user}' needs a password in {PASSWORD_ENV}")))?;
            builder = builder.credentials(Credentials::new(user, password));
        }
        let transport = builder.timeout(Some(Duration::from_secs(30))).build();
        let mailbox = |field: &str, value: &str| {
            value.parse::<Mailbox>().map_err(|e| {
                DeskError::Config(format!(
                    "{field}: '{value}' is not an address ({e}); use \"Support <help@example.com>\""
                ))
            })
        };
        Ok(Smtp {
            transport,
            from: mailbox("desk.smtp_from", from)?,
            reply_to: reply_to.map(|r| mailbox("desk.smtp_reply_to", r)).transpose()?,
            shown: format!(
                "{}://{host}{}",
                parsed.scheme(),
                parsed.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
        })
    }

    /// The domain our Message-IDs are made in: the From address's.
    pub fn id_domain(&self) -> &str {
        self.from.email.domain()
    }

    /// Sends `mail`; says whether a failure may pass.
    pub async fn send(&self, mail: &Mail) -> Result<(), SendError> {
        let message = self.message(mail)?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| {
            let detail = format!("{}: {e}", self.shown);
            if e.is_permanent() { SendError::Permanent(detail) } else { SendError::Transient(detail) }
        })
    }

    fn message(&self, mail: &Mail) -> Result<Message, SendError> {
        let to: Mailbox =
            mail.to.parse().map_err(|e| SendError::Permanent(format!("'{}' is not an email address: {e}", mail.to)))?;
        let mut builder: MessageBuilder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(format!("<{}>", mail.message_id)))
            .header(ContentType::TEXT_PLAIN);
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        if let Some(parent) = &mail.in_reply_to {
            builder = builder.in_reply_to(parent.clone());
        }
        if !mail.references.is_empty() {
            builder = builder.references(mail.references.join(" "));
        }
        builder.body(mail.body.clone()).map_err(|e| SendError::Permanent(format!("the mail cannot be built: {e}")))
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()),
        ) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The subject of an answer: the customer's, as a reply.
pub fn reply_subject(subject: Option<&str>) -> String {
    match subject.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.len() >= 3 && s[..3].eq_ignore_ascii_case("re:") => s.to_string(),
        Some(s) => format!("Re: {s}"),
        None => "Re: your message".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_clear_text_only_goes_to_this_machine() {
        let from = "Support <help@example.com>";
        assert!(Smtp::new("smtps://desk@mail.example.com:465", Some("pw".into()), from, None).is_ok());
        assert!(Smtp::new("smtp://desk@mail.example.com:587", Some("pw".into()), from, None).is_ok());
        assert!(Smtp::new("smtp://127.0.0.1:2525?tls=none", None, from, None).is_ok());
        let clear = Smtp::new("smtp://mail.example.com:25?tls=none", None, from, None).unwrap_err().to_string();
        assert!(clear.contains("only to a relay on this machine"), "{clear}");
        let inline = Smtp::new("smtps://desk:secret@mail.example.com", None, from, None).unwrap_err().to_string();
        assert!(inline.contains(PASSWORD_ENV) && !inline.contains("secret"), "{inline}");
        let no_password = Smtp::new("smtps://desk@mail.example.com", None, from, None).unwrap_err().to_string();
        assert!(no_password.contains("needs a password"), "{no_password}");
        let scheme = Smtp::new("imap://mail.example.com", None, from, None).unwrap_err().to_string();
        assert!(scheme.contains("not accepted"), "{scheme}");
        let sender = Smtp::new("smtps://mail.example.com", None, "not an address", None).unwrap_err().to_string();
        assert!(sender.contains("desk.smtp_from"), "{sender}");
    }

    #[test]
    fn answers_keep_the_subject_as_a_reply() {
        assert_eq!(reply_subject(Some("Order 1234")), "Re: Order 1234");
        assert_eq!(reply_subject(Some("RE: Order 1234")), "RE: Order 1234");
        assert_eq!(reply_subject(None), "Re: your message");
    }
}
