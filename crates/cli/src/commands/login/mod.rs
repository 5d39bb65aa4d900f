//! `wamcp login`: link this computer to a WhatsApp account as a companion device.
//!
//! The QR code WhatsApp offers is shown three ways, refreshed as it rotates: in the terminal, as
//! `pair-qr.png` in the data directory, and on a local page (`http://127.0.0.1:PORT/pair`). With
//! `--phone`, WhatsApp sends a pairing code to type on the phone instead. Exit codes: 0 linked
//! (or already linked), 1 failed, 2 timed out.

mod page;
mod phone;
mod png;
mod reach;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tokio::sync::mpsc;
use wamcp_bridge::event_store::EventStore;
use wamcp_core::{Disconnect, Jid, LinkEvent, normalize_phone};
use wamcp_link::Link;
use wamcp_link::whatsapp::{HistoryWindow, LinkOptions, SESSION_FILE, WhatsAppLink, initial_sync};

use crate::config::Layers;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Pair with a code sent for this phone number (with country code) instead of a QR code
    #[arg(long, value_name = "+NUMBER")]
    phone: Option<String>,
    /// How much history to ask the phone for: full (the default, up to a year per chat) or recent
    #[arg(long, env = "WAMCP_HISTORY", value_name = "full|recent")]
    history: Option<HistoryWindow>,
    /// Give up after this many seconds
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    timeout: u64,
    /// Where the local pairing page listens
    #[arg(long, default_value = "127.0.0.1:8766", value_name = "ADDR:PORT")]
    pair_page: SocketAddr,
}

/// File the current QR code is written to, in the data directory.
pub const QR_PNG: &str = "pair-qr.png";

pub fn run(layers: Layers, args: LoginArgs) -> ExitCode {
    match login(layers, args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn login(mut layers: Layers, args: LoginArgs) -> anyhow::Result<ExitCode> {
    let phone =
        args.phone.as_deref().map(normalize_phone).transpose().map_err(|e| {
            anyhow::anyhow!("--phone: {e}; give the number with its country code, like +44 7700 900123")
        })?;
    if let Some(digits) = &phone {
        phone::check(digits).map_err(|why| anyhow::anyhow!("--phone: {why}; nothing was sent"))?;
    }
    let history_in_file = layers.file().history;
    let history = layers.pick("history", "WAMCP_HISTORY", args.history, history_in_file, HistoryWindow::default);
    let presence = layers.file().presence.unwrap_or_default();
    let named = layers.data_dir_named();
    let dir = super::data_dir(&mut layers)?;
    let again = retry_command(named.then(|| dir.root()), args.phone.as_deref());
    // One process at a time may use the WhatsApp session; held until the login ends.
    let _lock = dir.lock_for(wamcp_store::Holder::Login)?;
    let root = dir.root().to_path_buf();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let page = if phone.is_none() { page::serve(args.pair_page).await } else { None };
        let window = reach::WINDOW.min(Duration::from_secs(args.timeout));
        reach::wait_for_whatsapp(window, |failure| {
            if let Some(page) = &page {
                page.state.problem(failure.to_string());
            }
        })
        .await
        .map_err(|failure| anyhow::anyhow!("{failure}; then run `{again}` again"))?;
        if let Some(page) = &page {
            page.state.clear_problem();
        }
        // The daemon's presence setting, so a login does not contradict it meanwhile.
        let options = LinkOptions { pair_phone: phone.clone(), history, presence };
        let link = WhatsAppLink::new(root.join(SESSION_FILE), options);
        let (events, mut received) = mpsc::channel(64);
        link.connect(events.clone()).await?;
        let store = EventStore::open(&root)?;
        let stored = store.sender();
        let outcome = tokio::time::timeout(Duration::from_secs(args.timeout), async {
            let mut pairing_seen = false;
            let mut paired: Option<Jid> = None;
            let mut codes_shown = 0;
            while let Some(event) = received.recv().await {
                match event {
                    // With --phone the code is the way in: the QR codes WhatsApp offers meanwhile
                    // would only bury it.
                    LinkEvent::PairingQr { code, .. } => {
                        pairing_seen = true;
                        if phone.is_none() {
                            show_qr(&code, &root, page.as_ref().map(|p| &p.state), args.pair_page);
                        }
                    }
                    LinkEvent::PairingCode { code } => {
                        if codes_shown == 0 {
                            eprintln!(
                                "On your phone: WhatsApp > Linked devices > Link a device > Link with phone number"
                            );
                            eprintln!("instead, and enter this code: {code}");
                        } else {
                            eprintln!("That code expired. Enter this one instead: {code}");
                        }
                        pairing_seen = true;
                        codes_shown += 1;
                    }
                    LinkEvent::PairingEnded { why, timed_out: true } => {
                        return Ok((
                            ExitCode::from(2),
                            format!("{why}. Run `{again}` again when your phone is at hand."),
                        ));
                    }
                    LinkEvent::PairingEnded { why, timed_out: false } => return Err(anyhow::anyhow!("{why}")),
                    // Linked, but not yet logged in: WhatsApp restarts the stream, and the first
                    // login syncs the contacts. Staying until then shows that linking worked.
                    LinkEvent::Paired { account } => {
                        if let Err(e) = initial_sync::request(&root.join(SESSION_FILE)) {
                            eprintln!("(could not note that the first sync is due: {e})");
                        }
                        eprintln!("Linked to WhatsApp as {}. Logging in and syncing contacts...", shown(&account));
                        paired = Some(account);
                    }
                    LinkEvent::Connected { .. } if paired.is_some() => {
                        let account = paired.take().map(|a| shown(&a)).unwrap_or_default();
                        return Ok((
                            ExitCode::SUCCESS,
                            format!(
                                "Logged in as {account}; contacts synced. Start the daemon with `wamcp serve`: chats \
                                 and history arrive there."
                            ),
                        ));
                    }
                    LinkEvent::Connected { account } if !pairing_seen => {
                        let who = account.map(|a| a.to_string()).unwrap_or_else(|| "this account".into());
                        return Ok((
                            ExitCode::SUCCESS,
                            format!(
                                "Already linked as {who}. To link another account, remove {} first.",
                                root.join(SESSION_FILE).display()
                            ),
                        ));
                    }
                    // The stored session was unlinked while nothing ran: its keys are dead. Set
                    // them aside and pair afresh with a new client.
                    LinkEvent::Disconnected(Disconnect::LoggedOut(_)) if !pairing_seen => {
                        link.disconnect().await;
                        match link.unlinked_session_moved_to() {
                            Some(folder) => eprintln!(
                                "This data directory's session was unlinked from the phone; its files are now in {}. \
                                 Pairing afresh.",
                                folder.display()
                            ),
                            None => {
                                eprintln!("This data directory's session was unlinked from the phone. Pairing afresh.")
                            }
                        }
                        pairing_seen = true;
                        link.connect(events.clone()).await?;
                    }
                    LinkEvent::Disconnected(why) if !why.is_transient() => {
                        return Err(anyhow::anyhow!("{}", why.advice()));
                    }
                    // What arrives once linked (contacts, messages, the first history) is stored:
                    // the library does not hand it over twice.
                    other => {
                        if paired.is_some() || pairing_seen {
                            let _ = stored.send(other).await;
                        }
                    }
                }
            }
            Err(anyhow::anyhow!("the connection to WhatsApp ended before pairing"))
        })
        .await;
        link.disconnect().await;
        drop(stored);
        store.close().await;
        let _ = std::fs::remove_file(root.join(QR_PNG));
        match outcome {
            Ok(Ok((code, message))) => {
                eprintln!("{message}");
                Ok(code)
            }
            Ok(Err(error)) => Err(error),
            Err(_) => {
                eprintln!(
                    "No phone was linked within {} seconds. Run `{again}` again when your phone is at hand.",
                    args.timeout
                );
                Ok(ExitCode::from(2))
            }
        }
    })
}

