//! The provider that needs no network: answers from the best knowledge-base article with a
//! template, or asks the customer for more detail when nothing matched. It cannot fail, which is
//! why every other provider falls back to it.

use super::llm::KnowledgeSearch;
use super::provider::{DraftRequest, Provider, ProviderError};
use crate::model::Channel;

pub struct Offline;

impl Offline {
    /// The answer, infallibly.
    pub fn answer(request: &DraftRequest) -> String {
        let Some(article) = request.articles.first() else {
            return "Thanks for your message. I could not find an answer to that yet: could you tell me a bit \
                    more, for example an order number or what you were trying to do?"
                .to_string();
        };
        match request.channel {
            // Short channels get the article's gist under its title.
            Channel::Whatsapp => format!("*{}*\n{}", article.title, first_paragraph(&article.body)),
            Channel::Email | Channel::WebForm => {
                format!(
                    "Thank you for getting in touch. Here is what we can tell you about {}:\n\n{}",
                    article.title, article.body
                )
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

fn first_paragraph(body: &str) -> &str {
    body.trim().split("\n\n").next().unwrap_or_default().trim()
}
