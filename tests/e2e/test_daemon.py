"""`wamcp demo` as a daemon on the simulated network, seen only through its REST API and its store."""

import http.client
import json
import os
import shutil

import pytest

from daemon import Daemon, running

ALICE = "447700900123@s.whatsapp.net"
NOA_PHONE = "972521234567@s.whatsapp.net"
NOA_LID = "184467440737095@lid"
STRANGER = "15550009999@s.whatsapp.net"


@pytest.fixture
def daemon(tmp_path):
    with running(tmp_path / "data") as d:
        d.history_synced()
        yield d


def test_history_sync_fills_the_store_with_merged_identities(daemon):
    chats = {jid for (jid,) in daemon.query("SELECT jid FROM chats")}
    assert ALICE in chats and NOA_PHONE in chats
    # Noa writes from her LID; the store files her under her phone number, one chat.
    assert NOA_LID not in chats
    assert daemon.query("SELECT count(*) FROM messages WHERE chat_jid = ?", NOA_LID) == [(0,)]
    assert daemon.query("SELECT count(*) FROM messages WHERE chat_jid = ?", NOA_PHONE)[0][0] > 0
    # Reactions, the edit and the deletion of the history were applied to the stored messages.
    assert daemon.query("SELECT emoji FROM reactions WHERE chat_jid = ?", ALICE) == [("👍",)]
    assert daemon.query("SELECT count(*) FROM messages WHERE edited_at IS NOT NULL") == [(1,)]
    assert daemon.query("SELECT count(*) FROM messages WHERE revoked = 1 AND text IS NULL") == [(1,)]
    assert daemon.status()["history_sync"]["messages"] == daemon.query("SELECT count(*) FROM messages")[0][0]


def test_an_incoming_message_is_stored_and_announced(daemon):
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    conn.request("GET", "/api/events", headers={"Host": f"127.0.0.1:{daemon.port}",
                                                "Authorization": f"Bearer {daemon.token}"})
    stream = conn.getresponse()
    assert stream.status == 200
    answer = daemon.incoming(**{"from": "+1 555 000 9999", "text": "Hello from a stranger", "push_name": "Stranger"})
    event = None
    while event is None:
        line = stream.fp.readline().decode()
        if line.startswith("data:"):
            data = json.loads(line[5:])
            if data["type"] == "message" and data["id"] == answer["id"]:
                event = data
    conn.close()
    assert event["text"] == "Hello from a stranger" and event["chat_jid"] == STRANGER
    # By the time the event is out, the message is in the store.
    assert daemon.query("SELECT text, sender_jid FROM messages WHERE id = ?", answer["id"]) == [
        ("Hello from a stranger", STRANGER)]
    assert daemon.query("SELECT push_name FROM contacts WHERE jid = ?", STRANGER) == [("Stranger",)]


def test_a_message_from_a_known_lid_lands_in_the_phone_chat(daemon):
    answer = daemon.incoming(**{"from": NOA_LID, "text": "new phone, same me"})
    daemon.wait_until(lambda: daemon.query("SELECT chat_jid FROM messages WHERE id = ?", answer["id"]), "stored")
    assert daemon.query("SELECT chat_jid, sender_jid FROM messages WHERE id = ?", answer["id"]) == [
        (NOA_PHONE, NOA_PHONE)]


def test_a_send_is_acknowledged_delivered_once_and_read_after_a_reply(daemon):
    answer = daemon.send("+44 7700 900123", "See you at 12:30")
    assert answer["success"] is True and answer["status"] == "pending" and answer["id"]
    message_id = answer["id"]
    daemon.wait_until(lambda: daemon.message(ALICE, message_id)[1].get("status") == "delivered", "delivered")
    stored = daemon.message(ALICE, message_id)[1]
    assert stored["text"] == "See you at 12:30" and stored["is_from_me"] is True
    assert stored["outbox"]["state"] == "sent"
    assert [s["id"] for s in daemon.sent()].count(message_id) == 1
    # The server's time is the stored time.
    sent = next(s for s in daemon.sent() if s["id"] == message_id)
    assert daemon.query("SELECT ts FROM messages WHERE id = ?", message_id) == [(sent["at"],)]
    daemon.incoming(**{"from": ALICE, "text": "👍"})
    daemon.wait_until(lambda: daemon.message(ALICE, message_id)[1].get("status") == "read", "read")


