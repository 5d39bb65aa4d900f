//! The desk's WhatsApp feed from a source: which messages become the desk's, and where the feed
//! resumes after a failure and after a restart.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Backend;
use tokio_util::sync::CancellationToken;
use wamcp_core::{Jid, MessageKind, Timestamp};
use wamcp_desk::feed::{Arrived, Batch, Feed, MessageSource, SourceError};
use wamcp_desk::{Db, Desk, Via};

/// A source that hands over the batches it was given, one a read, and then ends; after
/// `not_taken` it hands the last one over again, first running `repair` on the desk's database.
struct Script {
    batches: VecDeque<Batch>,
    last: Option<Batch>,
    again: bool,
    repair: Option<(Db, Vec<&'static str>)>,
    /// The cursor of every read, in order.
    asked: Arc<Mutex<Vec<Option<String>>>>,
}

impl Script {
    fn new(batches: Vec<Batch>) -> Script {
        Script { batches: batches.into(), last: None, again: false, repair: None, asked: Arc::default() }
    }
}

impl MessageSource for Script {
    fn cursor_key(&self) -> String {
        "test_feed".into()
    }

    async fn next(&mut self, cursor: Option<&str>) -> Option<Result<Batch, SourceError>> {
        self.asked.lock().unwrap().push(cursor.map(str::to_string));
        if std::mem::take(&mut self.again) {
            if let Some((db, statements)) = self.repair.take() {
                for statement in statements {
                    sqlx::query(statement).execute(db.pool()).await.unwrap();
                }
            }
            return self.last.clone().map(Ok);
        }
        let batch = self.batches.pop_front()?;
        self.last = Some(batch.clone());
        Some(Ok(batch))
    }

