//! WhatsApp through Twilio: the webhooks' signature (`X-Twilio-Signature`: base64 of HMAC-SHA1,
//! keyed with the auth token, over the webhook URL followed by every POST parameter's name and
//! value in name order), and answers sent with Twilio's Messages API, each with a
//! `StatusCallback` so that what happens later (delivered, read, failed with a code) comes back.
//! Outside WhatsApp's 24-hour window only an approved template gets through ([`Content`]).

use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha1::Sha1;

/// Twilio's API, unless testing.
pub const DEFAULT_API_URL: &str = "https://api.twilio.com";

/// Twilio's error for a free-form WhatsApp message outside the 24-hour customer-service window.
pub const WINDOW_CLOSED_ERROR: u64 = 63016;

/// A Twilio account.
#[derive(Debug)]
pub struct Twilio {
    pub account_sid: String,
    pub auth_token: String,
    /// `https://api.twilio.com` unless testing.
    pub api_url: String,
    /// The webhook's URL exactly as configured at Twilio (behind a proxy it differs from what
    /// this server sees); without it, the URL is rebuilt from the request's Host.
    pub webhook_url: Option<String>,
    /// An approved template (`HX…`) sent outside the 24-hour window to ask the customer to write
    /// again (`desk.twilio_reengage_content_sid`).
    pub reengage_content_sid: Option<String>,
    /// The status callback's URL, learnt from the last signed inbound webhook when no
    /// `webhook_url` is configured.
    learned_status_url: Mutex<Option<String>>,
}

/// Which of our Twilio routes a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/webhooks/twilio/whatsapp`: a customer's message.
    Inbound,
    /// `/webhooks/twilio/status`: what became of one of ours.
    Status,
}

/// What an answer sent through Twilio is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content<'a> {
    /// Free-form text: only inside the 24-hour window.
    Text(&'a str),
    /// An approved template (`ContentSid`): allowed at any time.
    Template(&'a str),
}

/// Why Twilio did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Not now (Twilio down, throttled, or credentials someone must fix): it stays queued.
    #[error("{0}")]
    Unavailable(String),
    /// Never as it is.
    #[error("{0}")]
    Refused(String),
    /// Outside the 24-hour window (error 63016): only a template gets through.
    #[error("{0}")]
    WindowClosed(String),
}

/// `url` as given, without its port, and with the scheme's default port written out.
pub fn port_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else { return variants };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    // An IPv6 host is bracketed; the port, if any, follows the bracket.
    let port_at = match hostport.rfind(']') {
        Some(bracket) => hostport[bracket..].find(':').map(|i| bracket + i),
        None => hostport.rfind(':'),
    };
    let host = port_at.map_or(hostport, |at| &hostport[..at]);
    let without = format!("{scheme}://{userinfo}{host}{tail}");
    let default = match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    };
    let with_default = default.map(|port| format!("{scheme}://{userinfo}{host}:{port}{tail}"));
    for variant in [Some(without), with_default].into_iter().flatten() {
        if !variants.contains(&variant) {
            variants.push(variant);
        }
    }
    variants
}

/// The signature Twilio sends for a POST of `params` to `url`.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_string();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl Twilio {
    pub fn new(account_sid: String, auth_token: String, api_url: String) -> Twilio {
        Twilio {
            account_sid,
            auth_token,
            api_url,
            webhook_url: None,
            reengage_content_sid: None,
            learned_status_url: Mutex::new(None),
        }
    }

    /// The URL configured at Twilio for `route`, when one is: the inbound webhook's as given, the
    /// status callback's beside it (`…/whatsapp` → `…/status`).
    fn configured_url(&self, route: Route) -> Option<String> {
        let inbound = self.webhook_url.as_ref()?;
        Some(match route {
            Route::Inbound => inbound.clone(),
            Route::Status => status_url_beside(inbound),
        })
    }

    /// Whether `given` is Twilio's signature of this request to `route`, trying each URL it may
    /// have used: each with and without its port, as Twilio's own SDKs do (Twilio signs some
    /// requests with the default port written out and some without). `seen` are the URLs the
    /// request may have been sent to, rebuilt from its Host. A signed inbound webhook also
    /// teaches where status callbacks can reach us.
    pub fn verify(&self, route: Route, given: &str, seen: &[String], params: &[(String, String)]) -> bool {
        let candidates: Vec<String> = match self.configured_url(route) {
            Some(url) => vec![url],
            None => seen.to_vec(),
        };
        let matched = candidates.iter().find(|url| {
            port_variants(url)
                .iter()
                .any(|url| wamcp_core::secrets_match(given, &signature(&self.auth_token, url, params)))
        });
        if let (Some(url), Route::Inbound) = (matched, route) {
            *self.learned_status_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(status_url_beside(url));
        }
        matched.is_some()
    }

    /// Where Twilio should report what becomes of a message, once we know how it reaches us.
    pub fn status_callback(&self) -> Option<String> {
        self.configured_url(Route::Status)
            .or_else(|| self.learned_status_url.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Sends `content` from our Twilio WhatsApp number `from` to `to` (both `whatsapp:+…`);
    /// returns the message SID.
    pub async fn send(&self, from: &str, to: &str, content: Content<'_>) -> Result<String, SendError> {
        let url =
            format!("{}/2010-04-01/Accounts/{}/Messages.json", self.api_url.trim_end_matches('/'), self.account_sid);
        let mut fields = vec![("From", from.to_string()), ("To", to.to_string())];
        match content {
            Content::Text(body) => fields.push(("Body", body.to_string())),
            Content::Template(sid) => fields.push(("ContentSid", sid.to_string())),
        }
        if let Some(callback) = self.status_callback() {
            fields.push(("StatusCallback", callback));
        }
        let form = serde_urlencoded::to_string(&fields).map_err(|e| SendError::Refused(e.to_string()))?;
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.account_sid, self.auth_token));
        let answer = tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(20)))
                .http_status_as_error(false)
                .build()
                .into();
            let mut response = agent
                .post(&url)
                .header("Authorization", &format!("Basic {credentials}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(form.as_bytes())
                .map_err(|e| SendError::Unavailable(format!("Twilio: {e}")))?;
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().map_err(|e| SendError::Unavailable(e.to_string()))?;
            Ok::<_, SendError>((status, text))
        })
        .await
        .map_err(|e| SendError::Unavailable(e.to_string()))??;
        let (status, text) = answer;
        let json: Value = serde_json::from_str(&text).unwrap_or_default();
        match status {
            200..=299 => json["sid"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| SendError::Unavailable("Twilio's answer has no message sid".into())),
            // Twilio's errors carry a message; 429 and 5xx may pass on a later try, and so may
            // credentials someone fixes: the answer waits for them instead of being lost.
            _ => {
                let message = json["message"].as_str().unwrap_or(&text).to_string();
                let error = format!("Twilio answered {status}: {message}");
                if json["code"].as_u64() == Some(WINDOW_CLOSED_ERROR) {
                    Err(SendError::WindowClosed(error))
                } else if status == 401 || status == 403 {
                    Err(SendError::Unavailable(format!(
                        "{error}; check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (the answer waits, queued)"
                    )))
                } else if status == 429 || status >= 500 {
                    Err(SendError::Unavailable(error))
                } else {
                    Err(SendError::Refused(error))
                }
            }
        }
    }
}

