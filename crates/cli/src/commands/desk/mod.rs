//! The support desk as the CLI runs it: its settings (flags over `[desk]` in wamcp.toml), and
//! the sources of its WhatsApp feed ([`wamcp_desk::feed`]) —
//! - [`bridge_feed`]: inside the daemon (`serve --desk`, `demo --desk`), every message pushed to
//!   it the moment it is stored, answers through the daemon's outbox;
//! - [`lharries`]: beside a lharries/whatsapp-mcp Go bridge (`wamcp desk --lharries-db`), its
//!   messages.db polled, answers through its REST API;
//! - [`command`]: `wamcp desk` itself, and `wamcp desk kb import DIR`.

mod bridge_feed;
mod command;
mod lharries;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use wamcp_desk::agent::gemini::{self, Gemini};
use wamcp_desk::agent::llm::HttpSettings;
use wamcp_desk::agent::offline::Offline;
use wamcp_desk::agent::openai::{self, OpenAi};
use wamcp_desk::agent::provider::Provider;
use wamcp_desk::events::kafka::{KafkaSettings, KafkaSink};
use wamcp_desk::smtp::Smtp;
use wamcp_desk::twilio::Twilio;
use wamcp_desk::{Desk, DeskConfig, Rules, Style};

pub use bridge_feed::extension;
pub use command::{DeskCommand, run};

use crate::config::Layers;

/// The desk's flags, shared by `serve`, `demo` and `desk`.
#[derive(Debug, Args)]
pub struct DeskArgs {
    /// Run the support desk: incoming WhatsApp messages become tickets answered by the agent
    #[arg(long = "desk", id = "desk.enabled", env = "WAMCP_DESK")]
    pub enabled: bool,
    /// The desk's database: postgres://USER@HOST/DB to share one between workers [default: <data dir>/desk.db]
    #[arg(long = "desk-database-url", id = "desk.database_url", env = "WAMCP_DESK_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Sentiment at or below this (-1.0 to 1.0) sends a conversation to a person [default: -0.6]
    #[arg(
        long = "desk-sentiment-threshold",
        id = "desk.sentiment_threshold",
        value_name = "SCORE",
        allow_negative_numbers = true
    )]
    pub sentiment_threshold: Option<f64>,
    /// Who drafts answers: offline (knowledge-base templates, no network), gemini (needs
    /// GEMINI_API_KEY) or openai (any OpenAI-compatible server; OPENAI_API_KEY if it needs one)
    /// [default: offline]
    #[arg(long = "desk-provider", id = "desk.provider", env = "WAMCP_DESK_PROVIDER", value_name = "NAME")]
    pub provider: Option<String>,
    /// The model name [default: gemini-3.5-flash for gemini, gpt-6-luna for openai; checked at start]
    #[arg(long = "desk-model", id = "desk.model", env = "WAMCP_DESK_MODEL", value_name = "MODEL")]
    pub model: Option<String>,
    /// The provider's API address, e.g. http://localhost:11434/v1 for Ollama [default: the provider's own]
    #[arg(long = "desk-base-url", id = "desk.base_url", env = "WAMCP_DESK_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// The Twilio webhook's URL exactly as set at Twilio, when a proxy changes it (Twilio signs
    /// that URL) [default: rebuilt from the request]
    #[arg(long = "desk-twilio-webhook-url", id = "desk.twilio_webhook_url", value_name = "URL")]
    pub twilio_webhook_url: Option<String>,
    /// An approved WhatsApp template (HX…) sent through Twilio to ask a customer to write again
    /// when an answer is ready more than 24 hours after their last message [default: none: the
    /// answer waits until they write, marked on the ticket]
    #[arg(
        long = "desk-twilio-reengage-content-sid",
        id = "desk.twilio_reengage_content_sid",
        env = "WAMCP_DESK_TWILIO_REENGAGE_CONTENT_SID",
        value_name = "SID"
    )]
    pub twilio_reengage_content_sid: Option<String>,
    /// Kafka brokers (HOST:PORT,...) to publish the desk's events to [default: none: events stay
    /// in this process]
    #[arg(long = "kafka-brokers", id = "kafka.brokers", env = "WAMCP_KAFKA_BROKERS", value_name = "HOSTS")]
    pub kafka_brokers: Option<String>,
    /// Whom the desk answers on the daemon's WhatsApp: customers (leaves alone people in the
    /// address book and chats the owner wrote in by hand in the last 30 days) or everyone (a
    /// number used only for support) [default: customers]
    #[arg(long = "desk-answer", id = "desk.answer", env = "WAMCP_DESK_ANSWER", value_name = "WHOM")]
    pub answer: Option<String>,
    /// Where email and web-form answers are sent: smtps://USER@HOST:465, smtp://USER@HOST:587
    /// (STARTTLS) or smtp://localhost:25?tls=none; the password in WAMCP_DESK_SMTP_PASSWORD
    /// [default: none: they stay queued]
    #[arg(long = "desk-smtp-url", id = "desk.smtp_url", env = "WAMCP_DESK_SMTP_URL", value_name = "URL")]
    pub smtp_url: Option<String>,
    /// The From of email answers, like "Support <help@example.com>" (needed with --desk-smtp-url)
    #[arg(long = "desk-smtp-from", id = "desk.smtp_from", env = "WAMCP_DESK_SMTP_FROM", value_name = "ADDRESS")]
    pub smtp_from: Option<String>,
    /// Where customers' replies to email answers go [default: the From address]
    #[arg(long = "desk-smtp-reply-to", id = "desk.smtp_reply_to", value_name = "ADDRESS")]
    pub smtp_reply_to: Option<String>,
    /// Seconds before an email answer's first retry (each later one waits four times longer)
    #[arg(long = "desk-smtp-retry-after", id = "desk.smtp_retry_after", value_name = "SECONDS", hide = true)]
    pub smtp_retry_after: Option<u64>,
    /// Twilio's API address [default: https://api.twilio.com]
    #[arg(long = "desk-twilio-api-url", id = "desk.twilio_api_url", value_name = "URL", hide = true)]
    pub twilio_api_url: Option<String>,
}

