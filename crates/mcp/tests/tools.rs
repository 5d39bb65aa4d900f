//! The read tools through rmcp's own client, in process: what an MCP client sees.

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use wamcp_mcp::Tools;
use wamcp_store::testing::*;

struct Session {
    client: RunningService<RoleClient, ()>,
    _world: Fixture,
}

async fn connect(world: Fixture) -> Session {
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let tools = Tools::new(world.reader());
    tokio::spawn(async move {
        if let Ok(running) = tools.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ().serve(client_io).await.expect("initialize");
    Session { client, _world: world }
}

impl Session {
    async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}"))
    }

    /// The structured result of a call that must succeed.
    async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments).await;
        assert_ne!(result.is_error, Some(true), "{tool} failed: {}", texts(&result).join("\n"));
        let structured = result.structured_content.clone().expect("structured content");
        let texts = texts(&result);
        assert_eq!(texts.len(), 1, "one text block, the rendering: {texts:?}");
        assert!(serde_json::from_str::<Value>(&texts[0]).is_err(), "the JSON is not repeated as text: {}", texts[0]);
        structured
    }

    /// The error text of a call that must fail as a tool error.
    async fn error(&self, tool: &str, arguments: Value) -> String {
        let result = self.call(tool, arguments).await;
        assert_eq!(result.is_error, Some(true), "{tool} should fail: {}", texts(&result).join("\n"));
        texts(&result).join("\n")
    }
}

fn texts(result: &CallToolResult) -> Vec<String> {
    result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.clone()).collect()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
}

