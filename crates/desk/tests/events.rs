//! The event outbox: events are written with the change and published in order; a sink that is
//! down loses nothing, the outbox drains when it is back.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use tokio::sync::Notify;
use wamcp_desk::events::{DeskEvent, Publisher, Sink, SinkError};

#[derive(Default)]
struct Flaky {
    up: AtomicBool,
    got: Mutex<Vec<DeskEvent>>,
}

#[async_trait::async_trait]
impl Sink for Flaky {
    async fn publish(&self, event: &DeskEvent) -> Result<(), SinkError> {
        if !self.up.load(Ordering::SeqCst) {
            return Err(SinkError::Down("broker unreachable".into()));
        }
        self.got.lock().unwrap().push(event.clone());
        Ok(())
    }
}

async fn events_wait_in_the_outbox_while_the_sink_is_down(backend: Backend) {
    let t = desk(backend).await;
    let received = t.desk.receive(&whatsapp("I want my money back", "E1")).await.unwrap();
    t.desk.run_pending().await.unwrap();

    let sink = Arc::new(Flaky::default());
    let publisher = Publisher { db: t.desk.db.clone(), sink: sink.clone(), wake: Arc::new(Notify::new()) };
    let error = publisher.drain().await.unwrap_err().to_string();
    assert!(error.contains("broker unreachable"), "{error}");
    assert!(sink.got.lock().unwrap().is_empty());

    sink.up.store(true, Ordering::SeqCst);
    assert_eq!(publisher.drain().await.unwrap(), 4);
    let got = sink.got.lock().unwrap().clone();
    let topics: Vec<&str> = got.iter().map(|e| e.topic.as_str()).collect();
    assert_eq!(
        topics,
        vec![
            "fte.tickets.incoming",
            "fte.channels.whatsapp.inbound",
            "fte.escalations",
            "fte.channels.whatsapp.outbound"
        ]
    );
    assert!(got.iter().all(|e| e.key == received.customer_id), "keyed by customer");
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(got[2].payload["reason"], "refund");
    // Published once: a second drain finds nothing.
    assert_eq!(publisher.drain().await.unwrap(), 0);
}

on_both!(events_wait_in_the_outbox_while_the_sink_is_down,);
