//! Publishing desk events to Kafka: an idempotent producer (each event written once, in order,
//! even when librdkafka retries), keyed by customer so one customer's events keep their order in
//! a partition. A broker that does not answer within the delivery timeout leaves the event in
//! the outbox; an event the broker refuses for good goes to `fte.dlq`.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use super::{DeskEvent, Sink, SinkError};

pub struct KafkaSink {
    producer: FutureProducer,
}

impl KafkaSink {
    /// A producer for `brokers` (`host:port,host:port`), giving up on one delivery after
    /// `delivery_timeout` (librdkafka retries within it).
    pub fn new(brokers: &str, delivery_timeout: Duration) -> Result<KafkaSink, String> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", delivery_timeout.as_millis().to_string())
            .set("client.id", "wamcp-desk")
            .create()
            .map_err(|e| format!("kafka.brokers '{brokers}': {e}"))?;
        Ok(KafkaSink { producer })
    }

    /// Waits until every event handed over has been delivered (or failed).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.flush(Timeout::After(timeout));
    }
}

#[async_trait::async_trait]
impl Sink for KafkaSink {
    async fn publish(&self, event: &DeskEvent) -> Result<(), SinkError> {
        let payload = event.payload.to_string();
        let record = FutureRecord::to(&event.topic).key(&event.key).payload(&payload);
        match self.producer.send(record, Timeout::Never).await {
            Ok(_) => Ok(()),
            Err((error, _)) => Err(classify(error)),
        }
    }
}

/// Whether trying again later may help.
fn classify(error: KafkaError) -> SinkError {
    let permanent = matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidTopic
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::InvalidMessage
        )
    );
    if permanent { SinkError::Reject(error.to_string()) } else { SinkError::Retry(error.to_string()) }
}
