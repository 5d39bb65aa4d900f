"""The daemon as a black box: start the real binary on the simulated network, talk to its REST API
over plain HTTP, and read its SQLite store."""

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time

import wamcp_db
from conftest import WAMCP

DEADLINE = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange(host, port, method, path, data, headers) -> tuple:
    """One HTTP request; returns (status, parsed JSON or text)."""
    return exchange_on(http.client.HTTPConnection(host, port, timeout=30), method, path, data, headers)


def exchange_on(conn, method, path, data, headers) -> tuple:
    """One HTTP request on `conn` (TCP or a Unix socket); returns (status, parsed JSON or text)."""
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


class Daemon:
    """A `wamcp demo` daemon on the sim link, in its own data dir."""

    def __init__(self, data_dir, *extra: str, port: int | None = None, env: dict | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra = extra
        self.env = env or {}
        self.process = None
        self.token = None

    # --- life cycle -------------------------------------------------------------------------
    def start(self):
        log = open(self.data_dir.parent / f"daemon-{self.port}.log", "ab")
        # A variable set to None in `env` is left out.
        env = {k: v for k, v in {**os.environ, "WAMCP_LOG": "info", **self.env}.items() if v is not None}
        self.process = subprocess.Popen(
            [WAMCP, "--data-dir", str(self.data_dir), "demo", "--listen", f"127.0.0.1:{self.port}",
             "--chatter", "0", *self.extra],
            stdout=subprocess.DEVNULL, stderr=log, env=env,
        )
        self.wait_until(lambda: self._healthy(), "the API answers")
        self.token = (self.data_dir / "api-token").read_text().strip()
        self.wait_until(lambda: self.status()["connection"]["state"] == "connected", "connected")
        return self

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the daemon exited with {self.process.returncode}")
        try:
            return self.request("GET", "/api/health", token=None)[0] == 200
        except OSError:
            return False

    def kill(self):
        """kill -9: no chance to flush or say goodbye."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def wait_until(self, condition, what: str, timeout: float = DEADLINE):
        """Polls `condition` until it holds; fails naming `what` after `timeout` seconds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting until {what}")

    # --- HTTP -------------------------------------------------------------------------------
    def request(self, method, path, body=None, *, token="default", headers=None, raw=None):
        """Returns (status, parsed JSON or text)."""
        sent = {"Host": f"127.0.0.1:{self.port}"}
        if token == "default":
            token = self.token
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        return exchange("127.0.0.1", self.port, method, path, data, sent)

    def ok(self, method, path, body=None):
        status, answer = self.request(method, path, body)
        assert status == 200, (status, answer)
        return answer

    def status(self):
        return self.ok("GET", "/api/status")

    def send(self, recipient, message, **fields):
        return self.ok("POST", "/api/send", {"recipient": recipient, "message": message, **fields})

    def sent(self):
        return self.ok("GET", "/api/sim/sent")["sent"]

    def incoming(self, **fields):
        return self.ok("POST", "/api/sim/incoming", fields)

    def history_synced(self):
        self.wait_until(lambda: self.status()["history_sync"]["percent"] == 100, "the history sync is stored")

    def message(self, chat, message_id):
        return self.request("GET", f"/api/messages/{chat}/{message_id}")

    # --- the store --------------------------------------------------------------------------
    def db(self):
        return wamcp_db.connect(self.data_dir / "wamcp.db", read_only=True,
                               key_file=self.env.get("WAMCP_KEY_FILE", wamcp_db.SUITE_KEY))

    def audit(self, sql, *args):
        """A query of the audit log (audit.db beside the store)."""
        key = self.env.get("WAMCP_KEY_FILE", wamcp_db.SUITE_KEY)
        with contextlib.closing(wamcp_db.connect(self.data_dir / "audit.db", read_only=True, key_file=key)) as conn:
            return conn.execute(sql, args).fetchall()

    def query(self, sql, *args):
        with contextlib.closing(self.db()) as conn:
            return conn.execute(sql, args).fetchall()


@contextlib.contextmanager
def running(data_dir, *extra, env=None):
    daemon = Daemon(data_dir, *extra, env=env).start()
    try:
        yield daemon
    finally:
        if daemon.process.poll() is None:
            daemon.stop()
