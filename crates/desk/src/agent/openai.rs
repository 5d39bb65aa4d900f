//! Any OpenAI-compatible chat-completions server with tool calling: OpenAI itself, Ollama,
//! vLLM, llama.cpp's server. The model may call the knowledge-base search before it answers.

use serde_json::{Value, json};

use super::llm::{self, HttpSettings, KnowledgeSearch, MAX_TOOL_ROUNDS};
use super::provider::{DraftRequest, Provider, ProviderError};

pub struct OpenAi {
    /// Up to and including `/v1`, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    pub model: String,
    /// From `OPENAI_API_KEY`; local servers need none.
    pub api_key: Option<String>,
    pub http: HttpSettings,
}

/// The API's root: a bare host (`http://localhost:11434`) gets `/v1`, where OpenAI, Ollama,
/// vLLM and llama.cpp all serve it; a URL with a path of its own is taken as given.
pub fn api_root(base_url: &str) -> String {
    let trimmed = base_url.trim_end_matches('/');
    let path = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest).split_once('/').map(|(_, path)| path);
    match path {
        None | Some("") => format!("{trimmed}/v1"),
        Some(_) => trimmed.to_string(),
    }
}

impl OpenAi {
    fn error(&self, detail: impl Into<String>) -> ProviderError {
        ProviderError { provider: "openai".into(), detail: detail.into() }
    }
}

#[async_trait::async_trait]
impl Provider for OpenAi {
    fn name(&self) -> &str {
        "openai"
    }

    async fn draft(&self, request: &DraftRequest, kb: &dyn KnowledgeSearch) -> Result<String, ProviderError> {
        let url = format!("{}/chat/completions", api_root(&self.base_url));
        let headers: Vec<(&str, String)> =
            self.api_key.iter().map(|key| ("Authorization", format!("Bearer {key}"))).collect();
        let tools = json!([{
            "type": "function",
            "function": {"name": llm::SEARCH_TOOL, "description": llm::SEARCH_DESCRIPTION,
                         "parameters": llm::search_parameters()}
        }]);
        let mut messages = vec![
            json!({"role": "system", "content": llm::instructions(request.channel)}),
            json!({"role": "user", "content": llm::prompt(request)}),
        ];
        for round in 0..=MAX_TOOL_ROUNDS {
            let mut body = json!({"model": self.model, "messages": messages});
            // The last round must answer: no tools offered.
            if round < MAX_TOOL_ROUNDS {
                body["tools"] = tools.clone();
            }
            let answer = llm::post_json(self.http, &url, &headers, &body).await.map_err(|e| self.error(e))?;
            let message = &answer["choices"][0]["message"];
            let calls = message["tool_calls"].as_array().cloned().unwrap_or_default();
            if calls.is_empty() {
                return message["content"]
                    .as_str()
                    .filter(|text| !text.trim().is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| self.error("the answer has no text"));
            }
            messages.push(message.clone());
            for call in calls {
                let arguments: Value =
                    serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or("{}")).unwrap_or_default();
                let result = match call["function"]["name"].as_str() {
                    Some(llm::SEARCH_TOOL) => llm::run_search(kb, &arguments).await,
                    other => json!({"error": format!("no tool named {other:?}")}),
                };
                messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": result.to_string()}));
            }
        }
        Err(self.error("the model kept calling tools without answering"))
    }
}
