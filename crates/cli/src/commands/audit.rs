//! `wamcp audit`: the MCP tool calls recorded in the audit log beside the store, newest first.

use anyhow::Context;
use clap::Args;
use serde_json::json;
use wamcp_store::AuditLog;

use crate::config::Layers;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// How many calls to show
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: u32,
    /// Only calls of this tool (send_message, list_messages, ...)
    #[arg(long, value_name = "TOOL")]
    tool: Option<String>,
    /// One JSON object a line instead of a table
    #[arg(long)]
    json: bool,
}

pub fn run(mut layers: Layers, args: AuditArgs) -> anyhow::Result<()> {
    if let Some(tool) = &args.tool {
        let names = wamcp_mcp::tools::Tools::all_names();
        if !names.contains(tool) {
            anyhow::bail!("--tool: there is no tool called '{tool}'; the tools are {}", names.join(", "));
        }
    }
    // Reading only: a data directory without a store is reported, never created.
    let dir = layers.data_dir()?;
    let path = dir.store_path();
    if !path.is_file() {
        anyhow::bail!("there is no store in {} (is --data-dir right?): no tool calls recorded", dir.root().display());
    }
    let log = AuditLog::open(&path).with_context(|| format!("cannot open the audit log beside {}", path.display()))?;
    let entries = log.entries(args.limit, args.tool.as_deref())?;
    if entries.is_empty() {
        let recorded_in = wamcp_store::audit::audit_path(&path);
        match &args.tool {
            Some(tool) => eprintln!("no calls of {tool} recorded in {}", recorded_in.display()),
            None => eprintln!("no tool calls recorded in {}", recorded_in.display()),
        }
    }
    for entry in entries {
        let outcome = if entry.ok { "ok" } else { "error" };
        if args.json {
            let line = json!({
                "time": entry.at.to_rfc3339(),
                "session": entry.session,
                "tool": entry.tool,
                "arguments": serde_json::from_str::<serde_json::Value>(&entry.arguments).unwrap_or_default(),
                "outcome": outcome,
                "detail": entry.detail,
            });
            outln!("{line}")?;
        } else {
            let detail = entry.detail.map(|d| format!("  -> {}", d.replace('\n', " "))).unwrap_or_default();
            outln!("{}  {outcome:<5}  {:<22} {}{detail}", entry.at.to_rfc3339(), entry.tool, entry.arguments)?;
        }
    }
    Ok(())
}
