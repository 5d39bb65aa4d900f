//! The provider that needs no network: answers from the best knowledge-base article with a
//! template, or asks the customer for more detail when nothing matched. It cannot fail, which is
//! why every other provider falls back to it.

use super::provider::KnowledgeSearch;
use super::provider::{DraftRequest, Provider, ProviderError};
use crate::language::{ENGLISH, Lang, Phrases};
use crate::model::Channel;

pub struct Offline;

impl Offline {
    /// The answer, infallibly: its own sentences in the customer's language where it has them,
    /// else in the knowledge base's.
    pub fn answer(request: &DraftRequest) -> String {
        let phrases = sentences_for(request.language, request.kb_language);
        let Some(article) = request.articles.first() else {
            return phrases.not_found.to_string();
        };
        match request.channel {
            // Short channels get the article's gist under its title.
            Channel::Whatsapp => format!("*{}*\n{}", article.title, first_paragraph(&article.body)),
            Channel::Email | Channel::WebForm => {
                format!("{}\n\n{}", phrases.here_is.replace("{title}", &article.title), article.body)
            }
        }
    }
}

#[async_trait::async_trait]
impl Provider for Offline {
    fn name(&self) -> &str {
        "offline"
    }

    async fn draft(&self, request: &DraftRequest, _: &dyn KnowledgeSearch) -> Result<String, ProviderError> {
        Ok(Offline::answer(request))
    }
}

/// The desk's sentences in the customer's language, else the knowledge base's, else English.
pub fn sentences_for(customer: Option<Lang>, kb: Lang) -> &'static Phrases {
    customer.and_then(Lang::phrases).or_else(|| kb.phrases()).unwrap_or(&ENGLISH)
}

fn first_paragraph(body: &str) -> &str {
    body.trim().split("\n\n").next().unwrap_or_default().trim()
}
