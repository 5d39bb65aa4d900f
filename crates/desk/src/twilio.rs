//! WhatsApp through Twilio: the inbound webhook's signature (`X-Twilio-Signature`: base64 of
//! HMAC-SHA1, keyed with the auth token, over the webhook URL followed by every POST parameter's
//! name and value in name order), and answers sent with Twilio's Messages API.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha1::Sha1;
use wamcp_core::QueueError;

/// Twilio's API, unless testing.
pub const DEFAULT_API_URL: &str = "https://api.twilio.com";

/// A Twilio account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Twilio {
    pub account_sid: String,
    pub auth_token: String,
    /// `https://api.twilio.com` unless testing.
    pub api_url: String,
    /// The webhook's URL exactly as configured at Twilio (behind a proxy it differs from what
    /// this server sees); without it, the URL is rebuilt from the request's Host.
    pub webhook_url: Option<String>,
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
    /// Whether `given` is Twilio's signature of this request, trying each URL it may have used:
    /// each with and without its port, as Twilio's own SDKs do (Twilio signs some requests with
    /// the default port written out and some without).
    pub fn verify(&self, given: &str, urls: &[String], params: &[(String, String)]) -> bool {
        let candidates: Vec<&String> = match &self.webhook_url {
            Some(url) => vec![url],
            None => urls.iter().collect(),
        };
        candidates
            .iter()
            .flat_map(|url| port_variants(url))
            .any(|url| wamcp_core::secrets_match(given, &signature(&self.auth_token, &url, params)))
    }

    /// Sends `body` from our Twilio WhatsApp number `from` to `to` (both `whatsapp:+…`); returns
    /// the message SID.
    pub async fn send(&self, from: &str, to: &str, body: &str) -> Result<String, QueueError> {
        let url =
            format!("{}/2010-04-01/Accounts/{}/Messages.json", self.api_url.trim_end_matches('/'), self.account_sid);
        let form = serde_urlencoded::to_string([("From", from), ("To", to), ("Body", body)])
            .map_err(|e| QueueError::Refused(e.to_string()))?;
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
                .map_err(|e| QueueError::Unavailable(format!("Twilio: {e}")))?;
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().map_err(|e| QueueError::Unavailable(e.to_string()))?;
            Ok::<_, QueueError>((status, text))
        })
        .await
        .map_err(|e| QueueError::Unavailable(e.to_string()))??;
        let (status, text) = answer;
        let json: Value = serde_json::from_str(&text).unwrap_or_default();
        match status {
            200..=299 => json["sid"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| QueueError::Unavailable("Twilio's answer has no message sid".into())),
            // Twilio's errors carry a message; 429 and 5xx may pass on a later try, and so may
            // credentials someone fixes: the answer waits for them instead of being lost.
            _ => {
                let message = json["message"].as_str().unwrap_or(&text).to_string();
                let error = format!("Twilio answered {status}: {message}");
                if status == 401 || status == 403 {
                    Err(QueueError::Unavailable(format!(
                        "{error}; check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (the answer waits, queued)"
                    )))
                } else if status == 429 || status >= 500 {
                    Err(QueueError::Unavailable(error))
                } else {
                    Err(QueueError::Refused(error))
                }
            }
        }
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
        let twilio =
            Twilio { account_sid: "AC1".into(), auth_token: "12345".into(), api_url: String::new(), webhook_url: None };
        let params = vec![("Body".to_string(), "hi".to_string())];
        let seen = "https://desk.example.com/webhooks/twilio/whatsapp".to_string();
        // Signed as twilio-python's validator would compute it, with the port written out.
        let with_port = signature("12345", "https://desk.example.com:443/webhooks/twilio/whatsapp", &params);
        assert!(twilio.verify(&with_port, std::slice::from_ref(&seen), &params));
        let seen_with_port = "https://desk.example.com:443/webhooks/twilio/whatsapp".to_string();
        let without_port = signature("12345", &seen, &params);
        assert!(twilio.verify(&without_port, &[seen_with_port], &params));
        assert!(!twilio.verify("bm90IGl0", &[seen], &params));
        assert_eq!(
            port_variants("http://[::1]:8766/x?y=1"),
            ["http://[::1]:8766/x?y=1", "http://[::1]/x?y=1", "http://[::1]:80/x?y=1"]
        );
    }
}
