//! The agent: answers one customer message at a time, always in this order —
//! 1. the ticket (created or reused at intake) is loaded, and left alone if a person has it;
//! 2. the customer's history across every channel is loaded;
//! 3. the knowledge base is searched;
//! 4. it decides: escalate (the rules in [`crate::escalation`] come first) or answer (the
//!    provider drafts; if the provider fails, the offline answer is used — never silence);
//! 5. the response is stored with the ticket's new state and events in one transaction, then sent.
//!
//! Messages are claimed before work starts, so several workers (on PostgreSQL, several
//! processes) never answer the same message twice; a claim left by a crashed worker expires.

pub mod gemini;
pub mod health;
pub mod llm;
pub mod offline;
pub mod openai;
pub mod provider;

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use wamcp_core::Timestamp;

use crate::DeskError;
use crate::db::Db;
use crate::escalation::{Reason, Rules};
use crate::events::{self, topics};
use crate::kb;
use crate::language;
use crate::model::{AgentState, Author, Channel, TicketStatus, new_id};
use crate::reply::{self, Style};
use offline::Offline;
use provider::{DraftRequest, HistoryItem, Provider};

/// How long a claim on a message holds before another worker may take it over.
const CLAIM_LEASE_MS: i64 = 5 * 60 * 1000;
/// How much history a provider sees.
const HISTORY_LIMIT: i64 = 20;
/// How many articles a provider sees.
const ARTICLES: i64 = 3;

/// The pipeline's steps, as [`Outcome::steps`] lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Ticket,
    History,
    KnowledgeBase,
    Decide,
    Send,
}

/// What the agent decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Decision {
    /// Answered, from this article if one matched, by this provider.
    Answer {
        article: Option<String>,
        provider: String,
    },
    Escalate {
        reason: Reason,
    },
}

/// What handling one message did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub ticket_id: String,
    pub steps: Vec<Step>,
    pub decision: Decision,
    /// The stored response (answer or hand-over notice).
    pub response_id: String,
    pub history_len: usize,
    /// From the customer's message being stored to the response being stored.
    pub response_ms: i64,
}

pub struct Agent {
    pub db: Db,
    pub provider: Arc<dyn Provider>,
    /// How the provider has been doing in this process.
    pub health: Arc<health::ProviderHealth>,
    pub rules: Rules,
    pub style: Style,
    /// Whose claims this agent's are: its bridge ([`wamcp_core::TextOutbox::sender`]), once the
    /// desk has one.
    pub claimant: std::sync::OnceLock<String>,
}

/// The message being answered, with its ticket.
struct Work {
    body: String,
    /// An attachment with no words to read: a person answers it.
    wordless: bool,
    channel: Channel,
    via: String,
    address: String,
    channel_account: Option<String>,
    ticket_id: String,
    conversation_id: String,
    customer_id: String,
    customer_name: Option<String>,
    ticket_status: Option<TicketStatus>,
    kb_misses: i64,
    first_response: bool,
    received_at: i64,
}

impl Agent {
    /// Answers (or escalates) the inbound message `message_id`. `None` when another worker has
    /// it, it was handled already, or its ticket is with a person.
    pub async fn handle(&self, message_id: &str) -> Result<Option<Outcome>, DeskError> {
        if !self.claim(message_id).await? {
            return Ok(None);
        }
        match self.answer_claimed(message_id).await {
            Ok(outcome) => Ok(outcome),
            Err(error) => {
                // Nothing was answered (the response is stored in one transaction, which failed):
                // the message waits for the next round, not for its claim to expire. A database
                // gone for a moment, or a serialization failure on PostgreSQL, ends here.
                self.release(message_id).await?;
                Err(error)
            }
        }
    }