/// Which provider drafts answers, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    pub name: String,
    pub model: Option<String>,
    pub base_url: Option<String>,
}

/// The desk's settings in effect.
#[derive(Debug, Clone)]
pub struct DeskSettings {
    pub database_url: Option<String>,
    pub rules: Rules,
    pub provider: ProviderSettings,
    /// From TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, when both are set.
    pub twilio: Option<Arc<Twilio>>,
    /// Where events go, when Kafka is configured.
    pub kafka: Option<KafkaSettings>,
    /// A folder of articles to import on start (the demo's sample).
    pub knowledge_base: Option<PathBuf>,
    pub answer: Answer,
    pub smtp: Option<SmtpSettings>,
    pub mail_retry_after: std::time::Duration,
}

/// Where email answers go, as configured (the password stays in the environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub url: String,
    pub from: String,
    pub reply_to: Option<String>,
}

impl SmtpSettings {
    fn transport(&self) -> anyhow::Result<Smtp> {
        let password = std::env::var(wamcp_desk::smtp::PASSWORD_ENV).ok().filter(|p| !p.is_empty());
        Ok(Smtp::new(&self.url, password, &self.from, self.reply_to.as_deref())?)
    }
}

/// Whom the desk answers on the daemon's own WhatsApp account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Answer {
    /// Strangers only: a chat with someone in the address book, or one where the owner wrote by
    /// hand in the last [`OWNER_WROTE_DAYS`] days, is the owner's own.
    #[default]
    Customers,
    /// Every direct chat: for a number used only for support.
    Everyone,
}

/// How long one event may take to reach Kafka before it is tried again.
const KAFKA_DELIVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How recent the owner's own message must be for a chat to count as theirs.
pub const OWNER_WROTE_DAYS: i64 = 30;

impl Answer {
    fn parse(name: &str) -> anyhow::Result<Answer> {
        match name.trim() {
            "customers" => Ok(Answer::Customers),
            "everyone" => Ok(Answer::Everyone),
            other => anyhow::bail!(
                "desk.answer: '{other}' is not a choice; use customers (leave friends and the owner's own chats \
                 alone) or everyone (a number used only for support)"
            ),
        }
    }
}

