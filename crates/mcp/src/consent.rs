//! The user's consent to a send under the `confirm` policy, asked of the user and not of the
//! model.
//!
//! A token that the model passes back (`confirm_send`) proves nothing: a model that fell for an
//! instruction planted in a message can call both tools. Where the client can put a question to
//! its user (MCP elicitation: Claude Code, VS Code, Cursor), the send tool asks there (who it is
//! for, what it says, accept or decline) and returns after the answer. Only an acceptance sends;
//! a decline, a dismissal, no answer in time or a failed question sends nothing.

use std::time::Duration;

use rmcp::model::{ElicitRequestParams, ElicitationAction, ElicitationSchema};
use rmcp::service::ElicitationMode;
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

/// Whether this client can be asked: it declared form elicitation, on a protocol revision that
/// still lets a server send it requests.
pub fn can_ask(peer: &Peer<RoleServer>) -> bool {
    let revision_allows =
        peer.peer_info().is_none_or(|info| info.protocol_version < rmcp::model::ProtocolVersion::V_2026_07_28);
    revision_allows && peer.supported_elicitation_modes().contains(&ElicitationMode::Form)
}

/// Puts `question` to the user, with nothing to fill in: accept or decline.
pub async fn ask(peer: &Peer<RoleServer>, question: String, timeout: Duration) -> Consent {
    if !can_ask(peer) {
        return Consent::CannotAsk;
    }
    let params = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: question,
        requested_schema: ElicitationSchema::builder()
            .build()
            .unwrap_or_else(|_| unreachable!("an empty form is valid")),
    };
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
