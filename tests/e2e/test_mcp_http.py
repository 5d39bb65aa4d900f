"""The tools over streamable HTTP at the daemon's /mcp, through the Python MCP SDK, and the
guard in front of it (token, Host, Origin)."""

import contextlib

import anyio
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from test_daemon import ALICE, daemon  # noqa: F401 (daemon is a fixture)

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "test", "version": "1"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@contextlib.asynccontextmanager
async def http_session(daemon):
    headers = {"Authorization": f"Bearer {daemon.token}"}
    async with create_mcp_http_client(headers=headers) as client:
        async with streamable_http_client(f"http://127.0.0.1:{daemon.port}/mcp", http_client=client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                yield session


def test_the_tools_are_served_over_http_and_send_through_the_daemon(daemon):
    async def go():
        async with http_session(daemon) as session:
            names = {tool.name for tool in (await session.list_tools()).tools}
            chats = await session.call_tool("list_chats", {"limit": 3})
            sent = await session.call_tool("send_message", {"recipient": ALICE, "message": "over HTTP"})
            return names, chats, sent

    names, chats, sent = anyio.run(go)
    assert {"list_messages", "send_message", "get_status", "download_media"} <= names
    assert chats.is_error is not True and len(chats.structured_content["chats"]) == 3
    assert sent.is_error is not True, sent.content[0].text
    daemon.wait_until(lambda: any(s.get("text") == "over HTTP" for s in daemon.sent()), "the network has it")
    audited = daemon.audit("SELECT tool, outcome FROM audit WHERE session = 'http' ORDER BY seq")
    assert ("list_chats", "ok") in audited and ("send_message", "ok") in audited


@pytest.mark.parametrize("token, headers, status", [
    (None, {}, 401),
    ("wrong", {}, 401),
    ("default", {"Host": "evil.example:80"}, 403),
    ("default", {"Origin": "http://evil.example"}, 403),
])
def test_mcp_needs_the_token_and_refuses_foreign_hosts_and_origins(daemon, token, headers, status):
    code, _ = daemon.request("POST", "/mcp", INITIALIZE, token=token, headers={**MCP_HEADERS, **headers})
    assert code == status


def test_with_the_token_a_raw_initialize_is_answered(daemon):
    code, answer = daemon.request("POST", "/mcp", INITIALIZE, headers=MCP_HEADERS)
    assert code == 200, answer


@pytest.mark.parametrize("raw, code", [
    (b"{bad", -32700),
    (b"", -32700),
    ("\u00e9t\u00e9".encode("latin-1"), -32700),
    (b'{"hello": "world"}', -32600),
    (b"[1, 2]", -32600),
])
def test_a_body_that_is_not_json_rpc_gets_a_json_rpc_error(daemon, raw, code):
    status, answer = daemon.request("POST", "/mcp", raw=raw,
                                    headers={**MCP_HEADERS, "Content-Type": "application/json"})
    assert status == 400, (status, answer)
    assert answer["jsonrpc"] == "2.0" and answer["id"] is None, answer
    assert answer["error"]["code"] == code, answer
    # The session still works afterwards.
    assert daemon.request("POST", "/mcp", INITIALIZE, headers=MCP_HEADERS)[0] == 200