/// An account as a person reads it: `+447911123456`.
fn shown(account: &Jid) -> String {
    account.phone().map(|digits| format!("+{digits}")).unwrap_or_else(|| account.to_string())
}

/// The command to run again, with the flags that matter that the user gave: `wamcp --data-dir
/// DIR login --phone +NUMBER`.
fn retry_command(data_dir: Option<&Path>, phone: Option<&str>) -> String {
    let mut command = String::from("wamcp");
    if let Some(dir) = data_dir {
        command.push_str(&format!(" --data-dir {}", shell_word(&dir.display().to_string())));
    }
    command.push_str(" login");
    if let Some(phone) = phone {
        command.push_str(&format!(" --phone {}", shell_word(phone)));
    }
    command
}

/// A word as a shell reads it back: quoted when it holds anything but safe characters.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "+-_./:@".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Shows a QR code in the terminal, writes it as a PNG and hands it to the pairing page.
fn show_qr(code: &str, data_dir: &Path, page: Option<&page::PageState>, page_addr: SocketAddr) {
    let Ok(qr) = qrcode::QrCode::new(code.as_bytes()) else {
        eprintln!("WhatsApp sent a pairing code too long for a QR code; try `wamcp login --phone +NUMBER`");
        return;
    };
    let terminal = qr
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .build();
    eprintln!("{terminal}");
    eprintln!("Scan with your phone: WhatsApp > Settings > Linked devices > Link a device.");
    let png_path = data_dir.join(QR_PNG);
    match std::fs::write(&png_path, qr_png(&qr)) {
        Ok(()) => eprintln!("The same code is in {}", png_path.display()),
        Err(e) => eprintln!("(could not write {}: {e})", png_path.display()),
    }
    if let Some(page) = page {
        page.set(qr.render::<qrcode::render::svg::Color>().min_dimensions(256, 256).build());
        // A page on every interface is also this machine's (a container's, through its port).
        let page_addr = super::daemon::loopback(page_addr);
        eprintln!("and on http://{page_addr}/pair (it refreshes as the code changes).");
    }
}

/// The QR code as a PNG: 8 pixels a module, with the 4-module quiet zone scanners need.
fn qr_png(qr: &qrcode::QrCode) -> Vec<u8> {
    const SCALE: usize = 8;
    const QUIET: usize = 4;
    let modules = qr.width();
    let size = (modules + 2 * QUIET) * SCALE;
    let colors = qr.to_colors();
    let mut pixels = vec![255u8; size * size];
    for y in 0..size {
        for x in 0..size {
            let (mx, my) = ((x / SCALE).wrapping_sub(QUIET), (y / SCALE).wrapping_sub(QUIET));
            if mx < modules && my < modules && colors[my * modules + mx] == qrcode::Color::Dark {
                pixels[y * size + x] = 0;
            }
        }
    }
    png::encode_grey(size as u32, &pixels)
}