def test_replies_mentions_and_reactions_reach_the_network(daemon):
    quoted = daemon.query("SELECT id FROM messages WHERE chat_jid = ? AND from_me = 0 LIMIT 1", ALICE)[0][0]
    reply = daemon.send(ALICE, "Yes, booked", reply_to=quoted, mentions=["+44 7700 900123"])
    react = daemon.ok("POST", "/api/react", {"chat_jid": ALICE, "message_id": quoted, "emoji": "❤️"})
    daemon.wait_until(lambda: daemon.status()["outbox_depth"] == 0 and
                      {reply["id"], react["id"]} <= {s["id"] for s in daemon.sent()}, "both sent")
    by_id = {s["id"]: s for s in daemon.sent()}
    assert by_id[reply["id"]]["target"] == quoted and by_id[reply["id"]]["mentions"] == [ALICE]
    assert by_id[react["id"]]["kind"] == "reaction" and by_id[react["id"]]["text"] == "❤️"
    daemon.wait_until(lambda: daemon.query(
        "SELECT emoji FROM reactions WHERE message_id = ? AND sender_jid = '15550100100@s.whatsapp.net'", quoted)
        == [("❤️",)], "our reaction is stored")
    assert daemon.query("SELECT quoted_id FROM messages WHERE id = ?", reply["id"]) == [(quoted,)]


def test_sends_wait_out_a_disconnect_and_go_after_reconnect(daemon):
    daemon.ok("POST", "/api/sim/disconnect", {})
    daemon.wait_until(lambda: daemon.status()["connection"]["state"] == "disconnected", "disconnected")
    ids = [daemon.send(ALICE, f"offline {n}")["id"] for n in range(3)]
    assert daemon.status()["outbox_depth"] == 3
    assert not set(ids) & {s["id"] for s in daemon.sent()}
    # Readers see the queued sends at once, as pending.
    status_of = "SELECT status FROM messages WHERE id = ?"
    assert [daemon.query(status_of, i) for i in ids] == [[("pending",)]] * 3
    # An incoming message waits at the server too.
    waiting = daemon.incoming(**{"from": ALICE, "text": "are you there?"})
    assert daemon.query("SELECT count(*) FROM messages WHERE id = ?", waiting["id"]) == [(0,)]
    daemon.ok("POST", "/api/sim/reconnect", {})
    daemon.wait_until(lambda: daemon.status()["outbox_depth"] == 0, "the outbox is empty")
    sent_ids = [s["id"] for s in daemon.sent()]
    assert [i for i in sent_ids if i in ids] == ids  # all, once each, in order
    daemon.wait_until(lambda: all(daemon.query(status_of, i)[0][0] != "pending" for i in ids), "no longer pending")
    assert daemon.query("SELECT count(*) FROM messages WHERE text LIKE 'offline %'") == [(3,)]
    daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE id = ?", waiting["id"]) == [(1,)],
                      "the waiting message arrives")


def test_a_thousand_sends_queued_while_offline_all_go_out_after_reconnect(daemon):
    """The outbox reads the queue a page at a time; every page must go, not only the first ones."""
    daemon.ok("POST", "/api/sim/disconnect", {})
    daemon.wait_until(lambda: daemon.status()["connection"]["state"] == "disconnected", "disconnected")
    ids = [daemon.send(ALICE, f"queued {n}")["id"] for n in range(1000)]
    assert daemon.status()["outbox_depth"] == 1000
    daemon.ok("POST", "/api/sim/reconnect", {})
    # No other send and no timer may be needed to finish the queue.
    daemon.wait_until(lambda: daemon.status()["outbox_depth"] == 0, "the outbox is empty", timeout=120)
    sent_ids = [s["id"] for s in daemon.sent() if s["id"] in set(ids)]
    assert sent_ids == ids  # every one, once, in the order queued