    fn not_taken(&mut self) {
        self.again = true;
    }
}

const CUSTOMER: &str = "64215551234@s.whatsapp.net";

fn message(chat: &str, id: &str, from_me: bool, kind: MessageKind, text: Option<&str>, at: i64) -> Arrived {
    Arrived {
        chat: Jid::parse(chat).unwrap(),
        id: id.into(),
        from_me,
        kind,
        text: text.map(str::to_string),
        caption: None,
        transcript: None,
        at: Timestamp(at),
    }
}

fn text(chat: &str, id: &str, words: &str, at: i64) -> Arrived {
    message(chat, id, false, MessageKind::Text, Some(words), at)
}

fn batch(messages: Vec<Arrived>, cursor: Option<&str>) -> Batch {
    Batch { messages, cursor: cursor.map(str::to_string) }
}

async fn run(desk: &Arc<Desk>, source: Script) {
    let feed = Feed { desk: desk.clone(), via: Via::Bridge, retry_after: Duration::ZERO };
    // The script ends, and the feed with it.
    feed.run(source, CancellationToken::new()).await;
}

/// The inbound bodies the desk has from the customer, oldest first.
async fn bodies(desk: &Desk) -> Vec<String> {
    sqlx::query_scalar("SELECT body FROM messages WHERE direction = 'inbound' ORDER BY created_at, id")
        .fetch_all(desk.db.pool())
        .await
        .unwrap()
}

async fn a_customers_direct_messages_become_the_desks_and_the_feed_resumes_where_it_was(backend: Backend) {
    let t = common::desk(backend).await;
    let now = Timestamp::now().millis();
    let first = batch(
        vec![
            text(CUSTOMER, "A1", "Where is my order?", now - 3_000),
            message(CUSTOMER, "A2", true, MessageKind::Text, Some("Let me check"), now - 2_000),
            text("120363041234567890@g.us", "G1", "Dinner at eight?", now - 1_500),
            message(CUSTOMER, "A3", false, MessageKind::Text, Some("   "), now - 1_200),
            message(CUSTOMER, "A4", false, MessageKind::Image, None, now - 1_000),
        ],
        Some("after-A4"),
    );
    let source = Script::new(vec![first]);
    let asked = source.asked.clone();
    run(&t.desk, source).await;
    assert_eq!(
        bodies(&t.desk).await,
        ["Where is my order?", "[image]"],
        "own, group and empty messages are not the desk's"
    );
    assert_eq!(*asked.lock().unwrap(), [None, Some("after-A4".to_string())]);
    assert_eq!(t.desk.last_whatsapp_message(), Some(Timestamp(now - 1_000)), "every message counts as seen");

    // After a restart the feed reads from the cursor it kept; a message handed over twice is one.
    let restarted = common::another_desk_on(&t).await;
    let again = Script::new(vec![
        batch(vec![text(CUSTOMER, "A1", "Where is my order?", now - 3_000)], None),
        batch(vec![text(CUSTOMER, "A5", "Still waiting", now)], Some("after-A5")),
    ]);
    let asked = again.asked.clone();
    run(&restarted, again).await;
    assert_eq!(bodies(&restarted).await, ["Where is my order?", "[image]", "Still waiting"]);
    assert_eq!(
        *asked.lock().unwrap(),
        [Some("after-A4".to_string()), Some("after-A4".to_string()), Some("after-A5".to_string())],
        "a batch without a cursor leaves the kept one"
    );
}

/// WhatsApp writes notices into a customer's chat: a message still to be decrypted, a new
/// number. Their text is WhatsApp's, not the customer's: answering it would answer what nobody
/// asked, and the message a stand-in waits for, arriving later under the same id, would be taken
/// for a repeat and never answered.
async fn whatsapps_own_notices_in_a_customers_chat_are_not_the_customers_words(backend: Backend) {
    let t = common::desk(backend).await;
    let now = Timestamp::now().millis();
    let waiting = "waiting for this message: it could not be decrypted yet, and the sender's phone was asked to \
                   send it again";
    let notices = batch(
        vec![
            message(CUSTOMER, "3EB0LOST", false, MessageKind::System, Some(waiting), now - 2_000),
            message(
                CUSTOMER,
                "number-changed-1",
                false,
                MessageKind::System,
                Some("changed their phone number to +64215559999"),
                now - 1_500,
            ),
        ],
        Some("after-notices"),
    );
    let resent = batch(vec![text(CUSTOMER, "3EB0LOST", "Do you ship to Chile?", now - 2_000)], Some("after-resent"));
    run(&t.desk, Script::new(vec![notices, resent])).await;
    assert_eq!(bodies(&t.desk).await, ["Do you ship to Chile?"], "the customer's message, once it could be read");
}

async fn a_batch_the_desk_cannot_store_is_read_again_from_the_cursor_it_kept(backend: Backend) {
    let t = common::desk(backend).await;
    let (fail, repair): (Vec<&str>, Vec<&str>) = match backend {
        Backend::Sqlite => (
            vec!["CREATE TRIGGER full_disk BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk full'); END"],
            vec!["DROP TRIGGER full_disk"],
        ),
        Backend::Postgres => (
            vec![
                "CREATE FUNCTION full_disk() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER full_disk BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION full_disk()",
            ],
            vec!["DROP TRIGGER full_disk ON messages"],
        ),
    };
    for statement in fail {
        sqlx::query(statement).execute(t.desk.db.pool()).await.unwrap();
    }
    t.desk.db.set_meta("test_feed", "before").await.unwrap();
    let mut source =
        Script::new(vec![batch(vec![text(CUSTOMER, "B1", "Hello?", Timestamp::now().millis())], Some("after-B1"))]);
    source.repair = Some((t.desk.db.clone(), repair));
    let asked = source.asked.clone();
    run(&t.desk, source).await;
    assert_eq!(
        *asked.lock().unwrap(),
        [Some("before".to_string()), Some("before".to_string()), Some("after-B1".to_string())],
        "the cursor stays until the batch is stored"
    );
    assert_eq!(bodies(&t.desk).await, ["Hello?"]);
    assert_eq!(t.desk.db.meta("test_feed").await.unwrap().as_deref(), Some("after-B1"));
}

on_both!(
    a_customers_direct_messages_become_the_desks_and_the_feed_resumes_where_it_was,
    a_batch_the_desk_cannot_store_is_read_again_from_the_cursor_it_kept,
    whatsapps_own_notices_in_a_customers_chat_are_not_the_customers_words,
);

#[tokio::test]
async fn a_feed_waiting_for_messages_ends_when_told_to_stop() {
    struct Silent;
    impl MessageSource for Silent {
        fn cursor_key(&self) -> String {
            "silent".into()
        }
        async fn next(&mut self, _: Option<&str>) -> Option<Result<Batch, SourceError>> {
            std::future::pending().await
        }
    }
    let t = common::desk(Backend::Sqlite).await;
    let stop = CancellationToken::new();
    let running = tokio::spawn(Feed::new(t.desk.clone(), Via::Bridge).run(Silent, stop.clone()));
    stop.cancel();
    running.await.expect("the feed ended without a panic");
}
