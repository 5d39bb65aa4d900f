//! The `wamcp` binary as a user runs it: demo over MCP stdio, import, data directory handling.

use std::path::Path;
use std::process::{Command, Stdio};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

const WAMCP: &str = env!("CARGO_BIN_EXE_wamcp");

fn wamcp(data_dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(WAMCP).arg("--data-dir").arg(data_dir).args(args).stdin(Stdio::null()).output().expect("run wamcp")
}

fn lharries_db(path: &Path, messages: usize) {
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch(
        "CREATE TABLE chats (jid TEXT PRIMARY KEY, name TEXT, last_message_time TIMESTAMP);
         CREATE TABLE messages (id TEXT, chat_jid TEXT, sender TEXT, content TEXT, timestamp TIMESTAMP,
           is_from_me BOOLEAN, media_type TEXT, filename TEXT, url TEXT, media_key BLOB, file_sha256 BLOB,
           file_enc_sha256 BLOB, file_length INTEGER, PRIMARY KEY (id, chat_jid));
         INSERT INTO chats VALUES ('447700900123@s.whatsapp.net', 'Alice Smith', '2025-03-01 12:00:00+00:00');",
    )
    .unwrap();
    for i in 0..messages {
        db.execute(
            "INSERT INTO messages (id, chat_jid, sender, content, timestamp, is_from_me) VALUES (?1, '447700900123@s.whatsapp.net', '447700900123', ?2, ?3, 0)",
            rusqlite::params![format!("M{i}"), format!("message number {i}"), format!("2025-03-01 10:{:02}:00+00:00", i % 60)],
        )
        .unwrap();
    }
}

#[tokio::test]
async fn the_demo_account_is_served_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo-data");
    let stored = wamcp(&data, &["demo", "--no-serve"]);
    assert!(stored.status.success(), "{}", String::from_utf8_lossy(&stored.stderr));
    let transport = TokioChildProcess::new(tokio::process::Command::new(WAMCP).configure(|c| {
        c.arg("--data-dir").arg(&data).arg("mcp").stderr(Stdio::null());
    }))
    .unwrap();
    let client = ().serve(transport).await.expect("initialize");
    assert_eq!(client.peer_info().unwrap().server_info.as_ref().unwrap().name, "wamcp");
    let tools: Vec<String> = client.list_all_tools().await.unwrap().into_iter().map(|t| t.name.to_string()).collect();
    for expected in ["list_chats", "list_messages", "search_contacts", "send_message", "get_status"] {
        assert!(tools.iter().any(|t| t == expected), "{expected} is listed: {tools:?}");
    }

    let call = |tool: &'static str, arguments: Value| {
        let Value::Object(arguments) = arguments else { unreachable!() };
        client.call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
    };
    let chats = call("list_chats", json!({"limit": 100, "include_last_message": false})).await.unwrap();
    let chats = chats.structured_content.unwrap()["chats"].as_array().unwrap().clone();
    assert!(chats.len() >= 24, "a few dozen chats, got {}", chats.len());
    assert!(chats.iter().any(|c| c["kind"] == "group") && chats.iter().any(|c| c["kind"] == "direct"));

    let captions = call("list_messages", json!({"query": "paulista", "include_context": false})).await.unwrap();
    let found = captions.structured_content.unwrap()["messages"].as_array().unwrap().clone();
    assert!(
        found.iter().any(|m| m["kind"] == "image" && m["caption"].as_str().unwrap().contains("Paulista")),
        "{found:?}"
    );
    let accents = call("list_messages", json!({"query": "SAO PAULO", "include_context": false})).await.unwrap();
    let accents = accents.structured_content.unwrap()["messages"].as_array().unwrap().clone();
    let texts: Vec<&str> = accents.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.iter().all(|t| t.contains("São Paulo")), "{texts:?}");

    let injection = call("list_messages", json!({"query": "ignore all previous instructions"})).await.unwrap();
    assert_eq!(injection.content.len(), 1, "one text block: the fenced rendering");
    let rendering = injection.content[0].as_text().unwrap().text.clone();
    let note = rendering.lines().next().unwrap();
    assert!(note.contains("untrusted third-party data"), "{rendering}");
    let (open, close) = (note.split(' ').nth(3).unwrap(), note.split(' ').nth(5).unwrap());
    let inside = rendering.split_once(&format!("\n{open}\n")).and_then(|(_, rest)| rest.split_once(close)).unwrap().0;
    assert!(
        inside.contains("ignore all previous instructions"),
        "the injected text stays inside the fence: {rendering}"
    );
    assert_eq!(rendering.matches(close).count(), 2, "the note's and the fence's: {rendering}");
    client.cancel().await.unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