impl DeskArgs {
    /// The desk's settings, or `None` when it is not enabled. `always` turns it on (the demo).
    pub fn resolve(&self, layers: &mut Layers, always: bool) -> anyhow::Result<Option<DeskSettings>> {
        let file = layers.file().desk.clone().unwrap_or_default();
        let enabled =
            always || layers.pick("desk.enabled", "WAMCP_DESK", self.enabled.then_some(true), file.enabled, || false);
        if !enabled {
            return Ok(None);
        }
        let database_url = layers.pick(
            "desk.database_url",
            "WAMCP_DESK_DATABASE_URL",
            self.database_url.clone().map(Some),
            file.database_url.map(Some),
            || None,
        );
        let default = Rules::default();
        let threshold =
            layers.pick("desk.sentiment_threshold", "", self.sentiment_threshold, file.sentiment_threshold, || {
                default.sentiment_threshold
            });
        if !(-1.0..=1.0).contains(&threshold) {
            anyhow::bail!(
                "desk.sentiment_threshold: {threshold} is outside -1.0 ..= 1.0 (-1 very negative, 1 very positive)"
            );
        }
        let rules = Rules { sentiment_threshold: threshold, ..default };
        let name = layers.pick("desk.provider", "WAMCP_DESK_PROVIDER", self.provider.clone(), file.provider, || {
            "offline".to_string()
        });
        let model =
            layers.pick("desk.model", "WAMCP_DESK_MODEL", self.model.clone().map(Some), file.model.map(Some), || None);
        let base_url = layers.pick(
            "desk.base_url",
            "WAMCP_DESK_BASE_URL",
            self.base_url.clone().map(Some),
            file.base_url.map(Some),
            || None,
        );
        let provider = ProviderSettings { name, model, base_url };
        build_provider(&provider)?;
        let webhook_url = layers.pick(
            "desk.twilio_webhook_url",
            "",
            self.twilio_webhook_url.clone().map(Some),
            file.twilio_webhook_url.map(Some),
            || None,
        );
        let reengage = layers.pick(
            "desk.twilio_reengage_content_sid",
            "WAMCP_DESK_TWILIO_REENGAGE_CONTENT_SID",
            self.twilio_reengage_content_sid.clone().map(Some),
            file.twilio_reengage_content_sid.clone().map(Some),
            || None,
        );
        if let Some(sid) = &reengage
            && !(sid.len() == 34 && sid.starts_with("HX") && sid[2..].chars().all(|c| c.is_ascii_hexdigit()))
        {
            anyhow::bail!(
                "desk.twilio_reengage_content_sid: '{sid}' is not a Twilio content SID (HX and 32 hexadecimal digits, \
                 from the Content Template Builder)"
            );
        }
        let api_url = self.twilio_api_url.clone().or(file.twilio_api_url);
        let twilio = twilio_from_env(webhook_url, api_url, reengage).map(Arc::new);
        let kafka_file = layers.file().kafka.clone().unwrap_or_default();
        let kafka_brokers = layers.pick(
            "kafka.brokers",
            "WAMCP_KAFKA_BROKERS",
            self.kafka_brokers.clone().map(Some),
            kafka_file.brokers.map(Some),
            || None,
        );
        let properties = kafka_file.properties.unwrap_or_default();
        let kafka = match kafka_brokers {
            Some(brokers) => {
                let kafka = KafkaSettings { brokers, properties };
                kafka.client_config(KAFKA_DELIVERY_TIMEOUT).map_err(anyhow::Error::msg)?;
                Some(kafka)
            }
            None if !properties.is_empty() => {
                anyhow::bail!("kafka.properties: set, but kafka.brokers is not: give the brokers (HOST:PORT,...)")
            }
            None => None,
        };
        let answer = layers
            .pick("desk.answer", "WAMCP_DESK_ANSWER", self.answer.clone(), file.answer, || "customers".to_string());
        let answer = Answer::parse(&answer)?;
        let smtp_url = layers.pick(
            "desk.smtp_url",
            "WAMCP_DESK_SMTP_URL",
            self.smtp_url.clone().map(Some),
            file.smtp_url.clone().map(Some),
            || None,
        );
        let smtp_from = layers.pick(
            "desk.smtp_from",
            "WAMCP_DESK_SMTP_FROM",
            self.smtp_from.clone().map(Some),
            file.smtp_from.clone().map(Some),
            || None,
        );
        let reply_to = layers.pick(
            "desk.smtp_reply_to",
            "",
            self.smtp_reply_to.clone().map(Some),
            file.smtp_reply_to.map(Some),
            || None,
        );
        let smtp = match (smtp_url, smtp_from) {
            (Some(url), Some(from)) => {
                let settings = SmtpSettings { url, from, reply_to };
                settings.transport()?;
                Some(settings)
            }
            (Some(_), None) => {
                anyhow::bail!("desk.smtp_from: email answers need a From address, like \"Support <help@example.com>\"")
            }
            (None, _) => None,
        };
        let mail_retry_after =
            self.smtp_retry_after.map(std::time::Duration::from_secs).unwrap_or(wamcp_desk::delivery::MAIL_RETRY_AFTER);
        Ok(Some(DeskSettings {
            database_url,
            rules,
            provider,
            twilio,
            kafka,
            knowledge_base: None,
            answer,
            smtp,
            mail_retry_after,
        }))
    }
}

