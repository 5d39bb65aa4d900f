//! `wamcp demo`: the sample account served over MCP on stdio, offline, with no phone.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use wamcp_core::Timestamp;
use wamcp_store::{DataDir, Reader, Writer};

use crate::sample;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Create the sample store and print how to connect, without serving
    #[arg(long)]
    no_serve: bool,
}

pub fn run(data_dir: Option<PathBuf>, args: DemoArgs) -> anyhow::Result<()> {
    // The demo never touches the real store: by default it lives beside it, in wamcp-demo.
    let explicit = data_dir.is_some();
    let dir = match data_dir {
        Some(dir) => DataDir::at(dir),
        None => DataDir::at(DataDir::resolve(None)?.root().with_file_name("wamcp-demo")),
    };
    dir.ensure()?;
    let path = dir.store_path();
    let mut writer = Writer::open(&path).with_context(|| format!("cannot open the store {}", path.display()))?;
    let summary = sample::write(&mut writer, Timestamp::now())?;
    drop(writer);
    eprintln!(
        "wamcp demo: a sample WhatsApp account with {} chats and {} messages in {}",
        summary.chats,
        summary.messages,
        path.display()
    );
    print_client_setup(explicit.then(|| dir.root()));
    if args.no_serve {
        return Ok(());
    }
    eprintln!("Serving MCP on stdin/stdout until the client disconnects (Ctrl-D ends it).");
    let reader = Reader::open(&path).with_context(|| format!("cannot open the store {}", path.display()))?;
    super::mcp::serve(reader)
}

/// How to point the MCP Inspector, Claude Code or Claude Desktop at this demo.
fn print_client_setup(data_dir: Option<&std::path::Path>) {
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "wamcp".into());
    let mut args: Vec<String> = Vec::new();
    if let Some(dir) = data_dir {
        args.extend(["--data-dir".to_string(), dir.display().to_string()]);
    }
    args.push("demo".to_string());
    let shell = args.join(" ");
    let json_args = serde_json::to_string(&args).unwrap_or_default();
    let exe_json = serde_json::to_string(&exe).unwrap_or_default();
    eprintln!("Point an MCP client at it:");
    eprintln!("  MCP Inspector:  npx @modelcontextprotocol/inspector {exe} {shell}");
    eprintln!("  Claude Code:    claude mcp add whatsapp-demo -- {exe} {shell}");
    eprintln!(
        "  Claude Desktop: add to claude_desktop_config.json: {{\"mcpServers\": {{\"whatsapp-demo\": {{\"command\": {exe_json}, \"args\": {json_args}}}}}}}"
    );
}
