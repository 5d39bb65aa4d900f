//! `fakewa --listen 127.0.0.1:PORT --data-dir DIR`: runs the fake WhatsApp server and phone, and
//! prints `ready ws=… control=…` on stdout once both listeners accept connections.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;

/// A WhatsApp server and phone for tests (never for real accounts).
#[derive(Parser)]
#[command(name = "fakewa", version)]
struct Args {
    /// Where the client connects (the WebSocket; any path). Port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where the control API listens (JSON), which is also the media host. Port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:0")]
    control: SocketAddr,
    /// Where the account's state is kept between runs.
    #[arg(long)]
    data_dir: PathBuf,
    /// The account's phone number, when the data dir is new.
    #[arg(long, default_value = fakewa::state::DEFAULT_PHONE)]
    phone: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FAKEWA_LOG").unwrap_or_else(|_| "fakewa=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    for address in [args.listen, args.control] {
        if !address.ip().is_loopback() {
            anyhow::bail!("fakewa listens on the loopback only, not {address}");
        }
    }
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let chat =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let control =
        tokio::net::TcpListener::bind(args.control).await.with_context(|| format!("listening on {}", args.control))?;
    let chat_address = chat.local_addr()?;
    let control_address = control.local_addr()?;
    let hub = Arc::new(fakewa::world::Hub::open(&args.data_dir, &args.phone, control_address)?);
    tokio::spawn(fakewa::server::serve(chat, hub.clone()));
    tokio::spawn(fakewa::control::serve(control, hub.clone()));
    let mut out = std::io::stdout();
    writeln!(out, "ready ws=ws://{chat_address}/ws/chat control=http://{control_address}")?;
    out.flush()?;
    tokio::signal::ctrl_c().await?;
    Ok(())
}
