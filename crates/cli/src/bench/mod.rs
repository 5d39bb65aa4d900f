//! `wamcp bench`: the read path measured end to end on a generated history.
//!
//! It generates a lharries-schema corpus (or takes one), imports it (import rate), then starts
//! `wamcp mcp` as an MCP client would (start-up: spawn until `initialize` is answered), calls every
//! read tool with typical arguments many times (p50 / p99 per call) and reads the server's peak
//! resident memory from /proc, with the bytes of text each call hands the model (the context
//! budget). With `--lharries` it runs lharries/whatsapp-mcp's server on the same corpus with the
//! same calls and prints its figures beside ([`lharries`]). Then it runs a daemon on the same store and compares each call
//! through its socket with the direct read ([`socket`]). Figures are printed with the targets
//! beside them. With `--daemon` it measures the daemon instead (see [`daemon`]).

mod corpus;
mod daemon;
mod desk;
mod lharries;
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
    /// With --dir: reuse the store an earlier run imported there (skips generation and import;
    /// the earlier run's daemon added the demo account to it)
    #[arg(long, requires = "dir")]
    reuse: bool,
    /// Measure the daemon instead: history-sync ingest rate, REST send latency and memory
    #[arg(long)]
    daemon: bool,
    /// Measure the support desk instead: webhook-to-answer latency and intake rate (--messages
    /// webhooks; try 5000)
    #[arg(long, conflicts_with = "daemon")]
    desk: bool,
    /// Also run lharries/whatsapp-mcp's server (from this checkout) on the same corpus and print
    /// its figures beside
    #[arg(long, value_name = "DIR", conflicts_with_all = ["daemon", "desk"])]
    lharries: Option<PathBuf>,
    /// With --lharries: the Python with its dependencies (mcp[cli], httpx, requests)
    #[arg(long, value_name = "PATH", default_value = "python3", requires = "lharries")]
    lharries_python: PathBuf,
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
    let lharries = match &args.lharries {
        Some(checkout) => {
            let reference = lharries::Lharries { checkout: checkout.clone(), python: args.lharries_python.clone() };
            Some(reference.prepare(&corpus_path(&args, &work), &work)?)
        }
        None => None,
    };
    let runtime = super::commands::runtime()?;
    runtime.block_on(measure_server(data.root(), &args, lharries))?;
    runtime.block_on(socket::compare(data.root(), &work, args.calls))
}

/// Generates (or takes) the corpus and imports it into a fresh store, printing the rates.
/// The corpus: the one given, or the one generated in the work directory.
fn corpus_path(args: &BenchArgs, work: &Path) -> PathBuf {
    args.corpus.clone().unwrap_or_else(|| work.join("lharries-messages.db"))
}