/// Opens the desk's database.
pub async fn open(settings: &DeskSettings, data_dir: &Path) -> anyhow::Result<Arc<Desk>> {
    let config = DeskConfig {
        database_url: settings.database_url.clone(),
        data_dir: data_dir.to_path_buf(),
        rules: settings.rules,
        style: Style::default(),
        provider: build_provider(&settings.provider)?,
        twilio: settings.twilio.clone(),
        smtp: settings.smtp.as_ref().map(SmtpSettings::transport).transpose()?,
        mail_retry_after: settings.mail_retry_after,
        sink: match &settings.kafka {
            Some(kafka) => Some(Arc::new(KafkaSink::new(kafka, KAFKA_DELIVERY_TIMEOUT).map_err(anyhow::Error::msg)?)),
            None => None,
        },
    };
    // A knowledge base folder that cannot be read is refused before the desk is opened.
    let folder = settings.knowledge_base.as_deref().map(wamcp_desk::kb::read_folder).transpose()?;
    let desk = Desk::open(config).await?;
    desk.check_provider().await?;
    if let Some(folder) = folder {
        wamcp_desk::kb::store(&desk.db, folder).await?;
    }
    Ok(desk)
}

/// Twilio's credentials from the environment (never from a file that might be shared).
fn twilio_from_env(
    webhook_url: Option<String>,
    api_url: Option<String>,
    reengage_content_sid: Option<String>,
) -> Option<Twilio> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut twilio = Twilio::new(
        env("TWILIO_ACCOUNT_SID")?,
        env("TWILIO_AUTH_TOKEN")?,
        api_url.unwrap_or_else(|| wamcp_desk::twilio::DEFAULT_API_URL.to_string()),
    );
    twilio.webhook_url = webhook_url;
    twilio.reengage_content_sid = reengage_content_sid;
    Some(twilio)
}

/// The provider named in the settings, with its key from the environment.
fn build_provider(settings: &ProviderSettings) -> anyhow::Result<Arc<dyn Provider>> {
    let key = |name: &str| std::env::var(name).ok().filter(|k| !k.trim().is_empty());
    let http = HttpSettings::default();
    Ok(match settings.name.as_str() {
        "offline" => Arc::new(Offline),
        "gemini" => Arc::new(Gemini {
            base_url: settings.base_url.clone().unwrap_or_else(|| gemini::DEFAULT_BASE_URL.to_string()),
            model: settings.model.clone().unwrap_or_else(|| gemini::DEFAULT_MODEL.to_string()),
            api_key: key("GEMINI_API_KEY").or_else(|| key("GOOGLE_API_KEY")).ok_or_else(|| {
                anyhow::anyhow!("desk.provider: gemini needs an API key in GEMINI_API_KEY (or GOOGLE_API_KEY)")
            })?,
            http,
        }),
        "openai" => Arc::new(OpenAi::new(
            settings.base_url.clone().unwrap_or_else(|| openai::DEFAULT_BASE_URL.to_string()),
            settings.model.clone().unwrap_or_else(|| openai::DEFAULT_MODEL.to_string()),
            key("OPENAI_API_KEY"),
            http,
        )),
        other => anyhow::bail!("desk.provider: '{other}' is not a provider; use offline, gemini or openai"),
    })
}
