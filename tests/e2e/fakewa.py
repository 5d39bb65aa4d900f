"""fakewa, the WhatsApp server and phone the real client inside wamcp talks to: start it, pair a
`wamcp` test-server build with it by scanning the QR it writes, run the daemon against it, and
drive the phone and its contacts through fakewa's control API."""

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import time

from conftest import ROOT
from daemon import Daemon, exchange

# `cargo build -p wamcp --features test-server` then copied aside (scripts/test does it), and fakewa.
WAMCP_TEST_SERVER = os.environ.get("WAMCP_TEST_SERVER_BIN", str(ROOT / "target" / "debug" / "wamcp-test-server"))
FAKEWA = os.environ.get("FAKEWA_BIN", str(ROOT / "target" / "debug" / "fakewa"))
DEADLINE = 60.0


def wait_until(condition, what: str, timeout: float = DEADLINE):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


class FakeWA:
    """The fakewa process and its control API."""

    def __init__(self, data_dir: pathlib.Path):
        self.data_dir = data_dir
        self.process = None
        self.ws = self.control = None

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "fakewa.log", "ab")
        self.process = subprocess.Popen([FAKEWA, "--data-dir", str(self.data_dir)], env={**os.environ, "FAKEWA_LOG": "fakewa=debug"},
                                        stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.process.stdout.readline()
        assert line.startswith("ready "), f"fakewa said {line!r}"
        fields = dict(part.split("=", 1) for part in line.split()[1:])
        self.ws, self.control = fields["ws"], fields["control"]
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def request(self, method, path, body=None):
        host, port = self.control.removeprefix("http://").split(":")
        data = json.dumps(body).encode() if body is not None else None
        return exchange(host, int(port), method, path, data, {"Content-Type": "application/json"})

    def ok(self, method, path, body=None):
        status, answer = self.request(method, path, body)
        assert status == 200, (status, answer)
        return answer

    def received(self, kind=None):
        items = self.ok("GET", "/received")
        return [item for item in items if kind is None or item["kind"] == kind]

    def incoming(self, **fields):
        return self.ok("POST", "/incoming", fields)["id"]

    def state(self):
        return self.ok("GET", "/state")

    def environment(self) -> dict:
        return {**os.environ, "WAMCP_TEST_SERVER": self.ws}


def login(fake: FakeWA, data_dir: pathlib.Path, *args: str) -> subprocess.Popen:
    """Starts `wamcp login` against fakewa."""
    return subprocess.Popen([WAMCP_TEST_SERVER, "--data-dir", str(data_dir), "login", "--timeout", "60", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=fake.environment())


def pair_by_qr(fake: FakeWA, data_dir: pathlib.Path) -> subprocess.CompletedProcess:
    """`wamcp login`, and the phone scans the QR it writes."""
    process = login(fake, data_dir)
    qr = data_dir / "pair-qr.png"
    wait_until(lambda: qr.exists() and qr.stat().st_size > 0 or process.poll() is not None, "the QR is written")
    if process.poll() is None:
        fake.ok("POST", "/phone/scan", {"png": str(qr)})
    out, err = process.communicate(timeout=DEADLINE)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


class LinkedDaemon(Daemon):
    """`wamcp serve` (test-server build) connected to fakewa."""

    def __init__(self, data_dir, fake: FakeWA, *extra: str):
        super().__init__(data_dir, *extra)
        self.fake = fake

    def start(self, wait_connected=True):
        log = open(self.data_dir.parent / f"daemon-{self.port}.log", "ab")
        env = {**self.fake.environment(), "WAMCP_LOG": os.environ.get("FAKEWA_DAEMON_LOG", "info")}
        self.process = subprocess.Popen(
            [WAMCP_TEST_SERVER, "--data-dir", str(self.data_dir), "serve", "--listen", f"127.0.0.1:{self.port}",
             *self.extra],
            stdout=subprocess.DEVNULL, stderr=log, env=env,
        )
        self.wait_until(lambda: self._healthy(), "the API answers")
        self.token = (self.data_dir / "api-token").read_text().strip()
        if wait_connected:
            self.wait_until(lambda: self.status()["connection"]["state"] == "connected", "connected")
        return self

    def log(self) -> str:
        return (self.data_dir.parent / f"daemon-{self.port}.log").read_text(errors="replace")


@contextlib.contextmanager
def linked(tmp_path, *extra: str):
    """fakewa, a device paired with it by QR, and the daemon (with `extra` flags) running against it."""
    fake = FakeWA(tmp_path / "fakewa").start()
    data = tmp_path / "data"
    try:
        paired = pair_by_qr(fake, data)
        assert paired.returncode == 0, paired.stderr
        daemon = LinkedDaemon(data, fake, *extra).start()
        try:
            yield fake, daemon
        finally:
            if daemon.process.poll() is None:
                daemon.stop()
    finally:
        fake.stop()