fn jids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|c| c["jid"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn the_lharries_tools_are_listed_read_only_with_their_parameters_and_defaults() {
    let session = connect(Fixture::small_world()).await;
    let tools = session.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for expected in [
        "search_contacts",
        "list_messages",
        "list_chats",
        "get_chat",
        "get_direct_chat_by_contact",
        "get_contact_chats",
        "get_last_interaction",
        "get_message_context",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let defaults = [
        ("list_messages", "limit", json!(20)),
        ("list_messages", "page", json!(0)),
        ("list_messages", "include_context", json!(true)),
        ("list_messages", "context_before", json!(1)),
        ("list_messages", "context_after", json!(1)),
        ("list_chats", "sort_by", json!("last_active")),
        ("list_chats", "include_last_message", json!(true)),
        ("get_message_context", "before", json!(5)),
        ("get_message_context", "after", json!(5)),
        ("get_contact_chats", "limit", json!(20)),
    ];
    for (tool, parameter, default) in defaults {
        let tool = tools.iter().find(|t| t.name == tool).unwrap();
        assert_eq!(tool.input_schema["properties"][parameter]["default"], default, "{} {parameter}", tool.name);
    }
    for tool in &tools {
        let annotations = tool.annotations.as_ref().unwrap_or_else(|| panic!("{} has annotations", tool.name));
        assert_eq!(annotations.read_only_hint, Some(true), "{}", tool.name);
        assert_eq!(annotations.idempotent_hint, Some(true), "{}", tool.name);
        assert!(tool.output_schema.is_some(), "{} has an output schema", tool.name);
        assert!(tool.description.as_deref().is_some_and(|d| !d.is_empty()), "{} has a description", tool.name);
    }
    let list_messages = tools.iter().find(|t| t.name == "list_messages").unwrap();
    assert_eq!(list_messages.input_schema["properties"]["after"]["type"], "string");
    let required = tools.iter().find(|t| t.name == "get_chat").unwrap().input_schema["required"].clone();
    assert_eq!(required, json!(["chat_jid"]));
}

#[tokio::test]
async fn list_messages_gives_ids_chat_jids_rfc3339_times_and_fenced_text() {
    let session = connect(Fixture::small_world()).await;
    let result = session.call("list_messages", json!({"chat_jid": ALICE, "include_context": false})).await;
    let out = result.structured_content.clone().unwrap();
    assert_eq!(ids(&out["messages"]), ["A5", "A4", "A3", "A2", "A1"]);
    let photo = &out["messages"][1];
    assert_eq!(photo["chat_jid"], ALICE);
    assert_eq!(photo["timestamp"], "2025-03-01T12:40:00+00:00");
    assert_eq!(photo["caption"], "Avenida Paulista at sunset");
    assert_eq!(photo["kind"], "image");
    let rendering = &texts(&result)[0];
    let note = rendering.lines().next().unwrap();
    assert!(note.contains("untrusted third-party data"), "{note}");
    let (open, close) = (note.split(' ').nth(3).unwrap(), note.split(' ').nth(5).unwrap());
    let lines: Vec<&str> = rendering.lines().collect();
    assert_eq!((lines[1], *lines.last().unwrap()), (open, close), "everything shown is fenced: {rendering}");
    assert_eq!(lines[2], format!("== Alice Smith ({ALICE})"), "the chat is named once: {rendering}");
    assert_eq!(rendering.matches(ALICE).count(), 1, "{rendering}");
    let photo_line = lines.iter().find(|l| l.contains("Alice Smith #A4")).unwrap();
    assert!(photo_line.starts_with("12:40 "), "the date is on the first line only: {rendering}");
    assert!(photo_line.ends_with(": Avenida Paulista at sunset"), "{photo_line}");
}

#[tokio::test]
async fn json_on_request_carries_the_structured_result_with_others_words_fenced() {
    let session = connect(Fixture::small_world()).await;
    let args = json!({"chat_jid": ALICE, "include_context": false, "format": "json"});
    let result = session.call("list_messages", args).await;
    let text = &texts(&result)[0];
    let (note, json) = text.split_once('\n').unwrap();
    assert!(note.contains("untrusted third-party data"), "{note}");
    let json: serde_json::Value = serde_json::from_str(json).unwrap();
    let structured = result.structured_content.clone().unwrap();
    assert_eq!(ids(&json["messages"]), ids(&structured["messages"]));
    let caption = json["messages"][1]["caption"].as_str().unwrap();
    assert!(caption.starts_with("⟦msg-") && caption.contains("Avenida Paulista at sunset"), "{caption}");
    let refused = session.call("list_messages", json!({"format": "xml"})).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(texts(&refused)[0].contains("'format'") && texts(&refused)[0].contains("json"), "{:?}", texts(&refused));
}

#[tokio::test]
async fn list_messages_filters_page_and_attach_context() {
    let session = connect(Fixture::small_world()).await;
    let out = session.ok("list_messages", json!({"query": "SÃO PAULO"})).await;
    assert_eq!(ids(&out["messages"]), ["G1", "B1"]);
    let with_context =
        session.ok("list_messages", json!({"query": "que otimo", "context_before": 1, "context_after": 0})).await;
    assert_eq!(ids(&with_context["messages"][0]["context_before"]), ["B1"]);
    assert!(with_context["messages"][0].get("context_after").is_none());
    let page = session.ok("list_messages", json!({"limit": 3, "page": 1, "include_context": false})).await;
    assert_eq!(ids(&page["messages"]), ["G2", "G1", "Z1"]);
    assert_eq!(page["has_more"], true);
    let by_phone =
        session.ok("list_messages", json!({"sender_phone_number": "+972 52-123-4567", "include_context": false})).await;
    assert_eq!(ids(&by_phone["messages"]), ["G3", "N1", "N0"], "a phone number finds LID messages too");
    let window = session
        .ok(
            "list_messages",
            json!({"after": "2025-03-01T12:30:00Z", "before": "2025-03-01T13:00:00+00:00", "include_context": false}),
        )
        .await;
    assert_eq!(ids(&window["messages"]), ["A5", "A4"]);
    let by_date = session.ok("list_messages", json!({"before": "2025-03-01", "include_context": false})).await;
    assert_eq!(ids(&by_date["messages"]), ["N0"], "a plain date is midnight UTC");
}

#[tokio::test]
async fn limits_are_capped() {
    let mut world = Fixture::small_world();
    let many: Vec<_> = (0..250).map(|i| text(BRUNO, &format!("X{i}"), Some(BRUNO), 1000 + i, "bulk")).collect();
    world.add(&many);
    let session = connect(world).await;
    let out = session.ok("list_messages", json!({"limit": 1000, "include_context": false})).await;
    assert_eq!(out["messages"].as_array().unwrap().len(), 200);
    assert_eq!(out["limit"], 200);
    let context = session.ok("get_message_context", json!({"message_id": "X100", "before": 500, "after": 500})).await;
    assert_eq!(context["before"].as_array().unwrap().len(), 20);
    assert_eq!(context["after"].as_array().unwrap().len(), 20);
    let chats = session.ok("list_chats", json!({"limit": 5000})).await;
    assert_eq!(chats["limit"], 100);
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_naming_the_parameter_and_the_accepted_form() {
    let session = connect(Fixture::small_world()).await;
    let cases = [
        ("list_messages", json!({"after": "yesterday"}), vec!["'after'", "RFC 3339", "2025-03-01"]),
        ("list_messages", json!({"limit": 0}), vec!["'limit'", "1 to 200"]),
        ("list_messages", json!({"limit": "many"}), vec!["'limit'", "whole number"]),
        ("list_messages", json!({"include_context": "perhaps"}), vec!["'include_context'", "true or false"]),
        ("get_direct_chat_by_contact", json!({"sender_phone_number": "55"}), vec!["'sender_phone_number'"]),
        ("list_messages", json!({"chat_jid": "family"}), vec!["'chat_jid'", "user@server"]),
        ("list_messages", json!({"sender_phone_number": "bob"}), vec!["'sender_phone_number'", "6 to 15 digits"]),
        ("get_chat", json!({}), vec!["chat_jid"]),
    ];
    for (tool, arguments, expected) in cases {
        let message = session.error(tool, arguments.clone()).await;
        for part in expected {
            assert!(message.contains(part), "{tool} {arguments}: {message:?} should contain {part:?}");
        }
    }
    let missing = session.error("get_chat", json!({"chat_jid": "15550000000@s.whatsapp.net"})).await;
    assert!(missing.contains("no chat with JID 15550000000@s.whatsapp.net"), "{missing}");
}

/// Inputs lharries/whatsapp-mcp's server answers are answered: numbers and yes/no as strings,
/// negative pages and sizes as SQL reads them, unknown parameters ignored (and named), groups
/// where a person or a chat will do, JIDs with a device, part of a number, an empty search.
#[tokio::test]
async fn what_lharries_answers_is_answered() {
    let session = connect(Fixture::small_world()).await;
    let newest = session.ok("list_messages", json!({"limit": 2, "include_context": false})).await;
    let strings = session.ok("list_messages", json!({"limit": "2", "include_context": "false"})).await;
    assert_eq!(ids(&strings["messages"]), ids(&newest["messages"]));
    assert!(strings["messages"][0].get("context_before").is_none());
    let negative = session.ok("list_messages", json!({"limit": 2, "page": -1, "include_context": false})).await;
    assert_eq!(ids(&negative["messages"]), ids(&newest["messages"]), "page -1 is page 0");
    let unlimited = session.ok("list_messages", json!({"limit": -1, "include_context": false})).await;
    assert_eq!(unlimited["limit"], 200, "a negative limit is the largest page");
    let wide = session.ok("get_message_context", json!({"message_id": "A3", "before": -2, "after": 0})).await;
    assert_eq!(ids(&wide["before"]), ["A1", "A2"], "a negative context is the most there is");

    let unknown = session.call("list_messages", json!({"chat_id": ALICE, "limit": 1})).await;
    assert_ne!(unknown.is_error, Some(true));
    let note = texts(&unknown)[0].lines().last().unwrap().to_string();
    assert!(note.contains("Ignored unknown parameter(s) 'chat_id'") && note.contains("chat_jid"), "{note}");

    let group_chats = session.ok("get_contact_chats", json!({"jid": GROUP})).await;
    assert_eq!(jids(&group_chats["chats"]), [GROUP]);
    let in_group = session.ok("get_last_interaction", json!({"jid": GROUP})).await;
    assert_eq!(in_group["message"]["id"], "G5", "the group's newest message");
    let device = session.ok("get_last_interaction", json!({"jid": "447700900123:12@s.whatsapp.net"})).await;
    assert_eq!(device, session.ok("get_last_interaction", json!({"jid": ALICE})).await, "the device is dropped");

    let national = session.ok("get_direct_chat_by_contact", json!({"sender_phone_number": "07700 900123"})).await;
    assert_eq!(national["chat"]["jid"], ALICE, "a number without its country code");
    let part = session.call("get_direct_chat_by_contact", json!({"sender_phone_number": "7654"})).await;
    let (chosen, others) = (part.structured_content.clone().unwrap()["chat"]["jid"].clone(), texts(&part)[0].clone());
    let other = if chosen == ZOE { BRUNO } else { ZOE };
    assert!([ZOE, BRUNO].contains(&chosen.as_str().unwrap()), "{chosen}");
    assert!(others.lines().last().unwrap().contains(other), "the other match is named: {others}");
    let by_name = session.ok("list_chats", json!({"sort_by": "name"})).await;
    let unknown_order = session.call("list_chats", json!({"sort_by": "newest"})).await;
    assert_eq!(jids(&unknown_order.structured_content.clone().unwrap()["chats"]), jids(&by_name["chats"]));
    let note = texts(&unknown_order)[0].lines().last().unwrap().to_string();
    assert!(note.contains("'newest' is not an order: sorted by name"), "{note}");
    let everyone = session.ok("search_contacts", json!({"query": ""})).await;
    assert!(everyone["contacts"].as_array().unwrap().len() >= 4, "{everyone}");
}

#[tokio::test]
async fn list_chats_orders_searches_and_can_leave_out_the_last_message() {
    let session = connect(Fixture::small_world()).await;
    let active = session.ok("list_chats", json!({})).await;
    assert_eq!(jids(&active["chats"])[..3], [GROUP, ZOE, NOA_LID]);
    assert_eq!(active["chats"][0]["last_message"]["id"], "G5");
    assert_eq!(active["chats"][0]["is_group"], true);
    let without = session.ok("list_chats", json!({"include_last_message": false})).await;
    assert!(without["chats"].as_array().unwrap().iter().all(|c| c["last_message"].is_null()));
    let by_name = session.ok("list_chats", json!({"sort_by": "name", "limit": 2})).await;
    assert_eq!(jids(&by_name["chats"]), [ALICE, BRUNO]);
    let found = session.ok("list_chats", json!({"query": "sao"})).await;
    assert_eq!(jids(&found["chats"]), [GROUP]);
}

#[tokio::test]
async fn person_tools_match_phone_numbers_however_written_and_lid_chats() {
    let session = connect(Fixture::small_world()).await;
    let contacts = session.ok("search_contacts", json!({"query": "+44 7700-900123"})).await;
    assert_eq!(jids(&contacts["contacts"]), [ALICE]);
    assert_eq!(contacts["contacts"][0]["phone_number"], "447700900123");
    let push = session.ok("search_contacts", json!({"query": "zoe"})).await;
    assert_eq!(push["contacts"][0]["name"], "Zoé");
    let direct = session.ok("get_direct_chat_by_contact", json!({"sender_phone_number": "972521234567"})).await;
    assert_eq!(direct["chat"]["jid"], NOA_LID);
    let direct_plus =
        session.ok("get_direct_chat_by_contact", json!({"sender_phone_number": "+972 52 123 4567"})).await;
    assert_eq!(direct_plus["chat"]["jid"], NOA_LID);
    let chats = session.ok("get_contact_chats", json!({"jid": NOA_PHONE})).await;
    assert_eq!(jids(&chats["chats"]), [GROUP, NOA_LID, NOA_PHONE], "each chat once");
    let last = session.ok("get_last_interaction", json!({"jid": "+972521234567"})).await;
    assert_eq!(last["message"]["id"], "G3");
    let nobody = session.ok("get_last_interaction", json!({"jid": "15550000000"})).await;
    assert!(nobody["message"].is_null());
    let chat = session.ok("get_chat", json!({"chat_jid": GROUP, "include_last_message": false})).await;
    assert_eq!(chat["chat"]["name"], GROUP_NAME);
    assert!(chat["chat"]["last_message"].is_null());
}

#[tokio::test]
async fn message_context_around_a_message() {
    let session = connect(Fixture::small_world()).await;
    let context = session.ok("get_message_context", json!({"message_id": "G3", "before": 1, "after": 1})).await;
    assert_eq!(context["message"]["id"], "G3");
    assert_eq!(ids(&context["before"]), ["G2"]);
    assert_eq!(ids(&context["after"]), ["G4"]);
    let unknown = session.error("get_message_context", json!({"message_id": "nope"})).await;
    assert!(unknown.contains("no message with id nope"), "{unknown}");
}
