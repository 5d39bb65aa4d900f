//! Google's Gemini through the Generative Language API (`models/{model}:generateContent`), with
//! the knowledge-base search as a function the model may call before it answers.
//!
//! The last round keeps the declarations (the history holds calls to them) and forbids calling
//! with `toolConfig.functionCallingConfig.mode = "NONE"`, as the API documents. An answer counts
//! only when it finished for `STOP`: a blocked prompt (`promptFeedback.blockReason`), a cut-off
//! one (`MAX_TOKENS`) or one stopped for safety is a failure with its reason, and the desk
//! answers offline instead.

use serde_json::{Value, json};

use super::llm::{self, HttpSettings, MAX_TOOL_ROUNDS};
use super::provider::KnowledgeSearch;
use super::provider::{DraftRequest, FailureKind, Provider, ProviderError};

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";
/// The model used unless `desk.model` names another: generally available, with function calling.
pub const DEFAULT_MODEL: &str = "gemini-3.5-flash";

pub struct Gemini {
    /// `https://generativelanguage.googleapis.com/v1beta` unless testing.
    pub base_url: String,
    pub model: String,
    /// From `GEMINI_API_KEY`.
    pub api_key: String,
    pub http: HttpSettings,
}

impl Gemini {
    fn error(&self, kind: FailureKind, detail: impl Into<String>) -> ProviderError {
        ProviderError { provider: "gemini".into(), kind, detail: detail.into() }
    }

    fn root(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }
}

#[async_trait::async_trait]
impl Provider for Gemini {
    fn name(&self) -> &str {
        "gemini"
    }

    fn model(&self) -> Option<&str> {
        Some(&self.model)
    }

    /// `models.get`: 404 for a model that does not exist (or was shut down), 400/403 for a key
    /// that is refused.
    async fn check(&self) -> Result<Option<String>, ProviderError> {
        let url = format!("{}/models/{}", self.root(), self.model);
        let headers = [("x-goog-api-key", self.api_key.clone())];
        let answer = llm::get_json(self.http.for_check(), &url, &headers).await.map_err(|e| match e.kind {
            FailureKind::ModelNotFound => self.error(
                e.kind,
                format!(
                    "there is no model '{}' (it may have been shut down; see \
                     https://ai.google.dev/gemini-api/docs/models): {}",
                    self.model, e.detail
                ),
            ),
            _ => e.of("gemini"),
        })?;
        let methods = answer["supportedGenerationMethods"].as_array();
        if methods.is_some_and(|m| !m.iter().any(|m| m == "generateContent")) {
            return Err(self.error(
                FailureKind::ModelNotFound,
                format!("the model '{}' cannot generate content (it is not a text model)", self.model),
            ));
        }
        Ok(None)
    }

    async fn draft(&self, request: &DraftRequest, kb: &dyn KnowledgeSearch) -> Result<String, ProviderError> {
        let url = format!("{}/models/{}:generateContent", self.root(), self.model);
        let headers = [("x-goog-api-key", self.api_key.clone())];
        let tools = json!([{"functionDeclarations": [{
            "name": llm::SEARCH_TOOL, "description": llm::SEARCH_DESCRIPTION, "parameters": llm::search_parameters()
        }]}]);
        let mut contents = vec![json!({"role": "user", "parts": [{"text": llm::prompt(request)}]})];
        for round in 0..=MAX_TOOL_ROUNDS {
            let mut body = json!({
                "systemInstruction": {"parts": [{"text": llm::instructions(request.channel, true)}]},
                "contents": contents,
            });
            body["tools"] = tools.clone();
            if round == MAX_TOOL_ROUNDS {
                body["toolConfig"] = json!({"functionCallingConfig": {"mode": "NONE"}});
            }
            let answer = llm::post_json(self.http, &url, &headers, &body).await.map_err(|e| e.of("gemini"))?;
            if let Some(blocked) = answer["promptFeedback"]["blockReason"].as_str() {
                return Err(self.error(FailureKind::Blocked, format!("the prompt was blocked ({blocked})")));
            }
            let candidate = &answer["candidates"][0];
            if candidate.is_null() {
                return Err(self.error(FailureKind::BadAnswer, "the answer has no candidate"));
            }
            let content = &candidate["content"];
            let parts = content["parts"].as_array().cloned().unwrap_or_default();
            let calls: Vec<&Value> = parts.iter().filter(|p| p.get("functionCall").is_some()).collect();
            if calls.is_empty() {
                let finish = candidate["finishReason"].as_str().unwrap_or("no finish reason");
                if finish != "STOP" {
                    // A partial answer (MAX_TOKENS) is not an answer to send.
                    let kind = match finish {
                        "MAX_TOKENS" | "no finish reason" => FailureKind::Incomplete,
                        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "LANGUAGE" => {
                            FailureKind::Blocked
                        }
                        _ => FailureKind::BadAnswer,
                    };
                    return Err(self.error(kind, format!("the answer did not finish ({finish})")));
                }
                let text: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
                if text.trim().is_empty() {
                    return Err(self.error(FailureKind::Incomplete, "the answer has no text (STOP)"));
                }
                return Ok(text);
            }
            let mut responses = Vec::new();
            for call in calls {
                let name = call["functionCall"]["name"].as_str().unwrap_or_default().to_string();
                let result = if name == llm::SEARCH_TOOL {
                    llm::run_search(kb, &call["functionCall"]["args"]).await
                } else {
                    json!({"error": format!("no function named {name:?}")})
                };
                responses.push(json!({"functionResponse": {"name": name, "response": result}}));
            }
            contents.push(json!({"role": "model", "parts": parts}));
            contents.push(json!({"role": "user", "parts": responses}));
        }
        Err(self.error(FailureKind::BadAnswer, "the model kept calling functions without answering"))
    }
}
