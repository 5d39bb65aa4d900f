//! `wamcp import lharries PATH`: bring a lharries/whatsapp-mcp history across.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use wamcp_store::Writer;
use wamcp_store::import::lharries::{ImportReport, Source};

use crate::config::Layers;

#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// A lharries/whatsapp-mcp database (whatsapp-bridge/store/messages.db); safe to run again
    Lharries {
        /// Path of messages.db
        path: PathBuf,
    },
}

pub fn run(mut layers: Layers, source: ImportSource) -> anyhow::Result<()> {
    let ImportSource::Lharries { path } = source;
    // Check the source before touching the store: bad input writes nothing.
    let source = Source::open(&path)?;
    let dir = super::data_dir(&mut layers)?;
    let mut writer = Writer::open(&dir.store_path())
        .with_context(|| format!("cannot open the store {}", dir.store_path().display()))?;
    let bar = ProgressBar::new(0).with_style(progress_style());
    let started = Instant::now();
    let report = source.import_into(&mut writer, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    drop(writer); // closing checkpoints the write-ahead log: part of the import's time
    bar.finish_and_clear();
    print_report(&path, &dir.store_path(), &report, started.elapsed().as_secs_f64())
}

/// The bar: whole messages per second, and no time left promised before anything was read.
fn progress_style() -> ProgressStyle {
    ProgressStyle::with_template("{bar:40} {pos}/{len} messages ({rate}, {left})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0} messages/s", state.per_sec());
        })
        .with_key("left", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = if state.pos() == 0 {
                write!(w, "estimating time left")
            } else {
                write!(w, "{} s left", state.eta().as_secs())
            };
        })
}

fn print_report(
    source: &std::path::Path,
    store: &std::path::Path,
    report: &ImportReport,
    seconds: f64,
) -> anyhow::Result<()> {
    if report.messages_imported == 0 {
        outln!("Nothing new in {}: {} already holds all of it", source.display(), store.display())?;
    } else {
        outln!("Imported {} into {}", source.display(), store.display())?;
    }
    outln!("  chats:    {}", report.chats)?;
    outln!("  contacts: {}", report.contacts)?;
    outln!(
        "  messages: {} new, {} already present, {} read in {:.1} s ({:.0} messages/s)",
        report.messages_imported,
        report.messages_present,
        report.messages_read,
        seconds,
        report.messages_read as f64 / seconds.max(1e-9)
    )?;
    for (reason, count) in &report.skipped {
        outln!("  skipped:  {count} ({reason})")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indicatif::{ProgressBar, ProgressDrawTarget, TermLike};

    use super::progress_style;

    /// A terminal that keeps everything drawn on it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, line: &str) -> std::io::Result<()> {
            let mut screen = self.0.lock().unwrap();
            screen.push_str(line);
            screen.push('\n');
            Ok(())
        }
        fn write_str(&self, text: &str) -> std::io::Result<()> {
            self.write_line(text)
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_bar_shows_whole_messages_per_second_and_promises_no_time_before_it_starts() {
        let screen = Screen::default();
        let bar = ProgressBar::with_draw_target(Some(100_000), ProgressDrawTarget::term_like(Box::new(screen.clone())))
            .with_style(progress_style());
        bar.force_draw();
        let start = std::mem::take(&mut *screen.0.lock().unwrap());
        assert!(start.contains("estimating time left") && !start.contains("0 s left"), "{start}");
        bar.set_position(56_248);
        bar.force_draw();
        let later = screen.0.lock().unwrap().clone();
        let rate = later.split(" messages/s").next().and_then(|s| s.rsplit('(').next()).unwrap_or_default();
        assert!(!rate.is_empty() && rate.chars().all(|c| c.is_ascii_digit()), "a whole number: {later}");
        assert!(later.contains(" s left"), "{later}");
    }
}
