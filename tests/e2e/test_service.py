"""The daemon as a system service: sd_notify readiness, watchdog and stopping, the exit code of a
logged-out session, and retention of old messages."""

import os
import socket
import time

import pytest

from daemon import Daemon, running

MINUTE_MS = 60_000


class NotifySocket:
    """What systemd listens on for a Type=notify service: a datagram socket named by NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(30)

    def next(self) -> list[str]:
        """The lines of the next notification."""
        return self.sock.recv(4096).decode().splitlines()

    def wait_for(self, line: str) -> list[list[str]]:
        """Notifications until one holding `line`; returns them all, that one last."""
        seen = []
        while True:
            message = self.next()
            seen.append(message)
            if line in message:
                return seen


def test_the_daemon_tells_systemd_it_is_ready_alive_and_stopping(tmp_path):
    notify = NotifySocket(tmp_path / "notify.sock")
    daemon = Daemon(tmp_path / "data", env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"})
    daemon.start()
    try:
        ready = notify.wait_for("READY=1")[-1]
        assert any(line.startswith("STATUS=serving on http://127.0.0.1:") for line in ready), ready
        # Readiness is sent once the API listens: it answers at once.
        assert daemon.request("GET", "/api/health", token=None)[0] == 200
        # Pings come at half the watchdog period while the daemon is healthy.
        pings = 0
        while pings < 3:
            if "WATCHDOG=1" in notify.next():
                pings += 1
    finally:
        assert daemon.stop() == 0
    assert notify.wait_for("STOPPING=1")[-1] == ["STOPPING=1", "STATUS=shutting down"]


def test_a_logged_out_session_stops_the_daemon_with_exit_code_10(tmp_path):
    daemon = Daemon(tmp_path / "data").start()
    try:
        daemon.ok("POST", "/api/sim/logout", {})
        code = daemon.process.wait(timeout=30)
    finally:
        if daemon.process.poll() is None:
            daemon.stop()
    assert code == 10
    log = (tmp_path / f"daemon-{daemon.port}.log").read_text()
    assert "logged this device out" in log and "wamcp login" in log


def test_a_stop_asked_for_exits_0_and_is_not_taken_for_a_logout(tmp_path):
    daemon = Daemon(tmp_path / "data").start()
    assert daemon.stop() == 0


def test_retention_removes_old_messages_and_their_files_at_start(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
        old_pdf = daemon.query("SELECT id, chat_jid FROM messages WHERE file_name = 'draft-v3.pdf'")[0]
        recent_photo = daemon.query("SELECT id, chat_jid FROM messages WHERE file_name = 'sposi.jpg'")[0]
        saved = [daemon.ok("POST", "/api/download", {"message_id": i, "chat_jid": c})["path"]
                 for i, c in (old_pdf, recent_photo)]
        total = daemon.query("SELECT count(*) FROM messages")[0][0]
    cutoff_ms = int(time.time() * 1000) - 3 * 24 * 60 * MINUTE_MS
    older = daemon.query("SELECT count(*) FROM messages WHERE ts < ?", cutoff_ms)[0][0]
    assert 0 < older < total, "the sample history spans more than three days"

    with running(data, "--retention-days", "3") as daemon:
        daemon.wait_until(lambda: daemon.status()["retention"]["runs"] >= 1, "the first purge ran")
        retention = daemon.status()["retention"]
        # Messages that arrived while it ran are newer than the cutoff: the old ones are what went.
        assert retention["messages_removed"] == older
        assert retention["files_removed"] == 1
        assert daemon.query("SELECT count(*) FROM messages WHERE ts < ?", cutoff_ms - MINUTE_MS) == [(0,)]
        assert daemon.query("SELECT count(*) FROM messages")[0][0] == total - older
        assert not os.path.exists(saved[0]), "the old attachment's file is deleted"
        assert os.path.exists(saved[1]), "a recent attachment's file stays"
        assert daemon.query("SELECT count(*) FROM messages WHERE id = ?", recent_photo[0]) == [(1,)]


def test_retention_of_zero_days_is_refused(tmp_path):
    from conftest import run

    result = run("--data-dir", str(tmp_path / "data"), "serve", "--retention-days", "0", "--print-config")
    assert result.returncode != 0
    assert "retention.days" in result.stderr and "1 or more days" in result.stderr


def test_one_process_at_a_time_uses_a_data_dir(tmp_path):
    from conftest import run

    data = tmp_path / "data"
    with running(data):
        login = run("--data-dir", str(data), "login", "--timeout", "1", "--pair-page", "127.0.0.1:0")
        assert login.returncode == 1
        # Each refusal names what holds the directory, and how to end that, not something else.
        assert "`wamcp demo` is running" in login.stderr and "Ctrl-C" in login.stderr
        assert "systemctl" not in login.stderr
        result = run("--data-dir", str(data), "demo", "--listen", "127.0.0.1:0", "--chatter", "0")
        assert result.returncode == 1
        # Refused before the banner, and said once.
        assert result.stderr.count("`wamcp demo` is running") == 1, result.stderr
        assert "REST API" not in result.stderr and "MCP Inspector" not in result.stderr, result.stderr


def test_the_demo_refuses_a_directory_where_a_real_account_is_linked(tmp_path):
    from conftest import run

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "whatsapp-session.db").write_bytes(b"")
    result = run("--data-dir", str(data), "demo", "--no-serve")
    assert result.returncode == 1
    assert "holds a linked WhatsApp account" in result.stderr and "never runs on a real account" in result.stderr
    assert sorted(p.name for p in data.iterdir()) == ["whatsapp-session.db"], "nothing was written"


def whatsapp_reachable():
    import socket
    try:
        socket.create_connection(("web.whatsapp.com", 443), timeout=5).close()
        return True
    except OSError:
        return False


def test_login_without_a_network_says_so_in_the_terminal_and_on_the_pairing_page(tmp_path):
    import subprocess
    import urllib.request

    from conftest import WAMCP
    from daemon import free_port

    if whatsapp_reachable():
        pytest.skip("this machine can reach WhatsApp, so it cannot show the offline case")
    port = free_port()
    login = subprocess.Popen([WAMCP, "--data-dir", str(tmp_path / "data"), "login", "--timeout", "10",
                              "--pair-page", f"127.0.0.1:{port}"], stderr=subprocess.PIPE, text=True)
    page = ""
    while login.poll() is None and "cannot reach WhatsApp" not in page:
        try:
            page = urllib.request.urlopen(f"http://127.0.0.1:{port}/pair", timeout=5).read().decode()
        except OSError:
            pass
        time.sleep(0.1)
    _, stderr = login.communicate(timeout=60)
    assert "cannot reach WhatsApp (web.whatsapp.com): check the network or proxy" in page
    assert "Waiting for WhatsApp" not in page
    assert login.returncode == 1, stderr
    assert "cannot reach WhatsApp (web.whatsapp.com): check the network or proxy" in stderr
    assert f"wamcp --data-dir {tmp_path / 'data'} login" in stderr


def test_health_says_alive_while_ready_says_whether_whatsapp_is_connected(tmp_path):
    import subprocess
    from conftest import WAMCP
    data = tmp_path / "data"
    with running(data) as daemon:
        def health(*flags):
            return subprocess.run([WAMCP, "--data-dir", str(data), "health", *flags], capture_output=True, text=True,
                                  timeout=30)
        ready = health("--ready")
        assert ready.returncode == 0 and ready.stdout.startswith("ready:"), ready.stderr
        daemon.ok("POST", "/api/sim/disconnect", {})
        daemon.wait_until(lambda: daemon.status()["connection"]["state"] == "disconnected", "disconnected")
        assert daemon.request("GET", "/api/ready", token=None) == (503, {"ready": False, "connection": "disconnected"})
        not_ready = health("--ready")
        assert not_ready.returncode == 1
        assert "not ready" in not_ready.stderr and "disconnected, not connected to WhatsApp" in not_ready.stderr
        alive = health()
        assert alive.returncode == 0 and alive.stdout.startswith("ok:"), "alive all the same: a restart would not help"
    gone = subprocess.run([WAMCP, "--data-dir", str(data), "health", "--listen", f"127.0.0.1:{daemon.port}"],
                          capture_output=True, text=True, timeout=30)
    assert gone.returncode == 1 and "no daemon answers" in gone.stderr