#[test]
fn the_demo_can_run_again_without_duplicating_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let first = wamcp(dir.path(), &["demo", "--no-serve"]);
    assert!(first.status.success());
    let stderr = String::from_utf8_lossy(&first.stderr).to_string();
    assert!(stderr.contains("npx @modelcontextprotocol/inspector") && stderr.contains("mcpServers"), "{stderr}");
    let second = wamcp(dir.path(), &["demo", "--no-serve"]);
    assert_eq!(String::from_utf8_lossy(&second.stderr), stderr, "same account, same counts");
    let db = rusqlite::Connection::open(dir.path().join("wamcp.db")).unwrap();
    let (messages, distinct): (i64, i64) = db
        .query_row("SELECT count(*), count(DISTINCT chat_jid || id) FROM messages", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(messages, distinct);
    assert!(messages > 80);
}

#[test]
fn import_prints_counts_and_a_second_run_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("messages.db");
    lharries_db(&source, 120);
    let data = dir.path().join("data");
    let first = wamcp(&data, &["import", "lharries", source.to_str().unwrap()]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(out.starts_with("Imported "), "{out}");
    assert!(out.contains("messages: 120 new, 0 already present"), "{out}");
    assert!(out.contains("chats:    1"), "{out}");
    let second = wamcp(&data, &["import", "lharries", source.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(out.starts_with("Nothing new in ") && out.contains("already holds all of it"), "{out}");
    assert!(out.contains("messages: 0 new, 120 already present"), "{out}");
}

#[test]
fn a_bad_import_path_says_what_is_expected_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let result = wamcp(&data, &["import", "lharries", "/nonexistent/messages.db"]);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("no such file") && stderr.contains("lharries/whatsapp-mcp messages.db"), "{stderr}");
    assert!(!data.exists(), "no data directory or store was created");
}

#[test]
fn the_data_directory_comes_from_the_environment_when_no_flag_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("messages.db");
    lharries_db(&source, 3);
    let data = dir.path().join("from-env");
    let result = Command::new(WAMCP)
        .args(["import", "lharries", source.to_str().unwrap()])
        .env("WAMCP_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(result.status.success());
    assert!(data.join("wamcp.db").is_file());
}

#[test]
fn a_client_that_leaves_before_initialize_is_a_clean_exit_and_an_empty_store_says_how_to_fill_it() {
    let dir = tempfile::tempdir().unwrap();
    let result = wamcp(dir.path(), &["mcp"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("no messages yet") && stderr.contains("wamcp import lharries PATH"), "{stderr}");
    assert!(result.stdout.is_empty(), "stdout belongs to the MCP client");
}

/// Whether this machine can open a connection to WhatsApp (the test machines usually cannot).
fn whatsapp_reachable() -> bool {
    use std::net::ToSocketAddrs;
    let Ok(mut addresses) = ("web.whatsapp.com", 443).to_socket_addrs() else { return false };
    addresses.any(|address| std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_secs(5)).is_ok())
}

#[test]
fn login_ends_within_its_timeout_saying_why_and_serve_needs_a_login_first() {
    let dir = tempfile::tempdir().unwrap();
    let login = wamcp(dir.path(), &["login", "--timeout", "3", "--pair-page", "127.0.0.1:0"]);
    let stderr = String::from_utf8_lossy(&login.stderr);
    let again = format!("wamcp --data-dir {} login", dir.path().display());
    if whatsapp_reachable() {
        assert_eq!(login.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("No phone was linked within 3 seconds"), "{stderr}");
    } else {
        // Offline, the network is named as the problem, not the phone.
        assert_eq!(login.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("cannot reach WhatsApp (web.whatsapp.com): check the network or proxy"), "{stderr}");
        assert!(!stderr.contains("phone"), "{stderr}");
    }
    assert!(stderr.contains(&again), "the hint repeats --data-dir: {stderr}");
    assert!(!stderr.contains("whatsapp_rust"), "the library's own lines stay out: {stderr}");

    let fresh = tempfile::tempdir().unwrap();
    let serve = wamcp(fresh.path(), &["serve"]);
    assert_eq!(serve.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&serve.stderr).contains("wamcp login"));
    let bad_phone = wamcp(fresh.path(), &["login", "--phone", "12"]);
    assert_eq!(bad_phone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_phone.stderr).contains("--phone"));
    // One digit too many for the United Kingdom: refused before anything reaches WhatsApp.
    let too_long = wamcp(fresh.path(), &["login", "--phone", "+44 7911 1234567"]);
    let said = String::from_utf8_lossy(&too_long.stderr);
    assert_eq!(too_long.status.code(), Some(1), "{said}");
    assert!(said.contains("1 digit too many for GB"), "{said}");
}
