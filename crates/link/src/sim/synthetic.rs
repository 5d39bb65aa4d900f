//! A large generated history for benchmarks: `messages` text messages over 1,000 direct chats,
//! handed over in batches of 10,000, each made only when it is asked for.

use wamcp_core::{Chat, Contact, HistoryBatch, Jid, Message, Timestamp, Update};

const CHATS: u64 = 1_000;
const PER_BATCH: u64 = 10_000;
const WORDS: &[&str] = &[
    "meeting", "tomorrow", "invoice", "lunch", "train", "report", "thanks", "call", "photo", "weekend", "ok",
    "obrigado", "mañana", "danke", "merci", "grazie", "project", "deadline", "coffee", "address",
];

/// The batches of a generated history ending at `now`, one message a second back in time.
pub fn batches(messages: u64, now: Timestamp) -> impl Iterator<Item = HistoryBatch> + Send {
    let total_batches = messages.div_ceil(PER_BATCH).max(1);
    let start = now.millis() - messages as i64 * 1_000;
    (0..total_batches).map(move |batch| {
        let first = batch * PER_BATCH;
        let last = (first + PER_BATCH).min(messages);
        let mut history =
            HistoryBatch { progress: Some((((batch + 1) * 100) / total_batches) as u8), ..HistoryBatch::default() };
        if batch == 0 {
            for chat in 0..CHATS.min(messages.max(1)) {
                let person = person(chat);
                let mut contact = Contact::new(person.clone());
                contact.push_name = Some(format!("Person {chat}"));
                history.contacts.push(contact);
                history.chats.push(Chat::named(person, None));
            }
        }
        for n in first..last {
            let chat = person(n % CHATS);
            let from_me = n % 3 == 0;
            let text: Vec<&str> = (0..6).map(|w| WORDS[((n * 7 + w * 13) % WORDS.len() as u64) as usize]).collect();
            let sender = (!from_me).then(|| chat.clone());
            let message = Message::text(
                chat,
                &format!("3EB0B3NC{n:012X}"),
                sender,
                from_me,
                Timestamp(start + n as i64 * 1_000),
                &text.join(" "),
            );
            history.updates.push(Update::Message(message));
        }
        history
    })
}

fn person(index: u64) -> Jid {
    Jid::from_phone(&format!("1555{:07}", 1_000_000 + index)).expect("generated numbers are valid")
}