def test_kill_9_loses_no_acknowledged_send_and_sends_none_twice(tmp_path):
    data = tmp_path / "data"
    daemon = Daemon(data).start()
    daemon.history_synced()
    daemon.ok("POST", "/api/sim/disconnect", {})
    daemon.wait_until(lambda: daemon.status()["connection"]["state"] == "disconnected", "disconnected")
    queued = [daemon.send(ALICE, f"before the crash {n}")["id"] for n in range(5)]
    daemon.ok("POST", "/api/sim/reconnect", {})
    # Kill it while later sends are being acknowledged and earlier ones delivered.
    more = [daemon.send(ALICE, f"during {n}")["id"] for n in range(15)]
    daemon.kill()
    acknowledged = queued + more

    restarted = Daemon(data, port=daemon.port).start()
    try:
        restarted.wait_until(lambda: restarted.status()["outbox_depth"] == 0, "the outbox is empty")
        sent_ids = [s["id"] for s in restarted.sent()]
        assert sorted(i for i in sent_ids if i in acknowledged) == sorted(acknowledged)
        assert len(sent_ids) == len(set(sent_ids))
        stored = restarted.query("SELECT count(DISTINCT id) FROM messages WHERE text LIKE 'before the crash%' "
                                 "OR text LIKE 'during%'")
        assert stored == [(20,)]
    finally:
        restarted.stop()


def test_idempotency_keys_make_a_retried_request_send_once(daemon):
    first = daemon.send(ALICE, "only once", idempotency_key="order-42")
    second = daemon.send(ALICE, "only once", idempotency_key="order-42")
    assert first["id"] == second["id"]
    daemon.wait_until(lambda: daemon.status()["outbox_depth"] == 0, "sent")
    assert [s["id"] for s in daemon.sent()].count(first["id"]) == 1


@pytest.mark.parametrize("headers, status, says", [
    ({"Authorization": None}, 401, "token"),
    ({"Authorization": "Bearer wrong"}, 401, "token"),
    ({"Host": "evil.example:80"}, 403, "Host"),
    ({"Origin": "http://evil.example"}, 403, "origin"),
])
def test_requests_without_the_right_token_host_or_origin_are_refused(daemon, headers, status, says):
    sent = {k: v for k, v in headers.items() if v is not None}
    token = None if "Authorization" in headers else "default"
    code, answer = daemon.request("POST", "/api/send", {"recipient": ALICE, "message": "x"}, token=token, headers=sent)
    assert code == status and says in answer["message"]
    assert daemon.query("SELECT count(*) FROM outbox") == [(0,)]


def test_a_text_plain_post_is_refused_so_web_pages_cannot_send(daemon):
    code, answer = daemon.request("POST", "/api/send", raw=json.dumps({"recipient": ALICE, "message": "x"}).encode(),
                                  headers={"Content-Type": "text/plain"})
    assert code == 415 and "JSON" in answer["message"]
    assert daemon.query("SELECT count(*) FROM outbox") == [(0,)]


def test_health_needs_no_token_but_status_does(daemon):
    assert daemon.request("GET", "/api/health", token=None)[0] == 200
    assert daemon.request("GET", "/api/status", token=None)[0] == 401


@pytest.mark.parametrize("body, says", [
    ({"recipient": "not a number", "message": "hi"}, "recipient"),
    ({"recipient": "", "message": "hi"}, "recipient"),
    ({"recipient": ALICE, "message": ""}, "message"),
    ({"recipient": ALICE, "message": "hi", "colour": "red"}, "colour"),
    ({"recipient": ALICE, "message": "hi", "reply_to": "NO-SUCH-ID"}, "NO-SUCH-ID"),
])
def test_bad_sends_say_what_is_wrong_and_queue_nothing(daemon, body, says):
    code, answer = daemon.request("POST", "/api/send", body)
    assert code in (400, 404, 422) and answer["success"] is False and says in answer["message"]
    assert daemon.query("SELECT count(*) FROM outbox") == [(0,)]