    /// Gives a claimed message back to the waiting ones.
    async fn release(&self, message_id: &str) -> Result<(), DeskError> {
        sqlx::query("UPDATE messages SET agent_state = 'pending' WHERE id = $1 AND agent_state = 'working'")
            .bind(message_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The work on a message this agent has claimed.
    async fn answer_claimed(&self, message_id: &str) -> Result<Option<Outcome>, DeskError> {
        let mut steps = vec![Step::Ticket];
        let work = self.load(message_id).await?;
        if matches!(work.ticket_status, Some(TicketStatus::Escalated | TicketStatus::Resolved)) {
            // A person took over after this message came in: the agent stays out.
            self.set_state(message_id, AgentState::Held).await?;
            return Ok(None);
        }
        steps.push(Step::History);
        let history = self.history(&work.customer_id, message_id).await?;
        steps.push(Step::KnowledgeBase);
        // A placeholder such as `[voice]` is nothing to search for, and finding nothing is no miss.
        let articles = if work.wordless { Vec::new() } else { kb::search(&self.db, &work.body, ARTICLES).await? };
        steps.push(Step::Decide);
        let misses = match (work.wordless, articles.is_empty()) {
            (true, _) => work.kb_misses,
            (false, true) => work.kb_misses + 1,
            (false, false) => 0,
        };
        let language = language::detect(&work.body);
        let kb_language = kb::language(&self.db).await?;
        // A miss in another language than the knowledge base's is the language's, not the base's.
        let lost_in_translation = articles.is_empty() && language.is_some_and(|lang| lang != kb_language);
        let request = DraftRequest {
            channel: work.channel,
            customer_name: work.customer_name.clone(),
            message: work.body.clone(),
            history,
            articles,
            language,
            kb_language,
        };
        let phrases = offline::sentences_for(language, kb_language);
        let reason = if work.wordless {
            Some(Reason::NoWords)
        } else {
            match self.rules.check(&work.body, misses) {
                Some(Reason::KnowledgeGap) if lost_in_translation => Some(Reason::Language),
                other => other,
            }
        };
        let (decision, text) = match reason {
            Some(reason) => (Decision::Escalate { reason }, phrases.handover.to_string()),
            None => {
                let kb = DbSearch(self.db.clone());
                let (text, provider) = match self.provider.draft(&request, &kb).await {
                    Ok(text) if !text.trim().is_empty() => {
                        self.health.succeeded();
                        (text, self.provider.name().to_string())
                    }
                    Ok(_) => (Offline::answer(&request), "offline".to_string()),
                    Err(error) => {
                        tracing::warn!("provider failed ({}), answering offline: {error}", error.kind.as_str());
                        self.health.failed(&error);
                        (Offline::answer(&request), "offline".to_string())
                    }
                };
                (Decision::Answer { article: request.articles.first().map(|a| a.slug.clone()), provider }, text)
            }
        };
        // The invitation to ask for a person is pointless once a person has the ticket.
        let style = match decision {
            Decision::Escalate { .. } => Style { whatsapp_footer: String::new(), ..self.style.clone() },
            Decision::Answer { .. } => self.style.clone(),
        };
        let text = reply::format(work.channel, &text, work.customer_name.as_deref(), &style, phrases);
        steps.push(Step::Send);
        let response_id = self.respond(message_id, &work, &decision, &text, misses).await?;
        Ok(Some(Outcome {
            ticket_id: work.ticket_id,
            steps,
            decision,
            response_id,
            history_len: request.history.len(),
            response_ms: Timestamp::now().millis() - work.received_at,
        }))
    }

    /// Inbound messages waiting for the agent (oldest first), including ones whose claim expired.
    /// A worker with no bridge (`wamcp desk` beside the bridges, on their database) leaves
    /// messages that came through one to the bridges: only they can send the answer.
    pub async fn pending(&self, limit: i64, through_bridge: bool) -> Result<Vec<String>, DeskError> {
        let ids = sqlx::query_scalar(
            "SELECT id FROM messages WHERE (agent_state = 'pending' \
             OR (agent_state = 'working' AND claimed_at < $1)) AND ($2 OR channel <> 'whatsapp' OR via = 'twilio') \
             ORDER BY seq LIMIT $3",
        )
        .bind(Timestamp::now().millis() - CLAIM_LEASE_MS)
        .bind(through_bridge)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        Ok(ids)
    }

    /// Releases the claims this agent's bridge held when it last stopped (killed mid-answer, say):
    /// nobody works on them now, and waiting for them to expire would keep the customers waiting.
    pub async fn release_own_claims(&self) -> Result<u64, DeskError> {
        let Some(claimant) = self.claimant.get() else { return Ok(0) };
        let released = sqlx::query(
            "UPDATE messages SET agent_state = 'pending' WHERE agent_state = 'working' AND claimed_by = $1",
        )
        .bind(claimant)
        .execute(self.db.pool())
        .await?;
        Ok(released.rows_affected())
    }

    async fn claim(&self, message_id: &str) -> Result<bool, DeskError> {
        let now = Timestamp::now().millis();
        let claimed = sqlx::query(
            "UPDATE messages SET agent_state = 'working', claimed_at = $1, claimed_by = $2 WHERE id = $3 \
             AND (agent_state = 'pending' OR (agent_state = 'working' AND claimed_at < $4))",
        )
        .bind(now)
        .bind(self.claimant.get().map(String::as_str))
        .bind(message_id)
        .bind(now - CLAIM_LEASE_MS)
        .execute(self.db.pool())
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn set_state(&self, message_id: &str, state: AgentState) -> Result<(), DeskError> {
        sqlx::query("UPDATE messages SET agent_state = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(message_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    async fn load(&self, message_id: &str) -> Result<Work, DeskError> {
        let row = sqlx::query(
            "SELECT m.body, m.channel, m.via, m.address, m.ticket_id, m.conversation_id, m.customer_id, \
             cu.name, t.status, c.kb_misses, t.first_response_at, m.channel_account, m.created_at, m.wordless \
             FROM messages m \
             JOIN tickets t ON t.id = m.ticket_id JOIN conversations c ON c.id = m.conversation_id \
             JOIN customers cu ON cu.id = m.customer_id WHERE m.id = $1",
        )
        .bind(message_id)
        .fetch_one(self.db.pool())
        .await?;
        let channel: String = row.try_get(1)?;
        Ok(Work {
            body: row.try_get(0)?,
            channel: Channel::parse(&channel).unwrap_or(Channel::Whatsapp),
            via: row.try_get(2)?,
            address: row.try_get(3)?,
            ticket_id: row.try_get(4)?,
            conversation_id: row.try_get(5)?,
            customer_id: row.try_get(6)?,
            customer_name: row.try_get(7)?,
            ticket_status: TicketStatus::parse(&row.try_get::<String, _>(8)?),
            kb_misses: row.try_get(9)?,
            first_response: row.try_get::<Option<i64>, _>(10)?.is_none(),
            channel_account: row.try_get(11)?,
            received_at: row.try_get(12)?,
            wordless: row.try_get::<i64, _>(13)? != 0,
        })
    }

    /// The customer's latest messages on every channel, oldest first, without `except`.
    async fn history(&self, customer_id: &str, except: &str) -> Result<Vec<HistoryItem>, DeskError> {
        let rows = sqlx::query(
            "SELECT channel, author, body, created_at FROM messages WHERE customer_id = $1 AND id <> $2 \
             ORDER BY seq DESC LIMIT $3",
        )
        .bind(customer_id)
        .bind(except)
        .bind(HISTORY_LIMIT)
        .fetch_all(self.db.pool())
        .await?;
        let mut items = rows
            .into_iter()
            .map(|row| {
                Ok(HistoryItem {
                    channel: row.try_get(0)?,
                    author: row.try_get(1)?,
                    body: row.try_get(2)?,
                    at: Timestamp(row.try_get(3)?).to_rfc3339(),
                })
            })
            .collect::<Result<Vec<_>, DeskError>>()?;
        items.reverse();
        Ok(items)
    }

    /// Stores the response, the ticket's new state and the events together.
    async fn respond(
        &self,
        message_id: &str,
        work: &Work,
        decision: &Decision,
        text: &str,
        misses: i64,
    ) -> Result<String, DeskError> {
        let now = Timestamp::now();
        let response_id = new_id("msg");
        let mut tx = self.db.write().await?;
        // The ticket first, as every transaction on a ticket's messages takes them: an intake of
        // this same message through another bridge holds the ticket and then waits on the message
        // row; taking the message row first here and the ticket after would be a deadlock.
        let first_response = work.first_response.then_some(now.millis());
        let escalation = match decision {
            Decision::Escalate { reason } => {
                let (priority, category) = reason.priority_and_category();
                sqlx::query(
                    "UPDATE tickets SET status = 'escalated', escalation_reason = $1, priority = $2, category = $3, \
                     updated_at = $4, first_response_at = COALESCE(first_response_at, $5) WHERE id = $6",
                )
                .bind(reason.as_str())
                .bind(priority.as_str())
                .bind(category)
                .bind(now.millis())
                .bind(first_response)
                .bind(&work.ticket_id)
                .execute(&mut *tx)
                .await?;
                Some(json!({
                    "ticket_id": work.ticket_id,
                    "customer_id": work.customer_id,
                    "channel": work.channel.as_str(),
                    "reason": reason.as_str(),
                    "priority": priority.as_str(),
                    "at": now.to_rfc3339(),
                }))
            }
            Decision::Answer { .. } => {
                sqlx::query(
                    "UPDATE tickets SET status = 'waiting', updated_at = $1, \
                     first_response_at = COALESCE(first_response_at, $2) WHERE id = $3",
                )
                .bind(now.millis())
                .bind(first_response)
                .bind(&work.ticket_id)
                .execute(&mut *tx)
                .await?;
                None
            }
        };
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, ticket_id, customer_id, direction, channel, via, address, \
             author, body, created_at, delivery_status, channel_account) \
             VALUES ($1, $2, $3, $4, 'outbound', $5, $6, $7, $8, $9, $10, 'queued', $11)",
        )
        .bind(&response_id)
        .bind(&work.conversation_id)
        .bind(&work.ticket_id)
        .bind(&work.customer_id)
        .bind(work.channel.as_str())
        .bind(&work.via)
        .bind(&work.address)
        .bind(Author::Agent.as_str())
        .bind(text)
        .bind(now.millis())
        .bind(work.channel_account.as_deref())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE messages SET agent_state = 'done' WHERE id = $1")
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE conversations SET kb_misses = $1 WHERE id = $2")
            .bind(misses)
            .bind(&work.conversation_id)
            .execute(&mut *tx)
            .await?;
        if let Some(payload) = escalation {
            events::record(&mut tx, topics::ESCALATIONS, &work.customer_id, payload, now).await?;
        }
        if work.channel == Channel::Whatsapp {
            let payload = json!({
                "ticket_id": work.ticket_id,
                "customer_id": work.customer_id,
                "message_id": response_id,
                "to": work.address,
                "at": now.to_rfc3339(),
            });
            events::record(&mut tx, topics::WHATSAPP_OUTBOUND, &work.customer_id, payload, now).await?;
        }
        tx.commit().await?;
        Ok(response_id)
    }
}

/// The knowledge base, searched for a model's tool call.
struct DbSearch(Db);

#[async_trait::async_trait]
impl provider::KnowledgeSearch for DbSearch {
    async fn search(&self, query: &str) -> Result<Vec<kb::Article>, String> {
        kb::search(&self.0, query, ARTICLES).await.map_err(|e| e.to_string())
    }
}
