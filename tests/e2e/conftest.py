"""Shared helpers for the end-to-end tests: the built binary, an MCP session to it, and data dirs."""

import contextlib
import os
import pathlib
import subprocess
import sys

import secrets
import tempfile

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

ROOT = pathlib.Path(__file__).resolve().parents[2]
WAMCP = os.environ.get("WAMCP_BIN", str(ROOT / "target" / "debug" / "wamcp"))
GENERATOR = pathlib.Path(__file__).with_name("gen_lharries_db.py")

if os.environ.get("WAMCP_E2E_ENCRYPTED") == "1" and not os.environ.get("WAMCP_KEY_FILE"):
    # The whole suite again, every database encrypted: each wamcp the tests start inherits the key.
    _key_dir = tempfile.mkdtemp(prefix="wamcp-e2e-key-")
    _key_file = pathlib.Path(_key_dir) / "wamcp.key"
    _key_file.write_text(secrets.token_hex(32) + "\n")
    _key_file.chmod(0o600)
    os.environ["WAMCP_KEY_FILE"] = str(_key_file)


def server_env():
    """The variables to give a server an MCP client starts: the SDK passes on a few only (HOME,
    PATH, …), so the suite's key goes as a user's client configuration would pass it."""
    return {"WAMCP_KEY_FILE": os.environ["WAMCP_KEY_FILE"]} if os.environ.get("WAMCP_KEY_FILE") else None


@contextlib.asynccontextmanager
async def mcp_session(*args: str, **client):
    """An initialized MCP client session to `wamcp ARGS` over stdio; `client` goes to the SDK's
    ClientSession (callbacks such as elicitation_callback)."""
    params = StdioServerParameters(command=WAMCP, args=list(args), env=server_env())
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write):
            async with ClientSession(read, write, **client) as session:
                await session.initialize()
                yield session


def run(*args: str) -> subprocess.CompletedProcess:
    """Runs the binary to completion, capturing its output."""
    return subprocess.run([WAMCP, *args], capture_output=True, text=True, timeout=300)


def generate_lharries_db(path: pathlib.Path, messages: int) -> None:
    """Writes a deterministic lharries/whatsapp-mcp messages.db."""
    subprocess.run([sys.executable, str(GENERATOR), str(path), str(messages)], check=True, capture_output=True)


@pytest.fixture
def imported_store(tmp_path):
    """A data dir holding an imported 3,000-message lharries history, and the source path."""
    source = tmp_path / "messages.db"
    generate_lharries_db(source, 3000)
    data = tmp_path / "data"
    result = run("--data-dir", str(data), "import", "lharries", str(source))
    assert result.returncode == 0, result.stderr
    return data, source