def test_files_are_sent_only_from_allowed_directories(daemon, tmp_path):
    outside = tmp_path / "secret.pdf"
    outside.write_bytes(b"%PDF-1.4 private")
    code, answer = daemon.request("POST", "/api/send", {"recipient": ALICE, "message": "", "media_path": str(outside)})
    assert code == 403 and "outside" in answer["message"]
    # A symlink inside the allowed directory pointing outside is no way round.
    link = daemon.data_dir / "outbox" / "innocent.pdf"
    os.symlink(outside, link)
    code, _ = daemon.request("POST", "/api/send", {"recipient": ALICE, "message": "", "media_path": str(link)})
    assert code == 403
    # Nor is a path that climbs out with "..".
    (daemon.data_dir / "api-token.copy").write_text("x")
    climbing = str(daemon.data_dir / "outbox" / ".." / "api-token.copy")
    code, answer = daemon.request("POST", "/api/send", {"recipient": ALICE, "message": "", "media_path": climbing})
    assert code == 403 and "outside the directories" in answer["message"]
    photo = daemon.data_dir / "outbox" / "beach.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + b"jpeg" * 100)
    answer = daemon.send(ALICE, "At the beach", media_path=str(photo))
    photo.unlink()  # the outbox has its own copy
    daemon.wait_until(lambda: daemon.status()["outbox_depth"] == 0, "sent")
    record = next(s for s in daemon.sent() if s["id"] == answer["id"])
    assert record["kind"] == "image" and record["caption"] == "At the beach" and record["size"] == 403
    assert daemon.query("SELECT kind, caption FROM messages WHERE id = ?", answer["id"]) == [("image", "At the beach")]


def write_wav(path, tone_seconds, silent_seconds, rate=16000):
    """A mono WAV: a tone, then silence."""
    import math
    import struct
    import wave
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        tone = (int(9000 * math.sin(i * 0.2)) for i in range(rate * tone_seconds))
        out.writeframes(b"".join(struct.pack("<h", s) for s in tone) + b"\0\0" * rate * silent_seconds)


def test_any_audio_becomes_a_voice_note_with_its_real_length_and_waveform(daemon):
    memo = daemon.data_dir / "outbox" / "memo.wav"
    write_wav(memo, tone_seconds=3, silent_seconds=2)
    answer = daemon.send(ALICE, "", media_path=str(memo), voice=True)
    daemon.wait_until(lambda: daemon.status()["outbox_depth"] == 0, "sent")
    record = next(s for s in daemon.sent() if s["id"] == answer["id"])
    assert record["kind"] == "voice" and record["mimetype"] == "audio/ogg; codecs=opus"
    assert record["seconds"] == 5
    wave = record["waveform"]
    assert len(wave) == 64 and max(wave) == 100
    assert min(wave[:36]) >= 80 and max(wave[40:]) <= 3, wave
    assert daemon.query("SELECT kind FROM messages WHERE id = ?", answer["id"]) == [("voice",)]


def test_a_file_that_is_not_audio_is_refused_as_a_voice_note(daemon):
    fake = daemon.data_dir / "outbox" / "song.ogg"
    fake.write_text("not audio")
    code, answer = daemon.request("POST", "/api/send", {"recipient": ALICE, "media_path": str(fake)})
    assert code == 400 and "ffmpeg could not convert" in answer["message"] and "song.ogg" in answer["message"]
    assert daemon.query("SELECT count(*) FROM outbox") == [(0,)]
    assert list((daemon.data_dir / "sending").iterdir()) == []


