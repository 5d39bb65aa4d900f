//! Desk events through Kafka, on librdkafka's in-process mock cluster (the real protocol): events
//! wait in the outbox while the broker is down and all arrive, keyed by customer,
//! once it is back; an event the broker refuses for good lands in `fte.dlq`.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::types::RDKafkaRespErr;
use tokio::sync::Notify;
use wamcp_desk::events::kafka::KafkaSink;
use wamcp_desk::events::{Publisher, topics};

const TOPICS: [&str; 6] = [
    topics::TICKETS_INCOMING,
    topics::WHATSAPP_INBOUND,
    topics::WHATSAPP_OUTBOUND,
    topics::ESCALATIONS,
    topics::METRICS,
    topics::DLQ,
];

async fn unpublished(t: &TestDesk) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE published_at IS NULL")
        .fetch_one(t.desk.db.pool())
        .await
        .unwrap()
}

/// Reads `count` messages of `topics` from the cluster: (topic, key, payload).
async fn consume(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    topics: &[&str],
    count: usize,
) -> Vec<(String, String, serde_json::Value)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", "desk-test")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(topics).unwrap();
    let mut got = Vec::new();
    while got.len() < count {
        let message =
            tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await.expect("the events arrive").unwrap();
        got.push((
            message.topic().to_string(),
            String::from_utf8(message.key().unwrap().to_vec()).unwrap(),
            serde_json::from_slice(message.payload().unwrap()).unwrap(),
        ));
    }
    got
}

async fn events_survive_a_broker_outage_and_arrive_keyed_by_customer(backend: Backend) {
    let cluster = MockCluster::new(1).unwrap();
    for topic in TOPICS {
        cluster.create_topic(topic, 1, 1).unwrap();
    }
    let t = desk(backend).await;
    let ann = t.desk.receive(&whatsapp("When will my order ship?", "K1")).await.unwrap();
    let bo = t.desk.receive(&whatsapp_from("+447700900777", "I will sue you", "K2")).await.unwrap();
    t.desk.run_pending().await.unwrap();
    let total = unpublished(&t).await;
    assert_eq!(total, 7, "2 x (incoming + inbound) + 2 outbound + 1 escalation");

    cluster.broker_down(1).unwrap();
    let sink = Arc::new(KafkaSink::new(&cluster.bootstrap_servers(), Duration::from_millis(1500)).unwrap());
    let publisher = Publisher { db: t.desk.db.clone(), sink: sink.clone(), wake: Arc::new(Notify::new()) };
    let error = publisher.drain().await.unwrap_err().to_string();
    assert!(error.contains("event sink"), "{error}");
    assert_eq!(unpublished(&t).await, total, "nothing is lost while the broker is down");

    cluster.broker_up(1).unwrap();
    assert_eq!(publisher.drain().await.unwrap() as i64, total);
    assert_eq!(unpublished(&t).await, 0);

    let got = consume(&cluster, &TOPICS, total as usize).await;
    let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
    for (topic, key, _) in &got {
        by_key.entry(key.clone()).or_default().push(topic.clone());
    }
    assert_eq!(by_key.len(), 2, "keyed by customer: {by_key:?}");
    assert_eq!(by_key[&ann.customer_id].iter().filter(|t| *t == topics::WHATSAPP_OUTBOUND).count(), 1);
    let escalation = got.iter().find(|(topic, _, _)| topic == topics::ESCALATIONS).unwrap();
    assert_eq!(escalation.1, bo.customer_id);
    assert_eq!(escalation.2["reason"], "legal");
}

async fn an_event_the_broker_refuses_goes_to_the_dead_letter_topic(backend: Backend) {
    let cluster = MockCluster::new(1).unwrap();
    for topic in TOPICS {
        cluster.create_topic(topic, 1, 1).unwrap();
    }
    cluster
        .topic_error(topics::WHATSAPP_INBOUND, RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
        .unwrap();
    let t = desk(backend).await;
    let received = t.desk.receive(&whatsapp("Hello", "D1")).await.unwrap();
    let sink = Arc::new(KafkaSink::new(&cluster.bootstrap_servers(), Duration::from_secs(5)).unwrap());
    let publisher = Publisher { db: t.desk.db.clone(), sink, wake: Arc::new(Notify::new()) };
    assert_eq!(publisher.drain().await.unwrap(), 2);

    let got = consume(&cluster, &[topics::TICKETS_INCOMING, topics::DLQ], 2).await;
    // Topics are read side by side: only the set is certain, not the order between them.
    let mut topics_seen: Vec<&str> = got.iter().map(|(topic, _, _)| topic.as_str()).collect();
    topics_seen.sort();
    assert_eq!(topics_seen, vec![topics::DLQ, topics::TICKETS_INCOMING]);
    let dead = got.iter().find(|(topic, _, _)| topic == topics::DLQ).unwrap();
    assert_eq!(dead.1, received.customer_id);
    assert_eq!(dead.2["topic"], topics::WHATSAPP_INBOUND);
    assert_eq!(dead.2["payload"]["ticket_id"], received.ticket_id.as_str());
    assert!(dead.2["error"].as_str().unwrap().contains("uthoriz"), "{}", dead.2["error"]);
}

on_both!(
    events_survive_a_broker_outage_and_arrive_keyed_by_customer,
    an_event_the_broker_refuses_goes_to_the_dead_letter_topic,
);
