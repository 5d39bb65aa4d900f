//! `/metrics` in Prometheus' text format: messages in and out, send latency, outbox depth,
//! connection state, reconnects and store size.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::status::{Counters, Status};

/// Upper bounds of the send latency buckets, in seconds (queued to taken by the server).
const LATENCY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

/// A latency histogram with fixed buckets, updated without locks.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl LatencyHistogram {
    pub fn observe(&self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add((seconds.max(0.0) * 1e6) as u64, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bucket, bound) in self.buckets.iter().zip(LATENCY_BUCKETS) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", bucket.load(Ordering::Relaxed));
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

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
    counters.send_latency.write(
        &mut out,
        "wamcp_send_latency_seconds",
        "Time from queueing a send to the server taking it.",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_into_every_bucket_at_or_above_them() {
        let histogram = LatencyHistogram::default();
        histogram.observe(0.003);
        histogram.observe(0.2);
        histogram.observe(60.0);
        let mut out = String::new();
        histogram.write(&mut out, "x", "test");
        assert!(out.contains("x_bucket{le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.25\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"30\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n") && out.contains("x_count 3\n"), "{out}");
    }
}
