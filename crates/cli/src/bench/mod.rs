//! `wamcp bench`: the read path measured end to end on a generated history.
//!
//! It generates a lharries-schema corpus (or takes one), imports it (import rate), then starts
//! `wamcp mcp` as an MCP client would (start-up: spawn until `initialize` is answered), calls every
//! read tool with typical arguments many times (p50 / p99 per call) and reads the server's peak
//! resident memory from /proc. Then it runs a daemon on the same store and compares each call
//! through its socket with the direct read ([`socket`]). Figures are printed with the targets
//! beside them. With `--daemon` it measures the daemon instead (see [`daemon`]).

mod corpus;
mod daemon;
mod desk;
mod socket;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt, service::RunningService};
use serde_json::{Value, json};
use wamcp_store::import::lharries::Source;
use wamcp_store::{DataDir, Writer};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Messages in the generated history
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Use this lharries messages.db instead of generating one
    #[arg(long, value_name = "PATH")]
    corpus: Option<PathBuf>,
    /// Work directory (kept afterwards); default: a temporary directory, removed afterwards
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Calls per tool call shape
    #[arg(long, default_value_t = 30)]
    calls: usize,
    /// Server start-ups to time
    #[arg(long, default_value_t = 20)]
    startups: usize,
    /// With --dir: reuse the store an earlier run imported there (skips generation and import)
    #[arg(long, requires = "dir")]
    reuse: bool,
    /// Measure the daemon instead: history-sync ingest rate, REST send latency and memory
    #[arg(long)]
    daemon: bool,
    /// Measure the support desk instead: webhook-to-answer latency and intake rate (--messages
    /// webhooks; try 5000)
    #[arg(long, conflicts_with = "daemon")]
    desk: bool,
    /// With --desk: also measure on PostgreSQL, creating a database on this server
    #[arg(long, requires = "desk", value_name = "URL")]
    postgres_url: Option<String>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let temp;
    let work = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            temp = TempDir::new()?;
            temp.0.clone()
        }
    };
    if args.daemon {
        return daemon::run(&work, args.messages);
    }
    if args.desk {
        return desk::run(&work, args.messages, args.postgres_url.as_deref());
    }
    let data = DataDir::at(work.join("data"));
    if !(args.reuse && data.store_path().is_file()) {
        import_corpus(&args, &work, &data)?;
    }
    let runtime = super::commands::runtime()?;
    runtime.block_on(measure_server(data.root(), &args))?;
    runtime.block_on(socket::compare(data.root(), &work, args.calls))
}

/// Generates (or takes) the corpus and imports it into a fresh store, printing the rates.
fn import_corpus(args: &BenchArgs, work: &Path, data: &DataDir) -> anyhow::Result<()> {
    let corpus = match &args.corpus {
        Some(path) => path.clone(),
        None => {
            let path = work.join("lharries-messages.db");
            let started = Instant::now();
            let chats = corpus::generate(&path, args.messages)?;
            outln!(
                "corpus      {} messages in {chats} chats generated in {:.1} s",
                args.messages,
                started.elapsed().as_secs_f64()
            )?;
            path
        }
    };
    data.ensure()?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", data.store_path().display()));
    }
    let source = Source::open(&corpus)?;
    let mut writer = Writer::open(&data.store_path())?;
    let started = Instant::now();
    let report = source.import_into(&mut writer, &mut |_, _| {})?;
    drop(writer); // closing checkpoints the write-ahead log: part of the import's cost
    let seconds = started.elapsed().as_secs_f64();
    outln!(
        "import      {} messages in {seconds:.1} s = {:.0} messages/s (target >= 100000)",
        report.messages_imported,
        report.messages_imported as f64 / seconds
    )?;
    let store_bytes = std::fs::metadata(data.store_path()).map(|m| m.len()).unwrap_or(0);
    outln!("store       {:.0} MB", store_bytes as f64 / 1e6)?;
    Ok(())
}

async fn measure_server(data_dir: &Path, args: &BenchArgs) -> anyhow::Result<()> {
    let mut startups = Vec::with_capacity(args.startups);
    for _ in 0..args.startups {
        let started = Instant::now();
        let client = start_server(&direct(data_dir)).await?.0;
        startups.push(started.elapsed());
        client.cancel().await?;
    }
    let (p50, p99) = percentiles(&mut startups);
    outln!("startup     p50 {} p99 {} (spawn -> initialize answered; target p50 <= 30 ms)", ms(p50), ms(p99))?;

    let (client, pid) = start_server(&direct(data_dir)).await?;
    let calls = typical_calls(&client).await?;
    outln!("{:<58} {:>9} {:>9}", "tool call (target p50 <= 20 ms)", "p50", "p99")?;
    let mut one_of_each = Duration::ZERO;
    for (label, tool, arguments) in &calls {
        let mut times = Vec::with_capacity(args.calls);
        for _ in 0..args.calls {
            let started = Instant::now();
            let result = call(&client, tool, arguments.clone()).await?;
            times.push(started.elapsed());
            anyhow::ensure!(result.is_error != Some(true), "{label} failed: {:?}", result.content);
        }
        let (p50, p99) = percentiles(&mut times);
        one_of_each += p50;
        outln!("{label:<58} {:>9} {:>9}", ms(p50), ms(p99))?;
    }
    outln!("all {} calls once (sum of p50s): {}", calls.len(), ms(one_of_each))?;
    let peak = pid.and_then(peak_rss_kib);
    client.cancel().await?;
    match peak {
        Some(kib) => outln!("server peak RSS {:.1} MB (target <= 30 MB)", kib as f64 / 1024.0)?,
        None => outln!("server peak RSS: not available (no /proc)")?,
    }
    Ok(())
}