/// The status callback's URL beside an inbound webhook's: the last path segment becomes `status`
/// (`https://desk.example.com/hooks/twilio/whatsapp` → `…/hooks/twilio/status`).
fn status_url_beside(inbound: &str) -> String {
    let path = inbound.split(['?', '#']).next().unwrap_or(inbound);
    match path.rsplit_once('/') {
        Some((parent, _)) if parent.contains("://") && !parent.ends_with('/') => format!("{parent}/status"),
        _ => format!("{}/status", path.trim_end_matches('/')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from Twilio's webhook security documentation.
    #[test]
    fn the_signature_matches_twilios_documented_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let signed = signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &params);
        assert_eq!(signed, "GvWf1cFY/Q7PnoempGyD5oXAezc=");
    }

    #[test]
    fn a_signature_made_with_or_without_the_port_is_accepted_either_way() {
        let twilio = Twilio::new("AC1".into(), "12345".into(), String::new());
        let params = vec![("Body".to_string(), "hi".to_string())];
        let seen = "https://desk.example.com/webhooks/twilio/whatsapp".to_string();
        // Signed as twilio-python's validator would compute it, with the port written out.
        let with_port = signature("12345", "https://desk.example.com:443/webhooks/twilio/whatsapp", &params);
        assert!(twilio.verify(Route::Inbound, &with_port, std::slice::from_ref(&seen), &params));
        let seen_with_port = "https://desk.example.com:443/webhooks/twilio/whatsapp".to_string();
        let without_port = signature("12345", &seen, &params);
        assert!(twilio.verify(Route::Inbound, &without_port, &[seen_with_port], &params));
        assert!(!twilio.verify(Route::Inbound, "bm90IGl0", &[seen], &params));
        // Status callbacks go beside the URL the last signed webhook came to.
        assert_eq!(twilio.status_callback().as_deref(), Some("https://desk.example.com:443/webhooks/twilio/status"));
        assert_eq!(
            port_variants("http://[::1]:8766/x?y=1"),
            ["http://[::1]:8766/x?y=1", "http://[::1]/x?y=1", "http://[::1]:80/x?y=1"]
        );
    }

    #[test]
    fn status_callbacks_go_beside_the_configured_webhook() {
        let mut twilio = Twilio::new("AC1".into(), "12345".into(), String::new());
        assert_eq!(twilio.status_callback(), None, "nothing known yet");
        twilio.webhook_url = Some("https://example.com/desk/webhooks/twilio/whatsapp?x=1".into());
        assert_eq!(twilio.status_callback().as_deref(), Some("https://example.com/desk/webhooks/twilio/status"));
        assert_eq!(status_url_beside("https://example.com"), "https://example.com/status");
        let params = vec![("MessageStatus".to_string(), "read".to_string())];
        let signed = signature("12345", "https://example.com/desk/webhooks/twilio/status", &params);
        let seen = ["http://127.0.0.1:8766/webhooks/twilio/status".to_string()];
        assert!(twilio.verify(Route::Status, &signed, &seen, &params), "checked against the URL Twilio was given");
        assert!(!twilio.verify(Route::Inbound, &signed, &seen, &params));
    }
}
