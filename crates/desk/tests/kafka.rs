//! Desk events through Kafka, on librdkafka's in-process mock cluster (the real protocol): events
//! wait in the outbox while the broker is down and all arrive, keyed by customer and numbered,
//! once it is back; an event the broker refuses for good lands in `fte.dlq`, and so does one
//! whose topic does not exist, after its retries, without holding up the others; a fatal
//! producer error gets a new producer.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::types::RDKafkaRespErr;
use tokio::sync::Notify;
use wamcp_desk::events::kafka::{KafkaSettings, KafkaSink, SEQ_HEADER};
use wamcp_desk::events::{MAX_EVENT_ATTEMPTS, Publisher, topics};

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

type Cluster = MockCluster<'static, rdkafka::producer::DefaultProducerContext>;

/// A sink on `cluster` with `properties` more.
fn sink(cluster: &Cluster, timeout: Duration, properties: &[(&str, &str)]) -> Arc<KafkaSink> {
    let settings = KafkaSettings {
        brokers: cluster.bootstrap_servers(),
        properties: properties.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    Arc::new(KafkaSink::new(&settings, timeout).unwrap())
}

/// Reads `count` messages of `topics` from the cluster: (topic, key, payload), checking that
/// each carries its outbox sequence number as a header too.
async fn consume(cluster: &Cluster, topics: &[&str], count: usize) -> Vec<(String, String, serde_json::Value)> {
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
        let payload: serde_json::Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
        let header = message
            .headers()
            .and_then(|headers| headers.iter().find(|h| h.key == SEQ_HEADER).and_then(|h| h.value).map(|v| v.to_vec()));
        let seq = payload[SEQ_HEADER].as_i64().expect("the JSON carries the sequence number");
        assert_eq!(header, Some(seq.to_string().into_bytes()), "the header carries it too");
        got.push((message.topic().to_string(), String::from_utf8(message.key().unwrap().to_vec()).unwrap(), payload));
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
    let sink = sink(&cluster, Duration::from_millis(1500), &[]);
    let publisher = Publisher { db: t.desk.db.clone(), sink: sink.clone(), wake: Arc::new(Notify::new()) };
    let error = publisher.drain().await.unwrap_err().to_string();
    assert!(error.contains("event sink"), "{error}");
    assert_eq!(unpublished(&t).await, total, "nothing is lost while the broker is down");

    cluster.broker_up(1).unwrap();
    assert_eq!(publisher.drain().await.unwrap() as i64, total);
    assert_eq!(unpublished(&t).await, 0);

    let got = consume(&cluster, &TOPICS, total as usize).await;
    let mut numbers: Vec<i64> = got.iter().map(|(_, _, payload)| payload[SEQ_HEADER].as_i64().unwrap()).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), total as usize, "each event has its own number, for consumers to drop repeats");
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
    let sink = sink(&cluster, Duration::from_secs(5), &[]);
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

async fn an_event_for_a_topic_that_does_not_exist_is_dead_lettered_after_its_retries_and_holds_up_nothing(
    backend: Backend,
) {
    let cluster = MockCluster::new(1).unwrap();
    for topic in TOPICS.iter().filter(|t| **t != topics::WHATSAPP_INBOUND) {
        cluster.create_topic(topic, 1, 1).unwrap();
    }
    let t = desk(backend).await;
    let first = t.desk.receive(&whatsapp("Hello", "U1")).await.unwrap();
    let second = t.desk.receive(&whatsapp_from("+447700900777", "Hi there", "U2")).await.unwrap();
    // A broker that creates no topics by itself; librdkafka gives up on the unknown one quickly.
    let sink = sink(
        &cluster,
        Duration::from_secs(5),
        &[("allow.auto.create.topics", "false"), ("topic.metadata.propagation.max.ms", "200")],
    );
    let publisher = Publisher { db: t.desk.db.clone(), sink, wake: Arc::new(Notify::new()) };

    assert_eq!(publisher.drain().await.unwrap(), 2, "both tickets' events go out past the stuck ones");
    assert_eq!(unpublished(&t).await, 2);
    for _ in 2..MAX_EVENT_ATTEMPTS {
        assert_eq!(publisher.drain().await.unwrap(), 0);
    }
    assert_eq!(publisher.drain().await.unwrap(), 2, "the last attempt dead-letters them");
    assert_eq!(unpublished(&t).await, 0);

    let got = consume(&cluster, &[topics::TICKETS_INCOMING, topics::DLQ], 4).await;
    let dead: Vec<_> = got.iter().filter(|(topic, _, _)| topic == topics::DLQ).collect();
    assert_eq!(dead.len(), 2);
    let mut keys: Vec<&str> = dead.iter().map(|(_, key, _)| key.as_str()).collect();
    keys.sort();
    let mut customers = vec![first.customer_id.as_str(), second.customer_id.as_str()];
    customers.sort();
    assert_eq!(keys, customers);
    let error = dead[0].2["error"].as_str().unwrap();
    assert!(error.contains(&format!("gave up after {MAX_EVENT_ATTEMPTS} attempts")), "{error}");
    assert!(error.to_lowercase().contains("unknown topic"), "{error}");
}

