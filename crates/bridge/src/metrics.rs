//! `/metrics` in Prometheus' text format: messages in and out, send latency, outbox depth,
//! connection state, reconnects and store size.

use std::fmt::Write;

use crate::status::{Counters, Status};

/// The metrics page. `outbox_depth` and `store_bytes` are read by the caller.
pub fn render(status: &Status, outbox_depth: u64, store_bytes: u64) -> String {
    let counters = &status.counters;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    metric(
        "wamcp_messages_received_total",
        "counter",
        "Messages received live.",
        Counters::get(&counters.messages_received),
    );
    metric(
        "wamcp_messages_sent_total",
        "counter",
        "Messages the server took from the outbox.",
        Counters::get(&counters.messages_sent),
    );
    metric("wamcp_sends_failed_total", "counter", "Sends given up for good.", Counters::get(&counters.sends_failed));
    metric("wamcp_reconnects_total", "counter", "Reconnection attempts.", Counters::get(&counters.reconnects));
    metric(
        "wamcp_webhook_failures_total",
        "counter",
        "Webhook delivery attempts that failed.",
        Counters::get(&counters.webhook_failures),
    );
    metric(
        "wamcp_history_messages_total",
        "counter",
        "Messages stored from history sync.",
        Counters::get(&counters.history_messages),
    );
    metric("wamcp_outbox_depth", "gauge", "Sends waiting to go out.", outbox_depth);
    metric("wamcp_connected", "gauge", "1 while connected to WhatsApp.", u64::from(status.is_connected()));
    metric("wamcp_store_bytes", "gauge", "Size of the store file.", store_bytes);
    counters.send_latency.histogram().write(
        &mut out,
        "wamcp_send_latency_seconds",
        "Time from queueing a send to the server taking it.",
    );
    out
}
