//! A generated WhatsApp history in lharries/whatsapp-mcp's schema, for benchmarks.
//!
//! The same shape as `shared/corpus/gen_lharries_db.py` (deterministic; 90 % direct chats, 10 %
//! groups; Zipf-like words from a mixed-language vocabulary; 5 % media rows; two years of text
//! timestamps with offset), written natively so a million rows take seconds, not a minute.

use std::path::Path;

use rusqlite::{Connection, params};

const WORDS: &str = "the to and a of you I it is in that for on my we meeting tomorrow today call later ok thanks \
lunch dinner project report invoice payment refund order delivery flight hotel train budget \
deadline review draft photo video birthday party weekend holiday doctor school kids family \
café naïve München São Paulo straße über ação 你好 谢谢 привет спасибо مرحبا שלום \
urgent please asap price contract lawyer angry broken help support ticket account password";
const FIRST: &str = "Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil Trent Victor Walter Zoé Łukasz Ayşe Björn";
const LAST: &str = "Smith Jones Brown Taylor Wilson Davies Evans Thomas Johnson Roberts Müller García Rossi Silva Khan";
/// The account owner's number in the generated history.
pub const OWN_NUMBER: &str = "447000000001";

/// A small deterministic generator (SplitMix64): reproducible corpora without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An index drawn with the given cumulative weights.
    fn weighted(&mut self, cumulative: &[f64]) -> usize {
        let total = cumulative.last().copied().unwrap_or(1.0);
        let x = self.unit() * total;
        cumulative.partition_point(|&c| c <= x).min(cumulative.len() - 1)
    }
}

fn cumulative(n: usize, exponent: f64) -> Vec<f64> {
    let mut sum = 0.0;
    (0..n)
        .map(|i| {
            sum += 1.0 / ((i + 1) as f64).powf(exponent);
            sum
        })
        .collect()
}

struct GeneratedChat {
    jid: String,
    name: String,
    members: Vec<String>,
}

/// Writes `messages` messages in lharries' schema to `out` (replacing it). Returns the chat count.
pub fn generate(out: &Path, messages: u64) -> rusqlite::Result<usize> {
    let _ = std::fs::remove_file(out);
    let mut db = Connection::open(out)?;
    db.pragma_update(None, "journal_mode", "OFF")?;
    db.pragma_update(None, "synchronous", "OFF")?;
    db.execute_batch(
        "CREATE TABLE chats (jid TEXT PRIMARY KEY, name TEXT, last_message_time TIMESTAMP);
         CREATE TABLE messages (id TEXT, chat_jid TEXT, sender TEXT, content TEXT, timestamp TIMESTAMP,
           is_from_me BOOLEAN, media_type TEXT, filename TEXT, url TEXT, media_key BLOB, file_sha256 BLOB,
           file_enc_sha256 BLOB, file_length INTEGER, PRIMARY KEY (id, chat_jid), FOREIGN KEY (chat_jid) REFERENCES chats(jid));",
    )?;
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let first: Vec<&str> = FIRST.split_whitespace().collect();
    let last: Vec<&str> = LAST.split_whitespace().collect();
    let word_weights = cumulative(words.len(), 0.9);
    let n_chats = (messages / 250).max(50) as usize;
    let chat_weights = cumulative(n_chats, 0.7);
    let mut rng = Rng(42);
    let chats: Vec<GeneratedChat> = (0..n_chats)
        .map(|i| {
            if i % 10 == 9 {
                let kind = ["Team", "Family", "Club", "Group"][rng.below(4) as usize];
                let word = pick(&mut rng, &words);
                let members =
                    (0..3 + rng.below(27)).map(|_| (447_700_000_000 + rng.below(1_000_000)).to_string()).collect();
                GeneratedChat { jid: format!("1203630{i:08}@g.us"), name: format!("{} {kind}", title(word)), members }
            } else {
                let phone = (447_700_000_000 + (i as u64 * 7919) % 100_000_000).to_string();
                let name = format!("{} {}", pick(&mut rng, &first), pick(&mut rng, &last));
                GeneratedChat { jid: format!("{phone}@s.whatsapp.net"), name, members: vec![phone] }
            }
        })
        .collect();
    let start = 1_730_419_200; // 2024-11-01T00:00:00Z
    let span = 2 * 365 * 24 * 3600;
    let mut newest = vec![0i64; n_chats];
    let tx = db.transaction()?;
    {
        let mut insert_chat = tx.prepare("INSERT INTO chats (jid, name) VALUES (?1, ?2)")?;
        for chat in &chats {
            insert_chat.execute(params![chat.jid, chat.name])?;
        }
        let mut insert =
            tx.prepare("INSERT INTO messages VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")?;
        let mut text = String::new();
        for k in 0..messages {
            let c = rng.weighted(&chat_weights);
            let chat = &chats[c];
            let at = start + rng.below(span) as i64;
            newest[c] = newest[c].max(at);
            let mine = rng.unit() < 0.4;
            let sender = if mine { OWN_NUMBER } else { &chat.members[rng.below(chat.members.len() as u64) as usize] };
            text.clear();
            for n in 0..2 + rng.below(23) {
                if n > 0 {
                    text.push(' ');
                }
                text.push_str(words[rng.weighted(&word_weights)]);
            }
            let media = (rng.unit() < 0.05).then(|| ["image", "video", "audio", "document"][rng.below(4) as usize]);
            let content = if media.is_some() && rng.unit() < 0.5 { "" } else { text.as_str() };
            let blob = |b: u8| media.map(|_| vec![b; 32]);
            insert.execute(params![
                format!("3EB0{k:016X}"),
                chat.jid,
                sender,
                content,
                timestamp_text(at),
                mine,
                media,
                media.map(|m| format!("{m}_{k}.bin")),
                media.map(|_| format!("https://mmg.whatsapp.net/v/t62/{k}.enc?ccb=11-4")),
                blob(b'k'),
                blob(b's'),
                blob(b'e'),
                media.map(|_| 1_000 + rng.below(10_000_000) as i64),
            ])?;
        }
        let mut set_time = tx.prepare("UPDATE chats SET last_message_time = ?2 WHERE jid = ?1")?;
        for (chat, newest) in chats.iter().zip(&newest) {
            set_time.execute(params![chat.jid, (*newest > 0).then(|| timestamp_text(*newest))])?;
        }
    }
    tx.commit()?;
    Ok(n_chats)
}

fn pick<'a>(rng: &mut Rng, list: &[&'a str]) -> &'a str {
    list[rng.below(list.len() as u64) as usize]
}

fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Seconds since the epoch as lharries' Go bridge stores them: `2025-03-01 12:00:00+00:00`.
fn timestamp_text(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default().format("%Y-%m-%d %H:%M:%S+00:00").to_string()
}
