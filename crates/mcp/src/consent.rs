//! The user's consent to a send under the `confirm` policy, asked of the user and not of the
//! model.
//!
//! A token that the model passes back (`confirm_send`) proves nothing: a model that fell for an
//! instruction planted in a message can call both tools. Where the client can put a question to
//! its user (MCP elicitation: Claude Code, VS Code, Cursor), the send tool asks there (who it is
//! for, what it says, accept or decline) and returns after the answer. Only an acceptance sends;
//! a decline, a dismissal, no answer in time or a failed question sends nothing.
//!
//! Up to the 2025-11-25 revision the server asks with an `elicitation/create` request of its own
//! ([`ask`]). The 2026-07-28 revision forbids those: the call answers `input_required` with the
//! question and an opaque state ([`input_required`]), the client asks its user and calls again
//! with the answer and the state ([`Answer::read`]), and the send held under that state is the
//! one that goes.

use std::time::Duration;

use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, InputRequest,
    InputRequiredResult, ProtocolVersion,
};
use rmcp::service::{ElicitationMode, RequestContext};
use rmcp::{Peer, RoleServer};

/// How long the user has to answer, unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What the user said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consent {
    /// The user accepted: send.
    Given,
    /// The user said no, or could not be asked to the end: send nothing.
    Refused(Refusal),
    /// The client cannot ask its user: fall back to the token.
    CannotAsk,
}

/// Why nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Declined,
    Dismissed,
    NoAnswerWithin(Duration),
    QuestionFailed(String),
}

impl Refusal {
    /// What the tool result says.
    pub fn said(&self) -> String {
        match self {
            Refusal::Declined => "Not sent: the user declined.".to_string(),
            Refusal::Dismissed => "Not sent: the user dismissed the question without accepting.".to_string(),
            Refusal::NoAnswerWithin(wait) => format!("Not sent: the user did not answer within {} s.", wait.as_secs()),
            Refusal::QuestionFailed(why) => format!("Not sent: the question to the user failed ({why})."),
        }
    }

    /// The status word in the structured result.
    pub fn status(&self) -> &'static str {
        match self {
            Refusal::Declined => "declined",
            Refusal::Dismissed => "dismissed",
            Refusal::NoAnswerWithin(_) => "no_answer",
            Refusal::QuestionFailed(_) => "not_asked",
        }
    }
}

/// How this request's client can be asked, if it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asking {
    /// With an `elicitation/create` request of the server's own (up to 2025-11-25).
    Request,
    /// By answering `input_required` (2026-07-28 on).
    InputRequired,
}

/// Whether and how the client behind this request can ask its user: it declared form
/// elicitation (for the session, or on the request itself on 2026-07-28).
pub fn asking(context: &RequestContext<RoleServer>) -> Option<Asking> {
    let elicitation = context.client_capabilities()?.elicitation?;
    // A client that names no mode takes forms.
    let forms = elicitation.form.is_some() || elicitation.url.is_none();
    let modern = context.protocol_version().is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
    match (forms, modern) {
        (false, _) => None,
        (true, false) => Some(Asking::Request),
        (true, true) => Some(Asking::InputRequired),
    }
}

/// The question as MCP carries it: a form with nothing to fill in, accept or decline.
fn question_params(question: String) -> ElicitRequestParams {
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: question,
        requested_schema: ElicitationSchema::builder()
            .build()
            .unwrap_or_else(|_| unreachable!("an empty form is valid")),
    }
}

/// The name of the one input a send asks for.
const CONSENT_INPUT: &str = "consent";

/// The `input_required` answer that puts `question` to the user; `state` names the held send.
pub fn input_required(question: String, state: String) -> InputRequiredResult {
    let request = InputRequest::Elicitation(ElicitRequest::new(question_params(question)));
    InputRequiredResult::new(Some([(CONSENT_INPUT.to_string(), request)].into()), Some(state))
}

/// What a client sent back in the next round: the user's answer, and the state it echoes.
pub struct Answer {
    pub state: String,
    pub consent: Consent,
}

impl Answer {
    /// The answer a retried call carries, if it carries one. Anything but an acceptance of the
    /// question is a refusal.
    pub fn read(responses: Option<rmcp::model::InputResponses>, state: Option<String>) -> Option<Answer> {
        let (mut responses, state) = (responses?, state?);
        let response = responses.remove(CONSENT_INPUT)?;
        let consent = match serde_json::from_value::<ElicitResult>(response).map(|r| r.action) {
            Ok(ElicitationAction::Accept) => Consent::Given,
            Ok(ElicitationAction::Decline) => Consent::Refused(Refusal::Declined),
            Ok(_) => Consent::Refused(Refusal::Dismissed),
            Err(e) => Consent::Refused(Refusal::QuestionFailed(format!("the answer could not be read: {e}"))),
        };
        Some(Answer { state, consent })
    }
}

/// Puts `question` to the user with a request of the server's own, and waits for the answer.
pub async fn ask(peer: &Peer<RoleServer>, question: String, timeout: Duration) -> Consent {
    if !peer.supported_elicitation_modes().contains(&ElicitationMode::Form) {
        return Consent::CannotAsk;
    }
    let params = question_params(question);
    match peer.create_elicitation_with_timeout(params, Some(timeout)).await {
        Ok(answer) => match answer.action {
            ElicitationAction::Accept => Consent::Given,
            ElicitationAction::Decline => Consent::Refused(Refusal::Declined),
            ElicitationAction::Cancel => Consent::Refused(Refusal::Dismissed),
            // An answer this server does not know is not an acceptance.
            _ => Consent::Refused(Refusal::Dismissed),
        },
        Err(rmcp::ServiceError::Timeout { .. }) => Consent::Refused(Refusal::NoAnswerWithin(timeout)),
        Err(e) => Consent::Refused(Refusal::QuestionFailed(e.to_string())),
    }
}