type Client = RunningService<RoleClient, ()>;

/// The arguments of `wamcp mcp` reading the store in `data_dir`.
fn direct(data_dir: &Path) -> [OsString; 3] {
    ["--data-dir".into(), data_dir.as_os_str().to_owned(), "mcp".into()]
}

/// Starts `wamcp ARGS` (an MCP server on stdio) and completes the MCP handshake.
async fn start_server(args: &[OsString]) -> anyhow::Result<(Client, Option<u32>)> {
    let exe = std::env::current_exe()?;
    let transport = TokioChildProcess::new(tokio::process::Command::new(exe).configure(|c| {
        c.args(args);
    }))?;
    let pid = transport.id();
    let client = ().serve(transport).await.context("the MCP server did not complete initialize")?;
    Ok((client, pid))
}

async fn call(client: &Client, tool: &str, arguments: Value) -> anyhow::Result<rmcp::model::CallToolResult> {
    let Value::Object(arguments) = arguments else { anyhow::bail!("arguments must be an object") };
    Ok(client.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments)).await?)
}

/// Representative calls, with chats, people and ids taken from the store itself.
async fn typical_calls(client: &Client) -> anyhow::Result<Vec<(String, &'static str, Value)>> {
    let chats = call(client, "list_chats", json!({"limit": 100, "include_last_message": false})).await?;
    let chats = chats.structured_content.unwrap_or_default();
    let list = chats["chats"].as_array().cloned().unwrap_or_default();
    let direct = list.iter().find(|c| c["kind"] == "direct").context("no direct chat in the corpus")?;
    let group = list.iter().find(|c| c["kind"] == "group").context("no group in the corpus")?;
    let direct_jid = direct["jid"].as_str().unwrap_or_default().to_string();
    let phone = direct_jid.split('@').next().unwrap_or_default().to_string();
    let name = direct["name"].as_str().unwrap_or_default().split(' ').next().unwrap_or_default().to_string();
    let newest =
        call(client, "list_messages", json!({"chat_jid": direct_jid, "limit": 1, "include_context": false})).await?;
    let message_id =
        newest.structured_content.unwrap_or_default()["messages"][0]["id"].as_str().unwrap_or_default().to_string();
    let formatted_phone = format!("+{} {}", &phone[..2], &phone[2..]);
    Ok(vec![
        ("list_chats (newest 20, with last message)".into(), "list_chats", json!({})),
        ("list_chats sort_by=name".into(), "list_chats", json!({"sort_by": "name"})),
        (format!("list_chats query={name}"), "list_chats", json!({"query": name})),
        (format!("search_contacts query={name}"), "search_contacts", json!({"query": name})),
        (format!("search_contacts query={formatted_phone}"), "search_contacts", json!({"query": formatted_phone})),
        ("list_messages (newest 20, with context)".into(), "list_messages", json!({})),
        ("list_messages query=meeting (common word)".into(), "list_messages", json!({"query": "meeting"})),
        ("list_messages query=\"sao paulo\" (accents folded)".into(), "list_messages", json!({"query": "sao paulo"})),
        ("list_messages query=meet* (prefix)".into(), "list_messages", json!({"query": "meet*"})),
        (
            "list_messages query=lawyer + chat_jid".into(),
            "list_messages",
            json!({"query": "lawyer", "chat_jid": group["jid"]}),
        ),
        ("list_messages chat_jid (direct)".into(), "list_messages", json!({"chat_jid": direct_jid})),
        ("list_messages sender_phone_number".into(), "list_messages", json!({"sender_phone_number": formatted_phone})),
        (
            "list_messages after/before (one month)".into(),
            "list_messages",
            json!({"after": "2025-06-01", "before": "2025-07-01"}),
        ),
        ("get_chat".into(), "get_chat", json!({"chat_jid": direct_jid})),
        (
            "get_direct_chat_by_contact".into(),
            "get_direct_chat_by_contact",
            json!({"sender_phone_number": formatted_phone}),
        ),
        ("get_contact_chats".into(), "get_contact_chats", json!({"jid": direct_jid})),
        ("get_last_interaction".into(), "get_last_interaction", json!({"jid": direct_jid})),
        ("get_message_context".into(), "get_message_context", json!({"message_id": message_id})),
    ])
}

fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The peak resident set of a process (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let path = std::env::temp_dir().join(format!("wamcp-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
