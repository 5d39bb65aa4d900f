"""The API and /mcp on a Unix socket (`--socket`): no token, the socket's group decides who
connects, a web page's request is refused, and the audit log names each caller's uid."""

import contextlib
import grp
import http.client
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from conftest import WAMCP
from daemon import Daemon, exchange_on, running
from test_daemon import ALICE


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket."""

    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def over_socket(path, method, target, body=None, headers=None):
    """One request on the socket, with no token; answers (status, parsed JSON or text)."""
    sent = {"Host": "localhost", **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    return exchange_on(UnixConnection(str(path)), method, target, data, sent)


@contextlib.contextmanager
def socket_dir():
    """A directory every user may reach (pytest's own is private to its user)."""
    path = tempfile.mkdtemp(prefix="wamcp-socket-")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.asynccontextmanager
async def socket_session(path):
    transport = httpx2.AsyncHTTPTransport(uds=str(path))
    async with httpx2.AsyncClient(transport=transport, timeout=30) as client:
        async with streamable_http_client("http://localhost/mcp", http_client=client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                yield session


def test_the_socket_serves_the_api_and_the_tools_without_a_token_and_names_the_caller(tmp_path):
    with socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        with running(tmp_path / "data", "--socket", path) as d:
            mode = os.stat(path)
            assert stat.S_ISSOCK(mode.st_mode) and stat.S_IMODE(mode.st_mode) == 0o660
            status, answer = over_socket(path, "GET", "/api/status")
            assert status == 200 and answer["connection"]["state"] == "connected", answer
            # Over TCP the token is still needed.
            assert d.request("GET", "/api/status", token=None)[0] == 401
            status, answer = over_socket(path, "GET", "/api/status", headers={"Origin": "http://evil.example"})
            assert status == 403 and "web pages" in answer["message"], answer

            async def go():
                async with socket_session(path) as session:
                    chats = await session.call_tool("list_chats", {"limit": 2})
                    sent = await session.call_tool("send_message", {"recipient": ALICE, "message": "over the socket"})
                    return chats, sent

            chats, sent = anyio.run(go)
            assert chats.is_error is not True and len(chats.structured_content["chats"]) == 2
            assert sent.is_error is not True, sent.content[0].text
            d.wait_until(lambda: any(s.get("text") == "over the socket" for s in d.sent()), "the network has it")
            me = f"socket uid={os.getuid()}"
            d.wait_until(lambda: len(d.audit("SELECT 1 FROM audit WHERE session = ?", me)) >= 2, "the calls are audited")
            assert {tool for (tool,) in d.audit("SELECT tool FROM audit WHERE session = ?", me)} == {"list_chats", "send_message"}
        assert not os.path.exists(path), "a stopped daemon takes its socket away"


def test_a_socket_in_use_is_refused_and_one_left_by_a_killed_daemon_is_replaced(tmp_path):
    with socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        first = Daemon(tmp_path / "first", "--socket", path).start()
        try:
            refused = subprocess.run(
                [WAMCP, "--data-dir", str(tmp_path / "second"), "demo", "--listen", "127.0.0.1:0", "--socket", path],
                capture_output=True, text=True, timeout=60)
            assert refused.returncode != 0
            assert "a running daemon listens there already" in refused.stderr, refused.stderr
            assert over_socket(path, "GET", "/api/health")[0] == 200, "the first still has it"
            first.kill()
            assert os.path.exists(path), "kill -9 leaves the socket file"
            with running(tmp_path / "second", "--socket", path):
                assert over_socket(path, "GET", "/api/health")[0] == 200
        finally:
            if first.process.poll() is None:
                first.stop()


def as_user(name, code):
    """Runs Python `code` as the user `name` (with that user's groups); answers the process."""
    return subprocess.run(
        ["setpriv", f"--reuid={name}", f"--regid={pwd.getpwnam(name).pw_gid}", "--init-groups",
         "/usr/bin/python3", "-c", code],
        capture_output=True, text=True, timeout=60)


CONNECT = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1] if len(sys.argv) > 1 else {path!r})
except OSError as e:
    print(type(e).__name__, e.errno)
    sys.exit(3)