def test_downloads_keep_hostile_names_inside_the_media_folder_and_survive_expiry(daemon):
    answer = daemon.incoming(**{"from": ALICE, "media": {"kind": "document", "file_name": "../../../evil.sh",
                                                          "caption": "see attached", "expired": True}})
    daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE id = ?", answer["id"]) == [(1,)],
                      "stored")
    saved = daemon.ok("POST", "/api/download", {"message_id": answer["id"], "chat_jid": ALICE})
    media_root = os.path.realpath(daemon.data_dir / "media")
    assert os.path.realpath(saved["path"]).startswith(media_root + os.sep)
    assert saved["path"].endswith(f"{answer['id']}.sh")
    assert open(saved["path"], "rb").read().startswith(b"simulated media")
    assert not os.path.exists(daemon.data_dir.parent / "evil.sh")
    local = daemon.query("SELECT local_path, direct_path FROM messages WHERE id = ?", answer["id"])[0]
    assert local[0] == f"media/{ALICE}/{answer['id']}.sh" and "reuploaded" in local[1]


def test_sigterm_shuts_down_cleanly(tmp_path):
    daemon = Daemon(tmp_path / "data").start()
    assert daemon.stop() == 0


def test_metrics_count_what_happened_and_need_the_token(daemon):
    answer = daemon.send(ALICE, "counted")
    daemon.wait_until(lambda: daemon.message(ALICE, answer["id"])[1].get("status") in ("delivered", "read"), "sent")
    code, text = daemon.request("GET", "/metrics")
    assert code == 200
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert lines["wamcp_messages_sent_total"] == "1"
    assert lines["wamcp_send_latency_seconds_count"] == "1"
    assert lines["wamcp_connected"] == "1" and lines["wamcp_outbox_depth"] == "0"
    assert int(lines["wamcp_store_bytes"]) > 0
    assert daemon.request("GET", "/metrics", token=None)[0] == 401


class Receiver:
    """A webhook receiver that fails its first delivery, then takes the rest."""

    def __init__(self):
        import http.server
        import threading

        self.deliveries = []
        self.failed_once = False
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not receiver.failed_once:
                    receiver.failed_once = True
                    self.send_response(500)
                else:
                    receiver.deliveries.append((self.headers["X-Wamcp-Signature"], body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_webhooks_are_signed_and_retried_until_taken(tmp_path):
    import hashlib
    import hmac
    import time as clock

    receiver = Receiver()
    with running(tmp_path / "data", "--webhook", receiver.url) as daemon:
        daemon.history_synced()
        answer = daemon.incoming(**{"from": ALICE, "text": "webhook me"})

        def delivered():
            return [b for _, b in receiver.deliveries if json.loads(b).get("id") == answer["id"]]

        daemon.wait_until(delivered, "the message event reaches the receiver despite its first failure")
        assert receiver.failed_once
        secret = (daemon.data_dir / "webhook-secret").read_text().strip()
        for signature, body in receiver.deliveries:
            fields = dict(part.split("=", 1) for part in signature.split(","))
            expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(fields["v1"], expected)
            assert abs(int(fields["t"]) - clock.time()) < 300
        event = json.loads(delivered()[0])
        assert event["type"] == "message" and event["text"] == "webhook me"
        daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM webhook_queue") == [(0,)], "the queue drains")
    receiver.server.shutdown()


def test_chosen_kinds_of_attachment_are_saved_as_they_arrive(tmp_path):
    with running(tmp_path / "data", "--auto-download", "image,voice") as daemon:
        daemon.history_synced()
        document = daemon.incoming(**{"from": ALICE, "media": {"kind": "document", "file_name": "a.pdf"}})
        photo = daemon.incoming(**{"from": ALICE, "media": {"kind": "image", "expired": True}})
        saved = "SELECT count(*) FROM messages WHERE id = ? AND local_path IS NOT NULL"
        daemon.wait_until(lambda: daemon.query(saved, photo["id"]) == [(1,)], "the photo is saved")
        (local_path,) = daemon.query("SELECT local_path FROM messages WHERE id = ?", photo["id"])[0]
        assert local_path == f"media/{ALICE}/{photo['id']}.jpg"
        assert (daemon.data_dir / local_path).read_bytes().startswith(b"\xff\xd8"), "a real JPEG"
        # Downloads run in arrival order: the earlier document was passed over, not pending.
        assert daemon.query("SELECT local_path FROM messages WHERE id = ?", document["id"]) == [(None,)]