async fn a_fatal_producer_error_gets_a_new_producer_and_nothing_is_lost(backend: Backend) {
    use rdkafka::types::RDKafkaApiKey;
    let cluster = MockCluster::new(1).unwrap();
    for topic in TOPICS {
        cluster.create_topic(topic, 1, 1).unwrap();
    }
    let t = desk(backend).await;
    t.desk.receive(&whatsapp("Hello", "F1")).await.unwrap();
    let sink = sink(&cluster, Duration::from_secs(5), &[]);
    let publisher = Publisher { db: t.desk.db.clone(), sink: sink.clone(), wake: Arc::new(Notify::new()) };
    assert_eq!(publisher.drain().await.unwrap(), 2);

    // The broker answers the next produce out of sequence: for an idempotent producer that is
    // fatal, and nothing more would go through it.
    cluster.request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER]);
    t.desk.receive(&whatsapp("Still there?", "F2")).await.unwrap();
    let published = publisher.drain().await.unwrap();
    assert_eq!(published, 2, "published by a new producer");
    assert_eq!(sink.producers_started(), 2);
    t.desk.receive(&whatsapp_from("+447700900777", "Hi", "F3")).await.unwrap();
    assert_eq!(publisher.drain().await.unwrap(), 2, "and the new one goes on");
    assert_eq!(unpublished(&t).await, 0);
    let got = consume(&cluster, &[topics::TICKETS_INCOMING, topics::WHATSAPP_INBOUND], 6).await;
    assert_eq!(got.len(), 6);
}

on_both!(
    events_survive_a_broker_outage_and_arrive_keyed_by_customer,
    an_event_the_broker_refuses_goes_to_the_dead_letter_topic,
    an_event_for_a_topic_that_does_not_exist_is_dead_lettered_after_its_retries_and_holds_up_nothing,
    a_fatal_producer_error_gets_a_new_producer_and_nothing_is_lost,
);

#[test]
fn kafka_properties_reach_librdkafka_and_secrets_come_from_the_environment() {
    let with = |properties: &[(&str, &str)]| KafkaSettings {
        brokers: "broker-1.example.com:9096".into(),
        properties: properties.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    // SAFETY: this test alone reads this variable.
    unsafe { std::env::set_var("WAMCP_TEST_KAFKA_PASSWORD", "s3cret") };
    let managed = with(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "desk"),
        ("sasl.password", "${WAMCP_TEST_KAFKA_PASSWORD}"),
    ]);
    let config = managed.client_config(Duration::from_secs(30)).unwrap();
    assert_eq!(config.get("sasl.password"), Some("s3cret"));
    assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
    assert_eq!(config.get("enable.idempotence"), Some("true"));
    // librdkafka itself takes them: it was built with TLS and SASL.
    KafkaSink::new(&managed, Duration::from_secs(30)).unwrap();

    let written_out = with(&[("sasl.password", "s3cret")]).client_config(Duration::from_secs(1)).unwrap_err();
    assert!(written_out.contains("is a secret") && written_out.contains("${NAME}"), "{written_out}");
    let unset = with(&[("sasl.password", "${WAMCP_TEST_NOT_SET}")]).client_config(Duration::from_secs(1)).unwrap_err();
    assert!(unset.contains("WAMCP_TEST_NOT_SET, which is not set"), "{unset}");
    let ours = with(&[("acks", "1")]).client_config(Duration::from_secs(1)).unwrap_err();
    assert!(ours.contains("set by wamcp"), "{ours}");
    let unknown = KafkaSink::new(&with(&[("sasl.mechanisms.typo", "PLAIN")]), Duration::from_secs(1)).err().unwrap();
    assert!(unknown.contains("sasl.mechanisms.typo"), "{unknown}");
}
