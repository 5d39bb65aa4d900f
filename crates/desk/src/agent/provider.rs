//! What drafts an answer: the offline templates, or a language model behind an API. Every
//! provider gets the same request (the customer's message, their history across channels, the
//! best knowledge-base articles) and returns text; the agent shapes it for the channel, so no
//! provider can break the channel's limits.

use crate::language::Lang;
use serde::Serialize;

use super::llm::KnowledgeSearch;
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
    pub detail: String,
}

#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// A short name for logs and ticket details: `offline`, `gemini`, `openai`.
    fn name(&self) -> &str;

    /// Drafts the answer; `kb` is there for models that search by themselves.
    async fn draft(&self, request: &DraftRequest, kb: &dyn KnowledgeSearch) -> Result<String, ProviderError>;
}
