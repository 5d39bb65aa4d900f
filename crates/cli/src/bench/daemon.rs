//! `wamcp bench --daemon`: the daemon measured from outside, on the simulated network.
//!
//! Starts `wamcp demo` with a generated history of `--messages` messages and times the history
//! sync from start until the store has it all (ingest rate), reads the daemon's resident memory
//! then and after a restart on the full store (idle), and times `POST /api/send` over one
//! keep-alive connection (p50 / p99).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use wamcp_api::{Endpoint, GetStatus, Method, Request, SendMessage, read_http_answer};

use super::{ms, percentiles};

/// How many sends are timed.
const SENDS: usize = 1_000;

pub fn run(work: &Path, messages: u64) -> anyhow::Result<()> {
    let data = work.join("daemon-data");
    let _ = std::fs::remove_dir_all(&data);
    let port = free_port()?;
    let started = Instant::now();
    let mut daemon = start(&data, port, messages)?;
    let api = Api::connect(&data, port, &mut daemon)?;
    let mut api = api;
    let stored = loop {
        let status = api.call(GetStatus {})?;
        if status.history_sync.percent == 100 {
            break status.history_sync.messages;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();
    outln!(
        "history sync  {stored} messages stored in {:.1} s: {:.0} messages/s (target >= 100000)",
        took.as_secs_f64(),
        stored as f64 / took.as_secs_f64()
    )?;
    outln!("daemon RSS    {} MB after the history sync", rss_mb(daemon.id(), "VmRSS:"))?;
    stop(daemon);

    let mut daemon = start(&data, port, messages)?;
    let mut api = Api::connect(&data, port, &mut daemon)?;
    std::thread::sleep(Duration::from_secs(2));
    outln!("daemon RSS    {} MB idle on the full store (target <= 40)", rss_mb(daemon.id(), "VmRSS:"))?;
    let mut times = Vec::with_capacity(SENDS);
    for n in 0..SENDS {
        let send = SendMessage {
            recipient: format!("+1 555 100 {:04}", n % 1000),
            message: format!("benchmark {n}"),
            ..SendMessage::default()
        };
        let begun = Instant::now();
        api.call(send).context("a send failed")?;
        times.push(begun.elapsed());
    }
    let (p50, p99) = percentiles(&mut times);
    outln!("REST send     p50 {} p99 {} over {SENDS} sends (target p50 <= 2 ms)", ms(p50), ms(p99))?;
    stop(daemon);
    Ok(())
}

fn start(data: &Path, port: u16, messages: u64) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?;
    Ok(Command::new(exe)
        .arg("--data-dir")
        .arg(data)
        .args(["demo", "--chatter", "0", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--synthetic-history", &messages.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

fn stop(mut daemon: Child) {
    // SIGTERM, so the daemon shuts down as it would in service.
    let _ = Command::new("kill").arg(daemon.id().to_string()).status();
    let _ = daemon.wait();
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn rss_mb(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or("?".to_string(), |kib| format!("{:.1}", kib as f64 / 1024.0))
}

/// A minimal HTTP/1.1 client on one keep-alive connection: what a local program talking to the
/// API would use, without a client library's own overhead in the figures.
struct Api {
    stream: BufReader<TcpStream>,
    port: u16,
    token: String,
}

impl Api {
    fn connect(data: &Path, port: u16, daemon: &mut Child) -> anyhow::Result<Api> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = daemon.try_wait()? {
                bail!("the daemon exited ({status})");
            }
            if let (Ok(stream), Ok(token)) =
                (TcpStream::connect(("127.0.0.1", port)), std::fs::read_to_string(data.join("api-token")))
            {
                stream.set_nodelay(true)?;
                return Ok(Api { stream: BufReader::new(stream), port, token: token.trim().to_string() });
            }
            if Instant::now() > deadline {
                bail!("the daemon did not start listening within a minute");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One request, answered with its own type (a refusal is an error).
    fn call<E: Endpoint>(&mut self, request: E) -> anyhow::Result<E::Answer> {
        let request: Request = request.into();
        let (status, body) = self.exchange(&request)?;
        let answer = read_http_answer(&request, status, &body)?;
        E::answer_of(answer).context("the daemon answered another request")
    }

    fn exchange(&mut self, request: &Request) -> anyhow::Result<(u16, Vec<u8>)> {
        let method = match request.method() {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let body = request.body().unwrap_or_default();
        let request = format!(
            "{method} {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            request.path(),
            self.port,
            self.token,
            body.len()
        );
        self.stream.get_mut().write_all(request.as_bytes())?;
        let mut length = 0usize;
        let mut line = String::new();
        self.stream.read_line(&mut line)?;
        let status: u16 = line.split_whitespace().nth(1).and_then(|code| code.parse().ok()).context("status line")?;
        loop {
            line.clear();
            self.stream.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().context("content-length")?;
            }
        }
        let mut answer = vec![0u8; length];
        self.stream.read_exact(&mut answer)?;
        Ok((status, answer))
    }
}
