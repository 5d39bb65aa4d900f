"""Every command that prints ends quietly, with status 0, when whoever reads its output goes away
(`wamcp man | head`). The reading end is closed before the command starts, so its very first
write meets a closed pipe: the test does not depend on timing."""

import os
import subprocess

import anyio
import pytest

from conftest import WAMCP, mcp_session, run


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("pipes") / "demo"
    assert run("--data-dir", str(data), "demo", "--no-serve").returncode == 0

    async def call_a_tool():
        async with mcp_session("--data-dir", str(data), "mcp") as session:
            await session.call_tool("list_chats", {"limit": 2})

    anyio.run(call_a_tool)  # so the audit log has something to print
    return data


def with_closed_stdout(*args):
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([WAMCP, *args], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [
    ["man"],
    ["completions", "bash"],
    ["--help"],
    ["--version"],
    ["audit"],
    ["audit", "--json"],
    ["doctor"],
    ["config", "claude-desktop", "--file", "/nonexistent/claude.json"],
    ["serve", "--print-config"],
])
def test_a_closed_pipe_ends_the_command_quietly(demo_dir, args):
    result = with_closed_stdout("--data-dir", str(demo_dir), *args)
    assert result.returncode == 0, (args, result.returncode, result.stderr)
    assert "panicked" not in result.stderr and "Broken pipe" not in result.stderr, (args, result.stderr)


def test_a_closed_pipe_after_an_import_keeps_what_was_imported(tmp_path):
    from conftest import generate_lharries_db

    source = tmp_path / "messages.db"
    generate_lharries_db(source, 200)
    data = tmp_path / "data"
    result = with_closed_stdout("--data-dir", str(data), "import", "lharries", str(source))
    assert result.returncode == 0 and "panicked" not in result.stderr, result.stderr
    again = run("--data-dir", str(data), "import", "lharries", str(source))
    assert "0 new" in again.stdout, again.stdout
