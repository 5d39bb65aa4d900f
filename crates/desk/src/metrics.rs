//! The desk's Prometheus metrics: messages per channel (all time and in the last minute), the
//! agent's response time, tickets and the escalation rate, deliveries and their failures, the
//! WhatsApp source's health and the event outbox's backlog. Counts come from the database, so
//! every worker sharing it reports the same totals; the response-time histogram is this
//! process's own.

use std::fmt::Write;

use wamcp_core::histogram::Histogram;

use crate::model::Channel;
use crate::{Desk, DeskError, reads};

/// Upper bounds of the response-time buckets, in seconds (message stored to answer stored).
pub const RESPONSE_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0, 10.0, 30.0];

pub fn response_histogram() -> Histogram {
    Histogram::new(&RESPONSE_BUCKETS)
}

/// The metrics page.
pub async fn render(desk: &Desk) -> Result<String, DeskError> {
    let db = &desk.db;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP wamcp_desk_messages_total Desk messages by channel and direction.\n# TYPE wamcp_desk_messages_total counter"
    );
    let (mut per_minute, mut deliveries, mut failures) = (String::new(), String::new(), String::new());
    let (mut total, mut escalated) = (0, 0);
    for channel in Channel::ALL {
        let counts = reads::channel_counts(db, channel).await?;
        let name = channel.as_str();
        total += counts.tickets;
        escalated += counts.escalated;
        let _ = writeln!(
            out,
            "wamcp_desk_messages_total{{channel=\"{name}\",direction=\"inbound\"}} {}",
            counts.messages_in
        );
        let _ = writeln!(
            out,
            "wamcp_desk_messages_total{{channel=\"{name}\",direction=\"outbound\"}} {}",
            counts.messages_out
        );
        let _ = writeln!(
            per_minute,
            "wamcp_desk_messages_last_minute{{channel=\"{name}\"}} {}",
            counts.messages_in_last_minute
        );
        let _ = writeln!(deliveries, "wamcp_desk_deliveries_total{{channel=\"{name}\"}} {}", counts.deliveries);
        let _ =
            writeln!(failures, "wamcp_desk_delivery_failures_total{{channel=\"{name}\"}} {}", counts.delivery_failures);
    }
    let _ = write!(
        out,
        "# HELP wamcp_desk_messages_last_minute Customer messages received in the last minute.\n\
         # TYPE wamcp_desk_messages_last_minute gauge\n{per_minute}\
         # HELP wamcp_desk_deliveries_total Answers handed to a channel (sent or failed).\n\
         # TYPE wamcp_desk_deliveries_total counter\n{deliveries}\
         # HELP wamcp_desk_delivery_failures_total Answers a channel refused.\n\
         # TYPE wamcp_desk_delivery_failures_total counter\n{failures}"
    );
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE status IN ('open', 'escalated')")
        .fetch_one(db.pool())
        .await?;
    let rate = reads::escalation_rate(total, escalated);
    let unpublished: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE published_at IS NULL").fetch_one(db.pool()).await?;
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE direction = 'outbound' AND delivery_status = 'queued' \
         AND delivery_error IS NOT NULL",
    )
    .fetch_one(db.pool())
    .await?;
    let window_closed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE delivery_status = 'window_closed'")
            .fetch_one(db.pool())
            .await?;
    let source = desk.whatsapp_source();
    let connected = source.as_ref().is_some_and(|s| s.liveness().connected);
    let failed_polls = source.as_ref().map_or(0, |s| s.failed_polls_in_a_row());
    for (name, kind, help, value) in [
        ("wamcp_desk_tickets_total", "counter", "Tickets opened.", total.to_string()),
        ("wamcp_desk_escalations_total", "counter", "Tickets handed to a person.", escalated.to_string()),
        ("wamcp_desk_escalation_rate", "gauge", "Share of tickets handed to a person.", format!("{rate:.4}")),
        ("wamcp_desk_tickets_waiting", "gauge", "Tickets open or escalated.", waiting.to_string()),
        ("wamcp_desk_events_unpublished", "gauge", "Events waiting in the outbox.", unpublished.to_string()),
        (
            "wamcp_desk_answers_held",
            "gauge",
            "Answers still queued after a channel turned them back for now (credentials, an outage).",
            held.to_string(),
        ),
        (
            "wamcp_desk_answers_window_closed",
            "gauge",
            "Twilio answers waiting for the customer to write (WhatsApp's 24-hour window had closed).",
            window_closed.to_string(),
        ),
        (
            "wamcp_desk_whatsapp_connected",
            "gauge",
            "1 while the desk's WhatsApp source is reachable.",
            u8::from(connected).to_string(),
        ),
        (
            "wamcp_desk_poll_failures_in_a_row",
            "gauge",
            "Failed reads of a polled WhatsApp database since the last good one.",
            failed_polls.to_string(),
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    }
    let health = desk.provider_health();
    let provider = &health.provider;
    let _ = writeln!(
        out,
        "# HELP wamcp_desk_provider_failures_total Drafts the provider failed to give (the desk answered from \
         templates), by reason.\n# TYPE wamcp_desk_provider_failures_total counter"
    );
    for (kind, count) in desk.agent.health.failures() {
        let _ = writeln!(
            out,
            "wamcp_desk_provider_failures_total{{provider=\"{provider}\",reason=\"{}\"}} {count}",
            kind.as_str()
        );
    }
    let _ = writeln!(
        out,
        "# HELP wamcp_desk_provider_failing 1 while the provider has failed {} times or more in a row.\n\
         # TYPE wamcp_desk_provider_failing gauge\nwamcp_desk_provider_failing{{provider=\"{provider}\"}} {}",
        crate::agent::health::FAILING_AFTER,
        u8::from(health.failing)
    );
    desk.response_times.write(
        &mut out,
        "wamcp_desk_response_seconds",
        "Time from a customer's message being stored to the agent's answer being stored.",
    );
    Ok(out)
}
