//! Any OpenAI-compatible chat-completions server with tool calling: OpenAI itself, Ollama,
//! vLLM, llama.cpp's server. The model may call the knowledge-base search before it answers; the
//! last round keeps the tool but forbids calling it (`tool_choice: "none"`).
//!
//! A model that takes no tools (Ollama answers 400 "does not support tools") is asked again
//! without them, with the best articles already in the prompt, and never offered tools again.
//! An answer cut off (`finish_reason: "length"`) or filtered is a failure, as with Gemini.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use super::llm::{self, CallError, HttpSettings, MAX_TOOL_ROUNDS};
use super::provider::KnowledgeSearch;
use super::provider::{DraftRequest, FailureKind, Provider, ProviderError};

/// OpenAI's own API.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The model used unless `desk.model` names another.
pub const DEFAULT_MODEL: &str = "gpt-6-luna";

pub struct OpenAi {
    /// Up to and including `/v1`, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    pub model: String,
    /// From `OPENAI_API_KEY`; local servers need none.
    pub api_key: Option<String>,
    pub http: HttpSettings,
    /// Set once the server said this model takes no tools.
    tools_refused: AtomicBool,
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

/// Whether a refusal says the model cannot take tools (Ollama's words; llama.cpp without
/// `--jinja` says it "does not support tools" too).
fn refuses_tools(error: &CallError) -> bool {
    error.status == Some(400) && error.detail.contains("does not support tools")
}

impl OpenAi {
    pub fn new(
        base_url: impl Into<String>,
        model: impl Into<String>,
        api_key: Option<String>,
        http: HttpSettings,
    ) -> OpenAi {
        OpenAi { base_url: base_url.into(), model: model.into(), api_key, http, tools_refused: AtomicBool::new(false) }
    }

    fn error(&self, kind: FailureKind, detail: impl Into<String>) -> ProviderError {
        ProviderError { provider: "openai".into(), kind, detail: detail.into() }
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        self.api_key.iter().map(|key| ("Authorization", format!("Bearer {key}"))).collect()
    }

    /// Whether `listed` (an id from `/models`) is the configured model; Ollama lists
    /// `llama3.1:latest` for what requests call `llama3.1`.
    fn is_ours(&self, listed: &str) -> bool {
        listed == self.model || listed.strip_suffix(":latest") == Some(self.model.as_str())
    }
}

#[async_trait::async_trait]
impl Provider for OpenAi {
    fn name(&self) -> &str {
        "openai"
    }

    fn model(&self) -> Option<&str> {
        Some(&self.model)
    }

    /// Lists the server's models (`GET /models`: OpenAI, Ollama, vLLM and llama.cpp all serve
    /// it) and looks for ours, with its `shutdown_date` when OpenAI gives one.
    async fn check(&self) -> Result<Option<String>, ProviderError> {
        let root = api_root(&self.base_url);
        let answer = match llm::get_json(self.http.for_check(), &format!("{root}/models"), &self.headers()).await {
            Ok(answer) => answer,
            // A server without the list cannot tell; the first answer will.
            Err(error) if error.kind == FailureKind::ModelNotFound => {
                return Ok(Some(format!("{root}/models is not there, so the model could not be checked")));
            }
            Err(error) => return Err(error.of("openai")),
        };
        let listed: Vec<&Value> = answer["data"].as_array().map(|d| d.iter().collect()).unwrap_or_default();
        let Some(ours) = listed.iter().find(|m| m["id"].as_str().is_some_and(|id| self.is_ours(id))) else {
            let names: Vec<&str> = listed.iter().filter_map(|m| m["id"].as_str()).take(12).collect();
            return Err(self.error(
                FailureKind::ModelNotFound,
                format!(
                    "{root} does not serve a model '{}'; it serves: {}",
                    self.model,
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                ),
            ));
        };
        Ok(ours["shutdown_date"].as_str().map(|date| {
            format!("the model '{}' shuts down on {date}: choose another desk.model before then", self.model)
        }))
    }

    async fn draft(&self, request: &DraftRequest, kb: &dyn KnowledgeSearch) -> Result<String, ProviderError> {
        let url = format!("{}/chat/completions", api_root(&self.base_url));
        let headers = self.headers();
        let tools = json!([{
            "type": "function",
            "function": {"name": llm::SEARCH_TOOL, "description": llm::SEARCH_DESCRIPTION,
                         "parameters": llm::search_parameters()}
        }]);
        let mut with_tools = !self.tools_refused.load(Ordering::Relaxed);
        let start = |with_tools: bool| {
            vec![
                json!({"role": "system", "content": llm::instructions(request.channel, with_tools)}),
                json!({"role": "user", "content": llm::prompt(request)}),
            ]
        };
        let mut messages = start(with_tools);
        let mut round = 0;
        while round <= MAX_TOOL_ROUNDS {
            let mut body = json!({"model": self.model, "messages": messages});
            if with_tools {
                body["tools"] = tools.clone();
                if round == MAX_TOOL_ROUNDS {
                    // The history holds calls to the tool: keep it declared, but the model must answer.
                    body["tool_choice"] = json!("none");
                }
            }
            let answer = match llm::post_json(self.http, &url, &headers, &body).await {
                Ok(answer) => answer,
                Err(error) if with_tools && refuses_tools(&error) => {
                    tracing::warn!(
                        "desk: the model '{}' takes no tools; it is asked without them, with the best articles \
                         in the prompt",
                        self.model
                    );
                    self.tools_refused.store(true, Ordering::Relaxed);
                    with_tools = false;
                    messages = start(false);
                    round = 0;
                    continue;
                }
                Err(error) => return Err(error.of("openai")),
            };
            let choice = &answer["choices"][0];
            let message = &choice["message"];
            let calls = message["tool_calls"].as_array().cloned().unwrap_or_default();
            if calls.is_empty() {
                match choice["finish_reason"].as_str() {
                    Some("length") => {
                        return Err(self.error(FailureKind::Incomplete, "the answer did not finish (length)"));
                    }
                    Some("content_filter") => {
                        return Err(self.error(FailureKind::Blocked, "the answer was filtered (content_filter)"));
                    }
                    _ => {}
                }
                return message["content"]
                    .as_str()
                    .filter(|text| !text.trim().is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| self.error(FailureKind::Incomplete, "the answer has no text"));
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
            round += 1;
        }
        Err(self.error(FailureKind::BadAnswer, "the model kept calling tools without answering"))
    }
}
