//! Publishing desk events to Kafka: an idempotent producer keyed by customer, so one customer's
//! events keep their order in a partition.
//!
//! Delivery is at least once. An event that timed out in flight may have been written all the
//! same, and the outbox sends it again; and a new producer (below) starts new idempotence
//! sequences. So every record carries its outbox sequence number (`event_seq`, as a header and in
//! the JSON) for consumers to drop repeats.
//!
//! Failures, sorted for the publisher ([`SinkError`]):
//! - the cluster cannot be reached (timed out, all brokers down): everything waits;
//! - this event's topic or partition has trouble (unknown topic, no leader): this event is tried
//!   again a few times, then dead-lettered, and the others go on;
//! - the broker refuses it for good (too large, not authorized): dead-lettered at once;
//! - a fatal producer error (`OUT_OF_ORDER_SEQUENCE_NUMBER` and the like) leaves the producer
//!   unable to send anything: a new producer takes its place and the event is tried again.
//!
//! Any librdkafka property can be set (`[kafka.properties]` in wamcp.toml: TLS, SASL for MSK or
//! Confluent Cloud); see [`KafkaSettings`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use super::{DeskEvent, Sink, SinkError};

/// The record header (and JSON field) with the event's outbox sequence number.
pub const SEQ_HEADER: &str = "event_seq";

/// Properties whose values are secrets: they must come from the environment (`${NAME}`), never
/// stand in a settings file.
const SECRET_PROPERTIES: [&str; 6] = [
    "sasl.password",
    "sasl.oauthbearer.client.secret",
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.key.pem",
    "sasl.oauthbearer.config",
];

/// Properties the desk sets itself, for the guarantees above.
const OWN_PROPERTIES: [&str; 3] = ["enable.idempotence", "acks", "bootstrap.servers"];

/// How to reach the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaSettings {
    /// `host:port,host:port`.
    pub brokers: String,
    /// More librdkafka properties (`security.protocol`, `sasl.mechanism`, `sasl.username`,
    /// `ssl.ca.location`…). A value `${NAME}` is read from the environment variable NAME.
    pub properties: BTreeMap<String, String>,
}

impl KafkaSettings {
    /// The producer's configuration, with `${NAME}` values read from the environment. Refuses a
    /// secret written out in the settings, a property the desk sets itself, and an unset variable.
    pub fn client_config(&self, delivery_timeout: Duration) -> Result<ClientConfig, String> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", delivery_timeout.as_millis().to_string())
            .set("client.id", "wamcp-desk");
        for (name, value) in &self.properties {
            if OWN_PROPERTIES.contains(&name.as_str()) {
                return Err(format!(
                    "kafka.properties: '{name}' is set by wamcp (use kafka.brokers for the brokers; the producer is \
                     always idempotent with acks=all)"
                ));
            }
            let from_env = value.strip_prefix("${").and_then(|rest| rest.strip_suffix('}'));
            let value = match from_env {
                Some(variable) => std::env::var(variable).map_err(|_| {
                    format!("kafka.properties: '{name}' names the environment variable {variable}, which is not set")
                })?,
                None if SECRET_PROPERTIES.contains(&name.as_str()) => {
                    return Err(format!(
                        "kafka.properties: '{name}' is a secret: give it as \"${{NAME}}\" and put the value in the \
                         environment variable NAME, not in the settings file"
                    ));
                }
                None => value.clone(),
            };
            config.set(name, value);
        }
        Ok(config)
    }
}

pub struct KafkaSink {
    config: ClientConfig,
    producer: RwLock<Arc<FutureProducer>>,
    /// Producers started since this sink was made, the first included.
    producers: AtomicU64,
}

impl KafkaSink {
    /// A producer for `settings`, giving up on one delivery after `delivery_timeout` (librdkafka
    /// retries within it). A property librdkafka does not know, or a value it refuses, is an error
    /// here, at start.
    pub fn new(settings: &KafkaSettings, delivery_timeout: Duration) -> Result<KafkaSink, String> {
        let config = settings.client_config(delivery_timeout)?;
        let producer = create(&config).map_err(|e| format!("kafka ({}): {e}", settings.brokers))?;
        Ok(KafkaSink { config, producer: RwLock::new(Arc::new(producer)), producers: AtomicU64::new(1) })
    }

    /// Waits until every event handed over has been delivered (or failed).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer().flush(Timeout::After(timeout));
    }

    /// How many producers were started: more than one after fatal errors.
    pub fn producers_started(&self) -> u64 {
        self.producers.load(Ordering::Relaxed)
    }

    /// The producer, for tests that drive librdkafka itself.
    #[doc(hidden)]
    pub fn producer(&self) -> Arc<FutureProducer> {
        self.producer.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces `failed` (unless another task did already) with a new producer.
    fn replace(&self, failed: &Arc<FutureProducer>) -> Result<(), String> {
        let mut slot = self.producer.write().unwrap_or_else(|p| p.into_inner());
        if Arc::ptr_eq(&slot, failed) {
            *slot = Arc::new(create(&self.config).map_err(|e| e.to_string())?);
            self.producers.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn send(producer: &FutureProducer, event: &DeskEvent) -> Result<(), KafkaError> {
        let mut payload = event.payload.clone();
        if let Some(object) = payload.as_object_mut() {
            object.insert(SEQ_HEADER.to_string(), event.seq.into());
        }
        let payload = payload.to_string();
        let seq = event.seq.to_string();
        let headers = OwnedHeaders::new().insert(Header { key: SEQ_HEADER, value: Some(&seq) });
        let record = FutureRecord::to(&event.topic).key(&event.key).payload(&payload).headers(headers);
        producer.send(record, Timeout::Never).await.map(|_| ()).map_err(|(error, _)| error)
    }
}

fn create(config: &ClientConfig) -> Result<FutureProducer, KafkaError> {
    config.create()
}

#[async_trait::async_trait]
impl Sink for KafkaSink {
    async fn publish(&self, event: &DeskEvent) -> Result<(), SinkError> {
        let producer = self.producer();
        let error = match Self::send(&producer, event).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let Some((code, reason)) = producer.client().fatal_error() else { return Err(classify(&error)) };
        // Nothing more will go through this producer: start another and try once more.
        tracing::error!("kafka: fatal producer error ({code:?}: {reason}); starting a new producer");
        self.replace(&producer).map_err(|e| SinkError::Down(format!("kafka: a new producer failed: {e}")))?;
        Self::send(&self.producer(), event).await.map_err(|error| classify(&error))
    }
}

/// Whether trying again later may help, and whether the trouble is this event's or everyone's.
fn classify(error: &KafkaError) -> SinkError {
    use RDKafkaErrorCode as E;
    let text = error.to_string();
    match error.rdkafka_error_code() {
        Some(
            E::MessageSizeTooLarge
            | E::InvalidTopic
            | E::TopicAuthorizationFailed
            | E::InvalidRecord
            | E::InvalidMessage
            | E::InvalidMessageSize
            | E::MessageBatchTooLarge,
        ) => SinkError::Reject(text),
        Some(
            E::UnknownTopic
            | E::UnknownTopicOrPartition
            | E::UnknownPartition
            | E::LeaderNotAvailable
            | E::NotLeaderForPartition
            | E::NotEnoughReplicas
            | E::NotEnoughReplicasAfterAppend
            | E::PolicyViolation,
        ) => SinkError::Retry(text),
        // Timed out, all brokers down, transport, authentication, a full queue: the cluster's.
        _ => SinkError::Down(text),
    }
}
