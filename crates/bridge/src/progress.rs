//! History sync progress: a log line per batch with counts, and a bar when a person watches the
//! terminal.

use std::io::IsTerminal;

use tracing::info;

pub struct HistoryProgress {
    batches: u64,
    messages: u64,
    bar: Option<indicatif::ProgressBar>,
}

impl HistoryProgress {
    pub fn new() -> HistoryProgress {
        HistoryProgress { batches: 0, messages: 0, bar: None }
    }

    /// One more batch stored, with `messages` new messages; `percent` as the phone reports it.
    pub fn batch(&mut self, messages: u64, percent: Option<u8>) {
        self.batches += 1;
        self.messages += messages;
        info!(
            batch = self.batches,
            new_messages = messages,
            total_messages = self.messages,
            progress = percent.map(|p| format!("{p}%")).unwrap_or_else(|| "?".into()),
            "history sync"
        );
        if std::io::stderr().is_terminal() {
            let bar = self.bar.get_or_insert_with(|| {
                let bar = indicatif::ProgressBar::new(100);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("history sync [{bar:30}] {pos}% {msg}")
                        .expect("the template is valid")
                        .progress_chars("=> "),
                );
                bar
            });
            bar.set_position(u64::from(percent.unwrap_or(0)));
            bar.set_message(format!("{} messages", self.messages));
            if percent == Some(100) {
                bar.finish();
                self.bar = None;
            }
        }
    }
}
