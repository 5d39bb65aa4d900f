"""`wamcp desk --lharries-db`: the desk beside a lharries/whatsapp-mcp Go bridge. New customer
messages in its messages.db become tickets, answered through the Go bridge's REST API; history
already there, and history synced later, never does."""

import datetime
import json
import os
import sqlite3
import subprocess

import pytest

from conftest import ROOT, WAMCP, generate_lharries_db
from daemon import Daemon
from stand_ins import lharries_bridge

CUSTOMER = "923001234567@s.whatsapp.net"


class Desk(Daemon):
    """`wamcp desk` on its own, seen through its API."""

    def __init__(self, data_dir, *extra):
        super().__init__(data_dir, *extra)

    def start(self):
        log = open(self.data_dir.parent / f"desk-{self.port}.log", "ab")
        self.process = subprocess.Popen(
            [WAMCP, "--data-dir", str(self.data_dir), "desk", "--listen", f"127.0.0.1:{self.port}", *self.extra],
            stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ, WAMCP_LOG="info"))
        self.wait_until(lambda: (self.data_dir / "api-token").exists() and self._answers(), "the desk answers")
        return self

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f"the desk exited with {self.process.returncode}")
        self.token = (self.data_dir / "api-token").read_text().strip()
        try:
            return self.request("GET", "/webhooks/whatsapp/status")[0] == 200
        except OSError:
            return False


def add_message(db_path, message_id, chat, text, *, at=None, from_me=False):
    at = at or datetime.datetime.now(datetime.timezone.utc)
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO messages (id, chat_jid, sender, content, timestamp, is_from_me) VALUES (?, ?, ?, ?, ?, ?)",
                   (message_id, chat, chat.split("@")[0], text, at.strftime("%Y-%m-%d %H:%M:%S+00:00"), from_me))


@pytest.fixture
def setup(tmp_path):
    source = tmp_path / "messages.db"
    generate_lharries_db(source, 500)
    bridge = lharries_bridge()
    imported = subprocess.run([WAMCP, "--data-dir", str(tmp_path / "data"), "desk", "kb", "import",
                               str(ROOT / "examples" / "kb")], capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    desk = Desk(tmp_path / "data", "--lharries-db", str(source), "--lharries-api", bridge.url, "--poll-interval", "1")
    desk.start()
    yield desk, source, bridge
    desk.stop()
    bridge.close()


def polled(desk):
    return desk.ok("GET", "/webhooks/whatsapp/status")["connected"]


def test_new_messages_become_tickets_answered_through_the_go_bridge_and_history_never_does(setup):
    desk, source, bridge = setup
    status = desk.ok("GET", "/webhooks/whatsapp/status")
    assert status["bridge_path"] == str(source) and status["bridge_exists"] is True and status["poll_interval"] == 1
    desk.wait_until(lambda: polled(desk), "the first poll sets the watermark")

    an_hour_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    add_message(source, "OLD-SYNCED", CUSTOMER, "history synced late", at=an_hour_ago)
    add_message(source, "MINE", CUSTOMER, "our own message", from_me=True)
    add_message(source, "GROUP", "120363000000000001@g.us", "group chatter")
    add_message(source, "NEW-1", CUSTOMER, "How do I reset my password?")
    desk.wait_until(lambda: len(bridge.requests) == 1, "the answer goes to the Go bridge")
    path, _, raw = bridge.requests[0]
    body = json.loads(raw)
    assert path == "/api/send" and body["recipient"] == CUSTOMER
    assert "Forgot password" in body["message"] and len(body["message"]) <= 300

    customer = desk.ok("GET", "/customers/lookup?phone=%2B923001234567")
    inbound = [m["body"] for m in customer["history"] if m["direction"] == "inbound"]
    assert inbound == ["How do I reset my password?"]
    metrics = desk.ok("GET", "/metrics/channels")
    assert metrics["channels"]["whatsapp"]["messages_in"] == 1, "500 history messages stayed history"
    assert desk.ok("GET", "/webhooks/whatsapp/status")["last_message_at"] is not None
    status, text = desk.request("GET", "/desk/metrics")
    assert status == 200
    assert "wamcp_desk_poll_failures_in_a_row 0\n" in text and "wamcp_desk_whatsapp_connected 1\n" in text


def test_the_watermark_survives_a_restart(setup, tmp_path):
    desk, source, bridge = setup
    desk.wait_until(lambda: polled(desk), "the first poll sets the watermark")
    add_message(source, "NEW-2", CUSTOMER, "When will my order ship?")
    desk.wait_until(lambda: len(bridge.requests) == 1, "the first answer")
    desk.kill()
    add_message(source, "NEW-3", CUSTOMER, "And can I return it?")
    again = Desk(tmp_path / "data", "--lharries-db", str(source), "--lharries-api", bridge.url, "--poll-interval", "1")
    again.start()
    try:
        def answered_the_later_question():
            history = again.ok("GET", "/customers/lookup?phone=%2B923001234567")["history"]  # oldest first
            inbound = [m["body"] for m in history if m["direction"] == "inbound"]
            return inbound == ["When will my order ship?", "And can I return it?"] and \
                history[-1]["direction"] == "outbound"

        again.wait_until(answered_the_later_question, "the message that came while the desk was down is answered")
        # At least once: an answer the kill cut off before it was marked sent may go again.
        again.wait_until(lambda: len(bridge.requests) >= 2, "the answer reached the bridge")
    finally:
        again.stop()
    desk.process = again.process


def test_a_database_that_is_not_lharries_is_refused_at_start(tmp_path):
    bogus = tmp_path / "other.db"
    sqlite3.connect(bogus).execute("CREATE TABLE t (x)").connection.close()
    done = subprocess.run([WAMCP, "--data-dir", str(tmp_path / "data"), "desk", "--lharries-db", str(bogus)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "not a lharries/whatsapp-mcp messages.db" in done.stderr


def failed_polls(desk):
    status, text = desk.request("GET", "/desk/metrics")
    line = next(l for l in text.splitlines() if l.startswith("wamcp_desk_poll_failures_in_a_row "))
    return int(line.split()[1])


def test_failed_polls_are_counted_and_the_source_shows_as_down(setup):
    desk, source, bridge = setup
    desk.wait_until(lambda: polled(desk), "the first poll")
    source.write_bytes(b"this is no longer a database")
    desk.wait_until(lambda: failed_polls(desk) >= 2, "failed polls are counted")
    assert desk.ok("GET", "/webhooks/whatsapp/status")["connected"] is False
    generate_lharries_db(source.with_name("fresh.db"), 10)
    source.with_name("fresh.db").replace(source)
    desk.wait_until(lambda: failed_polls(desk) == 0, "a good poll resets the count")