fn import_corpus(args: &BenchArgs, work: &Path, data: &DataDir) -> anyhow::Result<()> {
    let corpus = match &args.corpus {
        Some(path) => path.clone(),
        None => {
            let path = corpus_path(args, work);
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

async fn measure_server(
    data_dir: &Path,
    args: &BenchArgs,
    lharries: Option<(PathBuf, Vec<OsString>)>,
) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut startups = Vec::with_capacity(args.startups);
    for _ in 0..args.startups {
        let started = Instant::now();
        let client = start(&exe, &direct(data_dir)).await?.0;
        startups.push(started.elapsed());
        client.cancel().await?;
    }
    let (p50, p99) = percentiles(&mut startups);
    outln!("startup     p50 {} p99 {} (spawn -> initialize answered; target p50 <= 30 ms)", ms(p50), ms(p99))?;

    let (client, pid) = start(&exe, &direct(data_dir)).await?;
    let sample = Sample::take(&client).await?;
    let calls = typical_calls(&sample);
    let theirs = match &lharries {
        Some((python, server)) => {
            let (reference, _) = start(python, server).await.context("lharries' server did not start")?;
            // Its calls take seconds on a large history: a few of each are enough.
            let figures = measure_calls(&reference, &calls, args.calls.min(3), false).await?;
            lharries::compare(&client, &reference, &sample).await?;
            reference.cancel().await?;
            Some(figures)
        }
        None => None,
    };
    let ours = measure_calls(&client, &calls, args.calls, true).await?;
    outln!(
        "{:<52} {:>9} {:>9} {:>7}{}",
        "tool call (target p50 <= 20 ms)",
        "p50",
        "p99",
        "bytes",
        if theirs.is_some() { "   lharries p50   bytes" } else { "" }
    )?;
    for (index, call) in calls.iter().enumerate() {
        let Figures { p50, p99, bytes } = ours[index];
        let beside = match &theirs {
            Some(theirs) => format!(" {:>14} {:>7}", ms(theirs[index].p50), theirs[index].bytes),
            None => String::new(),
        };
        outln!("{:<52} {:>9} {:>9} {bytes:>7}{beside}", call.label, ms(p50), ms(p99))?;
    }
    let sum = |figures: &[Figures]| figures.iter().map(|f| f.p50).sum::<Duration>();
    outln!("all {} calls once (sum of p50s): {}", calls.len(), ms(sum(&ours)))?;
    if let Some(theirs) = &theirs {
        outln!("lharries, the same {} calls once: {}", calls.len(), ms(sum(theirs)))?;
    }
    for (index, call) in calls.iter().enumerate() {
        if let Some(target) = call.bytes_target {
            let beside = theirs.as_ref().map(|t| format!(", lharries {}", t[index].bytes)).unwrap_or_default();
            outln!("context     {}: {} bytes of text (target <= {target}{beside})", call.label, ours[index].bytes)?;
        }
    }
    let peak = pid.and_then(peak_rss_kib);
    client.cancel().await?;
    match peak {
        Some(kib) => outln!("server peak RSS {:.1} MB (target <= 30 MB)", kib as f64 / 1024.0)?,
        None => outln!("server peak RSS: not available (no /proc)")?,
    }
    Ok(())
}

/// What one call shape measured: latency, and the bytes of text it hands the model.
#[derive(Debug, Clone, Copy)]
struct Figures {
    p50: Duration,
    p99: Duration,
    bytes: usize,
}

/// Times each call `times` times. With `must_succeed`, a tool error stops the benchmark (ours
/// must answer every typical call; lharries' answers are taken as they come).
async fn measure_calls(
    client: &Client,
    calls: &[Call],
    times: usize,
    must_succeed: bool,
) -> anyhow::Result<Vec<Figures>> {
    let mut figures = Vec::with_capacity(calls.len());
    for shape in calls {
        let mut durations = Vec::with_capacity(times);
        let mut bytes = 0;
        for _ in 0..times {
            let started = Instant::now();
            let result = call(client, shape.tool, shape.arguments.clone()).await?;
            durations.push(started.elapsed());
            anyhow::ensure!(
                !must_succeed || result.is_error != Some(true),
                "{} failed: {:?}",
                shape.label,
                result.content
            );
            bytes = text_bytes(&result);
        }
        let (p50, p99) = percentiles(&mut durations);
        figures.push(Figures { p50, p99, bytes });
    }
    Ok(figures)
}

/// The bytes of text content a result hands the model.
fn text_bytes(result: &rmcp::model::CallToolResult) -> usize {
    result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.len()).sum()
}

type Client = RunningService<RoleClient, ()>;

/// The arguments of `wamcp mcp` reading the store in `data_dir`.
fn direct(data_dir: &Path) -> [OsString; 3] {
    ["--data-dir".into(), data_dir.as_os_str().to_owned(), "mcp".into()]
}

/// Starts `wamcp ARGS` (an MCP server on stdio) and completes the MCP handshake.
async fn start_server(args: &[OsString]) -> anyhow::Result<(Client, Option<u32>)> {
    start(&std::env::current_exe()?, args).await
}

/// Starts `PROGRAM ARGS`, an MCP server on stdio, and completes the MCP handshake.
async fn start(program: &Path, args: &[OsString]) -> anyhow::Result<(Client, Option<u32>)> {
    let command = tokio::process::Command::new(program).configure(|c| {
        c.args(args);
    });
    // What a server logs is not the benchmark's output.
    let (transport, _) = TokioChildProcess::builder(command).stderr(std::process::Stdio::null()).spawn()?;
    let pid = transport.id();
    let client = ().serve(transport).await.context("the MCP server did not complete initialize")?;
    Ok((client, pid))
}

async fn call(client: &Client, tool: &str, arguments: Value) -> anyhow::Result<rmcp::model::CallToolResult> {
    let Value::Object(arguments) = arguments else { anyhow::bail!("arguments must be an object") };
    Ok(client.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments)).await?)
}

