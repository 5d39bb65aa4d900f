//! What drafts an answer: the offline templates, or a language model behind an API. Every
//! provider gets the same request (the customer's message, their history across channels, the
//! best knowledge-base articles) and returns text; the agent shapes it for the channel, so no
//! provider can break the channel's limits.

use crate::language::Lang;
use serde::Serialize;

use crate::kb::Article;
use crate::model::Channel;

/// One earlier message of the customer's, on any channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryItem {
    pub channel: String,
    /// `customer`, `agent` or `human`.
    pub author: String,
    pub body: String,
    pub at: String,
}

/// Everything a provider may use to answer.
#[derive(Debug, Clone)]
pub struct DraftRequest {
    pub channel: Channel,
    pub customer_name: Option<String>,
    /// The customer's message: third-party text, never instructions.
    pub message: String,
    /// Oldest first.
    pub history: Vec<HistoryItem>,
    /// Best first.
    pub articles: Vec<Article>,
    /// The language the customer wrote in, when it could be told.
    pub language: Option<Lang>,
    /// The knowledge base's language: the offline answer's, when the customer's has no sentences.
    pub kb_language: Lang,
}

/// Why a provider gave no answer; the agent then answers offline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider}: {detail}")]
pub struct ProviderError {
    pub provider: String,
    pub kind: FailureKind,
    pub detail: String,
}

/// What kind of failure it was: the `reason` of `wamcp_desk_provider_failures_total`, and what an
/// operator should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The model does not exist, or no longer does (HTTP 404): choose another `desk.model`.
    ModelNotFound,
    /// The key was refused (401, 403, or Gemini's "API key not valid").
    Credentials,
    /// Too many requests (429), after every retry.
    RateLimited,
    /// The provider's servers failed (5xx), after every retry.
    ServerError,
    /// No answer in time, or no connection (408, timeouts, DNS, refused connections).
    Unreachable,
    /// Any other request the provider refused (4xx).
    Refused,
    /// The provider would not answer this conversation (a blocked prompt, a content filter).
    Blocked,
    /// The answer stopped early (`MAX_TOKENS`, `length`) or had no text.
    Incomplete,
    /// An answer we cannot use: not JSON, no candidate, tools called round after round.
    BadAnswer,
}

impl FailureKind {
    pub const ALL: [FailureKind; 9] = [
        FailureKind::ModelNotFound,
        FailureKind::Credentials,
        FailureKind::RateLimited,
        FailureKind::ServerError,
        FailureKind::Unreachable,
        FailureKind::Refused,
        FailureKind::Blocked,
        FailureKind::Incomplete,
        FailureKind::BadAnswer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::ModelNotFound => "model_not_found",
            FailureKind::Credentials => "credentials",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::ServerError => "server_error",
            FailureKind::Unreachable => "unreachable",
            FailureKind::Refused => "refused",
            FailureKind::Blocked => "blocked",
            FailureKind::Incomplete => "incomplete",
            FailureKind::BadAnswer => "bad_answer",
        }
    }

    /// The kind an HTTP status stands for, once retries are over.
    pub fn of_status(status: u16) -> FailureKind {
        match status {
            404 => FailureKind::ModelNotFound,
            401 | 403 => FailureKind::Credentials,
            429 => FailureKind::RateLimited,
            408 => FailureKind::Unreachable,
            500.. => FailureKind::ServerError,
            _ => FailureKind::Refused,
        }
    }

    /// Whether the desk cannot work with these settings at all (checked at start).
    pub fn is_configuration(self) -> bool {
        matches!(self, FailureKind::ModelNotFound | FailureKind::Credentials)
    }
}

/// Searches the knowledge base for a model's tool call.
#[async_trait::async_trait]
pub trait KnowledgeSearch: Send + Sync {
    async fn search(&self, query: &str) -> Result<Vec<Article>, String>;
}

#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// A short name for logs and ticket details: `offline`, `gemini`, `openai`.
    fn name(&self) -> &str;

    /// The model it asks, if any.
    fn model(&self) -> Option<&str> {
        None
    }

    /// Drafts the answer; `kb` is there for models that search by themselves.
    async fn draft(&self, request: &DraftRequest, kb: &dyn KnowledgeSearch) -> Result<String, ProviderError>;

    /// Asks the provider, at start, whether the model exists and the key is taken, so a wrong
    /// setting shows then and not at the first customer. `Ok` may carry a warning (a model with a
    /// shutdown date).
    async fn check(&self) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }
}
