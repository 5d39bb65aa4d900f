"""`wait_for_messages` through a real client: `wamcp mcp` (stdio) listening to a `wamcp demo`
daemon's events over HTTP, and the daemon's own /mcp through the relay. A call returns as soon
as someone writes, tells the client it is still waiting, and ends empty when nobody does."""

import os

import anyio

from conftest import mcp_session
from daemon import Daemon
from test_daemon import ALICE, daemon  # noqa: F401 (daemon is a fixture)
from test_mcp_relay import relay_session
from test_socket import socket_dir


async def wait_while_alice_writes(session, daemon, text):
    """Calls wait_for_messages on Alice's chat; Alice writes once the client hears the call is
    waiting (its first progress notification). Answers the result and the progress heard."""
    heard = []

    async def waiting(progress, total, message):
        heard.append((progress, total, message))
        if len(heard) == 1:
            await anyio.to_thread.run_sync(lambda: daemon.incoming(**{"from": ALICE, "text": text}))

    result = await session.call_tool("wait_for_messages", {"chat_jid": ALICE, "timeout_seconds": 60},
                                     progress_callback=waiting)
    return result, heard


def check_woken(result, heard, text):
    assert result.is_error is not True, result.content
    out = result.structured_content
    assert out["timed_out"] is False and [m["text"] for m in out["messages"]] == [text], out
    assert heard and heard[0][1] == 60 and "waiting" in heard[0][2], heard
    assert text in result.content[0].text and "untrusted third-party data" in result.content[0].text
    assert out["next_since"] == out["messages"][-1]["timestamp"]


def test_a_wait_returns_when_someone_writes_and_ends_empty_when_nobody_does(daemon):
    async def go():
        async with mcp_session("--data-dir", str(daemon.data_dir), "mcp", "--listen",
                               f"127.0.0.1:{daemon.port}") as session:
            woken = await wait_while_alice_writes(session, daemon, "are you there?")
            # Own messages (sent from the phone or by the assistant) do not end a wait.
            await session.call_tool("send_message", {"recipient": ALICE, "message": "not for waking"})
            quiet = await session.call_tool("wait_for_messages", {"chat_jid": ALICE, "timeout_seconds": "1"})
            # What came after `since` is returned at once, without waiting.
            earlier = await session.call_tool("wait_for_messages",
                                              {"since": "2000-01-01", "chat_jid": ALICE, "timeout_seconds": 1})
            bad = await session.call_tool("wait_for_messages", {"timeout_seconds": 301})
            return woken, quiet, earlier, bad

    (result, heard), quiet, earlier, bad = anyio.run(go)
    check_woken(result, heard, "are you there?")
    assert quiet.structured_content["timed_out"] is True and quiet.structured_content["messages"] == []
    assert "No new messages within 1 s" in quiet.content[0].text
    assert earlier.structured_content["timed_out"] is False and earlier.structured_content["messages"]
    assert not any(m["is_from_me"] for m in earlier.structured_content["messages"])
    assert bad.is_error is True and "'timeout_seconds'" in bad.content[0].text and "1 to 300" in bad.content[0].text


def test_a_wait_through_the_relay_listens_to_the_daemon_itself(tmp_path):
    with socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        d = Daemon(tmp_path / "data", "--socket", path).start()
        try:
            async def go():
                async with relay_session(path) as (session, _):
                    return await wait_while_alice_writes(session, d, "through the socket")

            result, heard = anyio.run(go)
            check_woken(result, heard, "through the socket")
        finally:
            d.stop()