s.sendall(b"GET /api/health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n")
print(s.recv(100).split(b"\\r\\n")[0].decode())
"""


# Making users needs root, useradd and setpriv.
needs_users = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None,
    reason="making users needs root, useradd and setpriv")


@contextlib.contextmanager
def group_member_and_stranger():
    """A new group, a user in it and a user outside it, removed afterwards: (group, member, stranger)."""
    tag = uuid.uuid4().hex[:6]
    group, member, stranger = f"wcl{tag}", f"wmem{tag}", f"wstr{tag}"
    subprocess.run(["groupadd", group], check=True)
    try:
        subprocess.run(["useradd", "--no-create-home", "--groups", group, member], check=True)
        subprocess.run(["useradd", "--no-create-home", stranger], check=True)
        yield group, member, stranger
    finally:
        for user in (member, stranger):
            subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", group], capture_output=True)


@needs_users
def test_the_operating_system_lets_in_the_group_and_nobody_else(tmp_path):
    with group_member_and_stranger() as (group, member, stranger), socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        with running(tmp_path / "data", "--socket", path, "--socket-group", group):
            assert grp.getgrgid(os.stat(path).st_gid).gr_name == group
            allowed = as_user(member, CONNECT.format(path=path))
            assert allowed.returncode == 0 and "200" in allowed.stdout, (allowed.stdout, allowed.stderr)
            refused = as_user(stranger, CONNECT.format(path=path))
            assert refused.returncode == 3 and "PermissionError" in refused.stdout, (refused.stdout, refused.stderr)


def test_a_group_that_does_not_exist_is_named_and_nothing_listens(tmp_path):
    with socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        refused = subprocess.run(
            [WAMCP, "--data-dir", str(tmp_path / "data"), "demo", "--listen", "127.0.0.1:0",
             "--socket", path, "--socket-group", "no-such-group-here"],
            capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0
        assert "there is no group 'no-such-group-here'" in refused.stderr and "groupadd" in refused.stderr, refused.stderr
        assert not os.path.exists(path)


def test_a_socket_systemd_passes_is_taken_as_it_is_and_left_for_the_next_start(tmp_path):
    """Socket activation, as wamcp.socket does it: the service manager makes the socket with the
    clients' group and mode, and starts the daemon at the first connection; the daemon serves on
    it without touching it, and leaves it for the next start."""
    activate = shutil.which("systemd-socket-activate")
    assert activate, "systemd-socket-activate not found: install systemd (./scripts/test does)"
    with socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        data = tmp_path / "data"
        log = open(tmp_path / "activated.log", "wb")
        command = [activate, "--listen", path, WAMCP, "--data-dir", str(data), "demo",
                   "--listen", "127.0.0.1:0", "--chatter", "0", "--socket", path]
        activator = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log,
                                     env={**os.environ, "WAMCP_LOG": "info"})
        try:
            Daemon(data).wait_until(lambda: os.path.exists(path), "the activator listens")
            # What SocketMode=0660 and SocketGroup= do; the daemon must keep it so.
            os.chmod(path, 0o660)
            before = os.stat(path)
            # The first connection starts the daemon, which answers it.
            status, answer = over_socket(path, "GET", "/api/health")
            assert status == 200, answer
            status, answer = over_socket(path, "GET", "/api/status")
            assert status == 200, answer
            activator.send_signal(15)
            assert activator.wait(timeout=30) == 0
        finally:
            if activator.poll() is None:
                activator.kill()
        after = os.stat(path)
        assert stat.S_ISSOCK(after.st_mode), "the socket systemd made stays"
        assert (after.st_mode, after.st_gid, after.st_ino) == (before.st_mode, before.st_gid, before.st_ino)
