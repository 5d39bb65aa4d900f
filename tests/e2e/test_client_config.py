"""`wamcp config claude-desktop|claude-code`: the printed entry works as given, and --install
merges it into the client's file without losing anything."""

import json
import os
import subprocess

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from conftest import WAMCP, run
from daemon import running


def test_the_desktop_entry_starts_a_working_server(tmp_path):
    data = tmp_path / "data"
    assert run("--data-dir", str(data), "demo", "--no-serve").returncode == 0
    printed = run("--data-dir", str(data), "config", "claude-desktop", "--file", str(tmp_path / "c.json"))
    assert printed.returncode == 0, printed.stderr
    entry = json.loads(printed.stdout)["mcpServers"]["whatsapp"]
    # With the suite's key, the entry gives the client's server the key file too.
    key = ["--key-file", os.environ["WAMCP_KEY_FILE"]] if os.environ.get("WAMCP_KEY_FILE") else []
    assert entry["args"] == ["--data-dir", str(data), *key, "mcp"] and entry["command"].startswith("/")

    async def go():
        params = StdioServerParameters(command=entry["command"], args=entry["args"])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await session.call_tool("list_chats", {"limit": 1})

    assert anyio.run(go).is_error is not True


def test_a_relative_data_dir_is_written_as_the_absolute_path_it_names(tmp_path):
    data = tmp_path / "data"
    assert run("--data-dir", str(data), "demo", "--no-serve").returncode == 0
    printed = subprocess.run([WAMCP, "--data-dir", "data", "config", "claude-code", "--file", str(tmp_path / "c.json")],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    args = json.loads(printed.stdout)["mcpServers"]["whatsapp"]["args"]
    assert args[:2] == ["--data-dir", str(data)], "the client starts wamcp elsewhere: a relative path would miss"


def test_install_merges_keeps_the_rest_and_backs_up(tmp_path):
    file = tmp_path / "claude_desktop_config.json"
    file.write_text(json.dumps({"globalShortcut": "Ctrl+Space", "mcpServers": {"files": {"command": "fs"}}}))
    result = run("--data-dir", str(tmp_path / "data"), "config", "claude-desktop", "--install", "--file", str(file))
    assert result.returncode == 0, result.stderr
    config = json.loads(file.read_text())
    assert config["globalShortcut"] == "Ctrl+Space"
    assert set(config["mcpServers"]) == {"files", "whatsapp"}
    backups = list(tmp_path.glob("claude_desktop_config.json.*.bak"))
    assert len(backups) == 1 and json.loads(backups[0].read_text())["mcpServers"] == {"files": {"command": "fs"}}
    broken = tmp_path / "broken.json"
    broken.write_text("{ oops")
    refused = run("config", "claude-desktop", "--install", "--file", str(broken))
    assert refused.returncode == 1 and "not valid JSON" in refused.stderr
    assert broken.read_text() == "{ oops"


def test_the_code_http_entry_reaches_the_daemon(tmp_path):
    with running(tmp_path / "data") as daemon:
        daemon.history_synced()
        file = tmp_path / ".claude.json"
        # No --listen and no config file: the address is the one the running daemon announced.
        install = ("--data-dir", str(daemon.data_dir), "config", "claude-code", "--http", "--install",
                   "--file", str(file), "--name", "wa")
        result = run(*install)
        assert result.returncode == 0, result.stderr
        entry = json.loads(file.read_text())["mcpServers"]["wa"]
        assert entry["type"] == "http" and entry["url"] == f"http://127.0.0.1:{daemon.port}/mcp"
        assert entry["headers"]["Authorization"] == f"Bearer {daemon.token}"
        again = run(*install)
        assert again.returncode == 0 and "unchanged" in again.stderr, again.stderr
        assert not list(tmp_path.glob(".claude.json.*.bak")), "nothing changed, so no backup"
        elsewhere = run("--data-dir", str(daemon.data_dir), "config", "claude-code", "--http",
                        "--listen", "127.0.0.1:9999")
        assert json.loads(elsewhere.stdout)["mcpServers"]["whatsapp"]["url"] == "http://127.0.0.1:9999/mcp"

        async def go():
            async with create_mcp_http_client(headers=entry["headers"]) as client:
                async with streamable_http_client(entry["url"], http_client=client) as streams:
                    async with ClientSession(streams[0], streams[1]) as session:
                        await session.initialize()
                        return await session.list_tools()

        assert "send_message" in {tool.name for tool in anyio.run(go).tools}