/// One call shape of the benchmark.
struct Call {
    label: String,
    tool: &'static str,
    arguments: Value,
    /// The most bytes of text it should hand the model, where the context budget sets one.
    bytes_target: Option<usize>,
}

impl Call {
    fn new(label: impl Into<String>, tool: &'static str, arguments: Value) -> Call {
        Call { label: label.into(), tool, arguments, bytes_target: None }
    }

    fn at_most(mut self, bytes: usize) -> Call {
        self.bytes_target = Some(bytes);
        self
    }
}

/// Chats, people and ids taken from the store, for calls that find something.
pub(crate) struct Sample {
    pub direct_jid: String,
    pub group_jid: String,
    /// The direct chat's number, digits only.
    pub phone: String,
    /// The direct chat's first name.
    pub name: String,
    /// The direct chat's newest message.
    pub message_id: String,
}

impl Sample {
    async fn take(client: &Client) -> anyhow::Result<Sample> {
        let chats = call(client, "list_chats", json!({"limit": 100, "include_last_message": false})).await?;
        let chats = chats.structured_content.unwrap_or_default();
        let list = chats["chats"].as_array().cloned().unwrap_or_default();
        let direct = list.iter().find(|c| c["kind"] == "direct").context("no direct chat in the corpus")?;
        let group = list.iter().find(|c| c["kind"] == "group").context("no group in the corpus")?;
        let direct_jid = direct["jid"].as_str().unwrap_or_default().to_string();
        let newest =
            call(client, "list_messages", json!({"chat_jid": direct_jid, "limit": 1, "include_context": false}))
                .await?;
        Ok(Sample {
            phone: direct_jid.split('@').next().unwrap_or_default().to_string(),
            name: direct["name"].as_str().unwrap_or_default().split(' ').next().unwrap_or_default().to_string(),
            message_id: newest.structured_content.unwrap_or_default()["messages"][0]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            group_jid: group["jid"].as_str().unwrap_or_default().to_string(),
            direct_jid,
        })
    }
}

/// Representative calls on the sample.
fn typical_calls(sample: &Sample) -> Vec<Call> {
    let Sample { direct_jid, group_jid, phone, name, message_id } = sample;
    let formatted_phone = format!("+{} {}", &phone[..2], &phone[2..]);
    vec![
        Call::new("list_chats (newest 20, with last message)", "list_chats", json!({})).at_most(3_000),
        Call::new("list_chats sort_by=name", "list_chats", json!({"sort_by": "name"})),
        Call::new(format!("list_chats query={name}"), "list_chats", json!({"query": name})),
        Call::new(format!("search_contacts query={name}"), "search_contacts", json!({"query": name})),
        Call::new(
            format!("search_contacts query={formatted_phone}"),
            "search_contacts",
            json!({"query": formatted_phone}),
        ),
        Call::new("list_messages (newest 20, with context)", "list_messages", json!({})).at_most(8_000),
        Call::new("list_messages (newest 20, no context)", "list_messages", json!({"include_context": false}))
            .at_most(3_500),
        Call::new("list_messages query=meeting (common word)", "list_messages", json!({"query": "meeting"})),
        Call::new("list_messages query=\"sao paulo\" (accents folded)", "list_messages", json!({"query": "sao paulo"})),
        Call::new("list_messages query=meet* (prefix)", "list_messages", json!({"query": "meet*"})),
        Call::new(
            "list_messages query=lawyer + chat_jid",
            "list_messages",
            json!({"query": "lawyer", "chat_jid": group_jid}),
        ),
        Call::new("list_messages chat_jid (direct)", "list_messages", json!({"chat_jid": direct_jid})),
        Call::new(
            "list_messages sender_phone_number",
            "list_messages",
            json!({"sender_phone_number": formatted_phone}),
        ),
        Call::new(
            "list_messages after/before (one month)",
            "list_messages",
            json!({"after": "2025-06-01", "before": "2025-07-01"}),
        ),
        Call::new("get_chat", "get_chat", json!({"chat_jid": direct_jid})),
        Call::new(
            "get_direct_chat_by_contact",
            "get_direct_chat_by_contact",
            json!({"sender_phone_number": formatted_phone}),
        ),
        Call::new("get_contact_chats", "get_contact_chats", json!({"jid": direct_jid})),
        Call::new("get_last_interaction", "get_last_interaction", json!({"jid": direct_jid})),
        Call::new("get_message_context", "get_message_context", json!({"message_id": message_id})),
    ]
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
