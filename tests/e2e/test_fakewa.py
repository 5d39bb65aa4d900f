"""The real WhatsApp client inside wamcp against fakewa, a WhatsApp server and phone speaking the
real protocol: pairing, login, live messages both ways, receipts, reconnects and failures, as a
user would see them (exit statuses, the store, MCP tools, the REST API)."""

import hashlib
import pathlib
import random
import subprocess
import threading
import time

import pytest

from conftest import ROOT, WAMCP
from fakewa import FakeWA, LinkedDaemon, linked, login, pair_by_qr, wait_until
from test_daemon import write_wav
from test_mcp_send import session_calls, text_of

ALICE = "447700900123"
ALICE_JID = f"{ALICE}@s.whatsapp.net"
BOB = "447700900456"


@pytest.fixture
def world(tmp_path):
    with linked(tmp_path) as pair:
        yield pair


def stored(daemon, message_id):
    return daemon.query("SELECT text, caption, kind, sender_jid, quoted_id, edited_at, revoked FROM messages "
                        "WHERE id = ?", message_id)


def arrives(daemon, message_id, what="the message is stored"):
    daemon.wait_until(lambda: len(stored(daemon, message_id)) == 1, what)
    return stored(daemon, message_id)[0]


# --- 1. QR pairing ---------------------------------------------------------------------------------

def test_qr_pairing_links_the_device_and_serve_logs_in_with_the_stored_session(tmp_path):
    fake = FakeWA(tmp_path / "fakewa").start()
    try:
        data = tmp_path / "data"
        paired = pair_by_qr(fake, data)
        assert paired.returncode == 0, paired.stderr
        said = paired.stdout + paired.stderr
        assert "Linked to WhatsApp as +447911123456. Logging in and syncing contacts" in said
        # It stayed for the first login after WhatsApp restarted the stream.
        assert "Logged in as +447911123456; contacts synced" in said and fake.state()["connections"] >= 2
        device = fake.state()["device"]
        assert device and (data / "whatsapp-session.db").stat().st_size > 0
        daemon = LinkedDaemon(data, fake).start()
        try:
            assert daemon.status()["connection"]["account"] == "447911123456@s.whatsapp.net"
            # The first full app-state sync is done by whichever client gets to it, then forgotten.
            daemon.wait_until(lambda: not (data / "whatsapp-initial-sync").exists(), "the first full sync is done")
            # The same device logged in: no second pairing.
            assert fake.state() == {**fake.state(), "device": device, "connected": True}
        finally:
            daemon.stop()
    finally:
        fake.stop()


# --- 2. Pairing code ------------------------------------------------------------------------------

def test_a_pairing_code_typed_into_the_phone_links_the_device(tmp_path):
    fake = FakeWA(tmp_path / "fakewa").start()
    try:
        data = tmp_path / "data"
        process = login(fake, data, "--phone", "+44 7911 123456")
        code = None
        lines = []
        for line in process.stderr:
            lines.append(line)
            if "enter this code:" in line:
                code = line.split("enter this code:")[1].strip()
                break
        assert code and len(code.replace("-", "")) == 8, lines
        fake.ok("POST", "/phone/code", {"code": code})
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, "".join(lines) + out + err
        assert "Linked to WhatsApp as +447911123456" in out + err
        assert fake.state()["device"] == "447911123456:1"
        # The code only: no QR codes to bury it.
        assert "Scan with your phone" not in "".join(lines) + err and not (data / "pair-qr.png").exists()
        daemon = LinkedDaemon(data, fake).start()
        daemon.stop()
    finally:
        fake.stop()


def test_a_refused_pairing_code_request_says_why_and_what_to_do(tmp_path):
    fake = FakeWA(tmp_path / "fakewa").start()
    try:
        process = login(fake, tmp_path / "data", "--phone", "+44 7912 345678")  # not fakewa's account
        out, err = process.communicate(timeout=60)
        assert process.returncode == 1, out + err
        assert "WhatsApp refused the pairing code request" in err and "link with the QR code" in err, err
        assert "Scan with your phone" not in err
    finally:
        fake.stop()


# --- 3. History ----------------------------------------------------------------------------------

def test_a_history_sync_of_1000_messages_in_20_chats_is_stored_under_the_right_names(world):
    fake, daemon = world
    ids = fake.ok("POST", "/history", {"chats": 20, "messages": 1000})["ids"]
    assert len(ids) == 1000
    daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE text LIKE 'history message %'")
                      == [(1000,)], "all 1,000 are stored", timeout=120)
    daemon.history_synced()
    assert daemon.status()["history_sync"]["messages"] >= 1000
    stored_ids = {row[0] for row in daemon.query("SELECT id FROM messages WHERE text LIKE 'history message %'")}
    assert stored_ids == set(ids)
    # Chat 1 of every pair came keyed by LID: people are still one chat each, under their phone.
    chats = daemon.query("SELECT DISTINCT chat_jid FROM messages WHERE text LIKE 'history message %'")
    assert len(chats) == 20 and all(jid.endswith("@s.whatsapp.net") for (jid,) in chats), chats
    listed, = session_calls(daemon, [("list_chats", {"limit": 30})])
    for n in range(1, 21):
        assert f"Person {n}" in text_of(listed)


# --- 4. Live messages ------------------------------------------------------------------------------

def test_live_messages_text_replies_reactions_edits_and_revokes_reach_the_store(world):
    fake, daemon = world
    hello = fake.incoming(**{"from": ALICE, "text": "Hello from Alice"})
    assert arrives(daemon, hello)[:4] == ("Hello from Alice", None, "text", ALICE_JID)
    sent = daemon.send(ALICE, "Hi Alice")
    wait_until(lambda: any(m["id"] == sent["id"] for m in fake.received("message")), "our message reaches the phone")
    reply = fake.incoming(**{"from": ALICE, "text": "Answering you", "reply_to": sent["id"]})
    assert arrives(daemon, reply)[4] == sent["id"]
    fake.incoming(**{"from": ALICE, "reaction": {"id": sent["id"], "emoji": "👍"}})
    daemon.wait_until(lambda: daemon.query("SELECT emoji, sender_jid FROM reactions WHERE message_id = ?", sent["id"])
                      == [("👍", ALICE_JID)], "the reaction is stored")
    fake.incoming(**{"from": ALICE, "edit": {"id": hello, "text": "Hello from Alice, edited"}})
    daemon.wait_until(lambda: stored(daemon, hello)[0][0] == "Hello from Alice, edited", "the edit is applied")
    assert stored(daemon, hello)[0][5] is not None
    fake.incoming(**{"from": ALICE, "revoke": reply})
    daemon.wait_until(lambda: stored(daemon, reply)[0][6] == 1, "the revoke is applied")
    listed, = session_calls(daemon, [("list_messages", {"chat_jid": ALICE_JID, "include_context": False})])
    assert "Hello from Alice, edited" in text_of(listed)


def test_a_group_message_reaches_the_store_under_its_group_and_sender(world):
    fake, daemon = world
    group = fake.ok("POST", "/groups", {"subject": "Climbing", "participants": [ALICE, BOB]})["jid"]
    first = fake.incoming(**{"from": BOB, "chat": group, "text": "Saturday at 10?"})
    second = fake.incoming(**{"from": ALICE, "chat": group, "text": "Yes"})
    third = fake.incoming(**{"from": BOB, "chat": group, "text": "Great"})
    for message_id, text, sender in ((first, "Saturday at 10?", BOB), (second, "Yes", ALICE), (third, "Great", BOB)):
        assert arrives(daemon, message_id)[:4] == (text, None, "text", f"{sender}@s.whatsapp.net")
    assert daemon.query("SELECT DISTINCT chat_jid FROM messages WHERE id IN (?, ?, ?)", first, second, third) == [
        (group,)]


def test_a_photo_with_a_caption_is_downloaded_with_download_media_and_matches_what_was_sent(world, tmp_path):
    fake, daemon = world
    photo = tmp_path / "beach.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)
    sent = fake.incoming(**{"from": ALICE, "image": {"path": str(photo), "caption": "the beach"}})
    assert arrives(daemon, sent)[1:3] == ("the beach", "image")
    download, = session_calls(daemon, [("download_media", {"chat_jid": ALICE_JID, "message_id": sent})])
    assert download.is_error is not True, text_of(download)
    saved = pathlib.Path(download.structured_content["file_path"])
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(photo.read_bytes()).digest()


def test_a_reply_to_a_photo_quotes_the_photo_itself(world, tmp_path):
    fake, daemon = world
    photo = tmp_path / "beach.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)
    sent = fake.incoming(**{"from": ALICE, "image": {"path": str(photo), "caption": "the beach"}})
    arrives(daemon, sent)
    reply = daemon.send(ALICE, "Lovely!", reply_to=sent)
    wait_until(lambda: reply["id"] in {m["id"] for m in fake.received("message")}, "the reply reaches Alice")
    answer, = [m for m in fake.received("message") if m["id"] == reply["id"]]
    context = answer["proto"]["extended_text_message"]["context_info"]
    quoted = context["quoted_message"]["image_message"]
    assert context["stanza_id"] == sent and context["participant"] == ALICE_JID
    assert quoted["caption"] == "the beach" and quoted["direct_path"] and quoted["mimetype"] == "image/jpeg"


def test_the_phones_address_book_names_people_through_app_state(world):
    fake, daemon = world
    fake.ok("POST", "/contacts", [{"phone": f"+{ALICE}", "full_name": "Alice Archer", "first_name": "Alice"},
                                  {"phone": f"+{BOB}", "full_name": "Bob Baker"}])
    named = "SELECT full_name FROM contacts WHERE jid = ? OR phone_jid = ?"
    daemon.wait_until(lambda: daemon.query(named, ALICE_JID, ALICE_JID) == [("Alice Archer",)], "Alice is named",
                      timeout=15)
    assert daemon.query(named, f"{BOB}@s.whatsapp.net", f"{BOB}@s.whatsapp.net") == [("Bob Baker",)]
    arrives(daemon, fake.incoming(**{"from": ALICE, "text": "It's me"}))
    listed, found, sent = session_calls(daemon, [("list_chats", {"limit": 5}), ("search_contacts", {"query": "Archer"}),
                                                 ("send_message", {"recipient": "Alice Archer", "message": "Hi Alice"})])
    assert "Alice Archer" in text_of(listed)
    assert ALICE in text_of(found)
    assert not sent.is_error, text_of(sent)
    wait_until(lambda: any(m["text"] == "Hi Alice" and m["to"] == ALICE_JID for m in fake.received("message")),
               "the message sent to the address-book name reaches Alice")


def chat_row(daemon, jid):
    rows = daemon.query("SELECT name, unread_count, archived, pinned, muted_until IS NOT NULL FROM chats WHERE jid = ?",
                        jid)
    return rows[0] if rows else None


def test_a_group_the_history_left_out_is_named_from_its_metadata_and_a_rename_shows(world):
    fake, daemon = world
    group = fake.ok("POST", "/groups", {"subject": "Climbing", "participants": [ALICE, BOB]})["jid"]
    arrives(daemon, fake.incoming(**{"from": BOB, "chat": group, "text": "Saturday at 10?"}))
    daemon.wait_until(lambda: chat_row(daemon, group)[0] == "Climbing", "the group is named from its metadata")
    fake.ok("POST", f"/groups/{group}/subject", {"by": ALICE, "subject": "Climbing 🧗"})
    daemon.wait_until(lambda: chat_row(daemon, group)[0] == "Climbing 🧗", "the rename shows")
    notices = daemon.query("SELECT text, sender_jid FROM messages WHERE chat_jid = ? AND kind = 'system'", group)
    assert notices == [('changed the group name to "Climbing 🧗"', ALICE_JID)]
    listed, = session_calls(daemon, [("list_chats", {"query": "climbing"})])
    assert "Climbing 🧗" in text_of(listed)


def test_reading_archiving_pinning_and_muting_on_the_phone_show_in_wamcp(world):
    fake, daemon = world
    first = fake.incoming(**{"from": ALICE, "text": "one"})
    second = fake.incoming(**{"from": ALICE, "text": "two"})
    arrives(daemon, first)
    arrives(daemon, second)
    assert chat_row(daemon, ALICE_JID)[1] == 2, "two unread messages"
    fake.ok("POST", "/read-on-phone", {"chat": ALICE, "ids": [first]})
    daemon.wait_until(lambda: chat_row(daemon, ALICE_JID)[1] == 1, "reading the first on the phone leaves one unread")
    fake.ok("POST", "/chat-state", {"chat": ALICE, "archived": True, "pinned": True, "muted_until_ms": -1})
    daemon.wait_until(lambda: chat_row(daemon, ALICE_JID)[2:] == (1, 1, 1), "archived, pinned and muted", timeout=15)
    listed, = session_calls(daemon, [("list_chats", {"query": ALICE})])
    chat, = listed.structured_content["chats"]
    assert (chat["archived"], chat["pinned"], chat["muted"], chat["unread_count"]) == (True, True, True, 1)
    fake.ok("POST", "/chat-state", {"chat": ALICE, "archived": False, "muted_until_ms": 0, "read": True})
    daemon.wait_until(lambda: chat_row(daemon, ALICE_JID)[1:] == (0, 0, 1, 0), "unarchived, unmuted, all read",
                      timeout=15)


def test_a_message_deleted_for_me_on_the_phone_leaves_wamcp(world):
    fake, daemon = world
    gone = fake.incoming(**{"from": ALICE, "text": "a secret I regret"})
    kept = fake.incoming(**{"from": ALICE, "text": "hello"})
    arrives(daemon, gone)
    arrives(daemon, kept)
    fake.ok("POST", "/delete-for-me", {"chat": ALICE, "id": gone})
    daemon.wait_until(lambda: stored(daemon, gone) == [], "the message is gone", timeout=15)
    assert stored(daemon, kept) != []
    found, = session_calls(daemon, [("list_messages", {"query": "regret"})])
    assert "regret" not in text_of(found)


def test_a_message_that_could_not_be_decrypted_shows_as_waiting_and_is_replaced_when_it_comes_again(world):
    fake, daemon = world
    arrives(daemon, fake.incoming(**{"from": ALICE, "text": "first, to start a session"}))
    # Once wamcp has answered, Alice's phone writes in the session (not a new one each time).
    answer = daemon.send(ALICE, "hello")
    wait_until(lambda: answer["id"] in {m["id"] for m in fake.received("message")}, "the answer reaches Alice")
    garbled = fake.incoming(**{"from": ALICE, "text": "the words that got lost", "garbled_first": True})
    daemon.wait_until(lambda: any(r["type"] == "retry" and r["id"] == garbled for r in fake.received("receipt")),
                      "the client asks for the message again")
    daemon.wait_until(lambda: stored(daemon, garbled) and stored(daemon, garbled)[0][2] == "text",
                      "the message itself replaces the notice")
    assert stored(daemon, garbled)[0][:4] == ("the words that got lost", None, "text", ALICE_JID)
    found, = session_calls(daemon, [("list_messages", {"query": "lost"})])
    assert "the words that got lost" in text_of(found)


def test_a_contact_who_changed_number_keeps_their_name_and_the_old_chat_says_where_they_went(world):
    fake, daemon = world
    new_number = "447700900789"
    fake.ok("POST", "/contacts", [{"phone": f"+{ALICE}", "full_name": "Alice Archer"}])
    named = "SELECT full_name FROM contacts WHERE jid = ?"
    daemon.wait_until(lambda: daemon.query(named, ALICE_JID) == [("Alice Archer",)], "Alice is named", timeout=15)
    arrives(daemon, fake.incoming(**{"from": ALICE, "text": "my number changes tomorrow"}))
    fake.ok("POST", "/number-changed", {"old": ALICE, "new": new_number})
    daemon.wait_until(lambda: daemon.query(named, f"{new_number}@s.whatsapp.net") == [("Alice Archer",)],
                      "the new number has Alice's name")
    notices = daemon.query("SELECT text FROM messages WHERE chat_jid = ? AND kind = 'system'", ALICE_JID)
    assert notices == [(f"changed their phone number to +{new_number}",)]
    found, = session_calls(daemon, [("search_contacts", {"query": "Archer"})])
    assert new_number in text_of(found)


# --- 5. Sending ------------------------------------------------------------------------------------

def test_sends_reach_the_phone_with_the_ids_wamcp_answered_and_receipts_raise_the_status(world):
    fake, daemon = world
    incoming = fake.incoming(**{"from": ALICE, "text": "Are you coming?"})
    arrives(daemon, incoming)
    plain = daemon.send(ALICE, "Yes")
    reply = daemon.send(ALICE, "See you there @Bob", reply_to=incoming, mentions=[f"+{BOB}"])
    wait_until(lambda: {plain["id"], reply["id"]} <= {m["id"] for m in fake.received("message")},
               "every send reaches the phone")
    by_id = {m["id"]: m for m in fake.received("message")}
    assert by_id[plain["id"]]["text"] == "Yes" and by_id[plain["id"]]["to"] == ALICE_JID
    quote = by_id[reply["id"]]["proto"]["extended_text_message"]["context_info"]
    assert quote["stanza_id"] == incoming and quote["mentioned_jid"] == [f"{BOB}@s.whatsapp.net"]
    ids = [m["id"] for m in fake.received("message")]
    assert sorted(ids) == sorted(set(ids))  # every send once
    status_of = "SELECT status FROM messages WHERE id = ?"
    fake.ok("POST", "/receipt", {"id": plain["id"], "type": "delivered"})
    daemon.wait_until(lambda: daemon.query(status_of, plain["id"]) == [("delivered",)], "delivered")
    fake.ok("POST", "/receipt", {"id": plain["id"], "type": "read"})
    daemon.wait_until(lambda: daemon.query(status_of, plain["id"]) == [("read",)], "read")
    # mark_read tells the contact's phone.
    daemon.ok("POST", "/api/read", {"chat_jid": ALICE_JID, "message_ids": [incoming], "sender": ALICE_JID})
    wait_until(lambda: any(r["id"] == incoming and r["type"] == "read" for r in fake.received("receipt")),
               "the read receipt reaches the phone")
    daemon.wait_until(lambda: chat_row(daemon, ALICE_JID)[1] == 0, "read with mark_read: nothing unread")


def test_a_photo_and_a_voice_note_reach_the_phone_as_whatsapp_expects_them(world):
    fake, daemon = world
    arrives(daemon, fake.incoming(**{"from": ALICE, "text": "Send me the photo"}))  # a known chat
    outbox = daemon.data_dir / "outbox"
    outbox.mkdir(exist_ok=True)
    photo = outbox / "beach.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 30)
    memo = outbox / "memo.wav"
    write_wav(memo, tone_seconds=2, silent_seconds=1)
    file, voice = session_calls(daemon, [
        ("send_file", {"recipient": ALICE_JID, "media_path": str(photo), "caption": "from the beach"}),
        ("send_audio_message", {"recipient": ALICE_JID, "media_path": str(memo)}),
    ])
    for result in (file, voice):
        assert result.is_error is not True, text_of(result)
    ids = {file.structured_content["id"], voice.structured_content["id"]}
    wait_until(lambda: ids <= {m["id"] for m in fake.received("message")}, "both reach the phone")
    by_id = {m["id"]: m for m in fake.received("message")}
    image = by_id[file.structured_content["id"]]
    assert image["proto"]["image_message"]["caption"] == "from the beach"
    assert image["proto"]["image_message"]["mimetype"] == "image/jpeg"
    assert image["media"] == {"sha256": hashlib.sha256(photo.read_bytes()).hexdigest(), "length": photo.stat().st_size}
    note = by_id[voice.structured_content["id"]]
    audio = note["proto"]["audio_message"]
    assert audio["ptt"] is True and audio["seconds"] == 3
    assert audio["mimetype"] == "audio/ogg; codecs=opus" and audio["waveform"]
    assert "error" not in note["media"] and note["media"]["length"] > 0


def test_a_reaction_goes_out_with_the_id_wamcp_answered(world):
    fake, daemon = world
    incoming = fake.incoming(**{"from": ALICE, "text": "Dinner?"})
    arrives(daemon, incoming)
    react = daemon.ok("POST", "/api/react", {"chat_jid": ALICE_JID, "message_id": incoming, "emoji": "❤️"})
    wait_until(lambda: any(m["type"] == "reaction" for m in fake.received("message")), "the reaction is sent")
    (sent,) = [m for m in fake.received("message") if m["type"] == "reaction"]
    assert sent["proto"]["reaction_message"]["text"] == "❤️"
    assert sent["proto"]["reaction_message"]["key"]["id"] == incoming
    assert sent["id"] == react["id"]


def test_an_edit_and_a_delete_go_out_with_the_ids_wamcp_answered_and_name_their_target(world):
    fake, daemon = world
    arrives(daemon, fake.incoming(**{"from": ALICE, "text": "Dinner?"}))
    original = daemon.send(ALICE, "Yes at 8")
    wait_until(lambda: original["id"] in {m["id"] for m in fake.received("message")}, "the message is sent")
    daemon.wait_until(lambda: daemon.query("SELECT status FROM messages WHERE id = ?", original["id"]) == [("sent",)],
                      "the server took it")
    edit = daemon.ok("POST", "/api/edit", {"chat_jid": ALICE_JID, "message_id": original["id"], "message": "Yes at 9"})
    delete = daemon.ok("POST", "/api/delete", {"chat_jid": ALICE_JID, "message_id": original["id"]})
    wait_until(lambda: {edit["id"], delete["id"]} <= {m["id"] for m in fake.received("message")},
               "the edit and the delete reach the phone")
    by_id = {m["id"]: m["proto"]["protocol_message"] for m in fake.received("message") if m["id"] in (edit["id"], delete["id"])}
    assert by_id[edit["id"]]["type"] == "MESSAGE_EDIT" and by_id[edit["id"]]["key"]["id"] == original["id"]
    assert by_id[edit["id"]]["edited_message"]["conversation"] == "Yes at 9"
    assert by_id[delete["id"]]["type"] == "REVOKE" and by_id[delete["id"]]["key"]["id"] == original["id"]
    assert by_id[delete["id"]]["key"]["from_me"] is True and "participant" not in by_id[delete["id"]]["key"]
    ids = [m["id"] for m in fake.received("message")]
    assert sorted(ids) == sorted(set(ids))  # each once


def test_a_group_admin_deletes_someone_elses_message_for_everyone(world):
    fake, daemon = world
    group = fake.ok("POST", "/groups", {"subject": "Climbing", "participants": [ALICE, BOB]})["jid"]
    spam = fake.incoming(**{"from": BOB, "chat": group, "text": "buy cheap watches"})
    arrives(daemon, spam)
    delete = daemon.ok("POST", "/api/delete", {"chat_jid": group, "message_id": spam})
    wait_until(lambda: delete["id"] in {m["id"] for m in fake.received("message")}, "the delete reaches the group")
    sent, = [m for m in fake.received("message") if m["id"] == delete["id"]]
    revoke = sent["proto"]["protocol_message"]
    assert revoke["type"] == "REVOKE" and revoke["key"]["id"] == spam
    assert revoke["key"]["from_me"] is False and revoke["key"]["participant"] == f"{BOB}@s.whatsapp.net"
    assert sent["edit"] == "8", "an admin revoke"
    daemon.wait_until(lambda: stored(daemon, spam)[0][6] == 1, "the message shows as deleted")
    # In a direct chat, someone else's message stays.
    theirs = fake.incoming(**{"from": ALICE, "text": "mine to keep"})
    arrives(daemon, theirs)
    status, answer = daemon.request("POST", "/api/delete", {"chat_jid": ALICE_JID, "message_id": theirs})
    assert status == 400 and "only your own messages" in answer["message"], answer
    # Nor in a group where the account is not an admin.
    other = fake.ok("POST", "/groups", {"subject": "Book club", "participants": [ALICE], "account_is_admin": False})["jid"]
    not_ours = fake.incoming(**{"from": ALICE, "chat": other, "text": "chapter 3"})
    arrives(daemon, not_ours)
    status, answer = daemon.request("POST", "/api/delete", {"chat_jid": other, "message_id": not_ours})
    assert status == 400 and "not an admin" in answer["message"], answer
    assert stored(daemon, not_ours)[0][6] == 0


# --- How it shows on the phone ---------------------------------------------------------------------

def presences(fake):
    return [p["type"] for p in fake.received("presence") if not p["to"]]


def test_the_device_is_wamcp_on_a_desktop_and_the_account_never_stays_online(world):
    fake, daemon = world
    assert fake.state()["shown"] == {"os": "wamcp", "platform": "DESKTOP", "require_full_sync": True}
    daemon.wait_until(lambda: presences(fake)[-1:] == ["unavailable"], "the last presence said is unavailable")
    fake.ok("POST", "/drop")
    daemon.wait_until(lambda: fake.state()["connected"] and presences(fake).count("unavailable") >= 2,
                      "unavailable again after the reconnect")
    assert presences(fake)[-1] == "unavailable"


def test_presence_available_and_history_recent_are_honoured(tmp_path):
    fake = FakeWA(tmp_path / "fakewa").start()
    try:
        data = tmp_path / "data"
        process = login(fake, data, "--history", "recent")
        qr = data / "pair-qr.png"
        wait_until(lambda: qr.exists() and qr.stat().st_size > 0, "the QR is written")
        fake.ok("POST", "/phone/scan", {"png": str(qr)})
        assert process.wait(timeout=60) == 0
        assert fake.state()["shown"]["require_full_sync"] is False
        daemon = LinkedDaemon(data, fake, "--presence", "available").start()
        try:
            # Login may have said unavailable; the daemon, told to be available, has the last word.
            daemon.wait_until(lambda: presences(fake)[-1:] == ["available"], "available said last")
        finally:
            daemon.stop()
    finally:
        fake.stop()


# --- 6. Durability --------------------------------------------------------------------------------

def kill_during_a_burst(fake, daemon, sends: int):
    """The phone writes 500 messages and wamcp is asked to send `sends`; kill -9 at a random moment,
    then restart. Returns (seed, the phone's message ids, the acknowledged send ids, the new daemon)."""
    arrives(daemon, fake.incoming(**{"from": ALICE, "text": "before the burst"}))
    seed = random.randrange(1 << 30)
    moment = random.Random(seed).uniform(0.05, 1.5)
    written = []

    def phone_writes():
        for n in range(500):
            written.append(fake.incoming(**{"from": ALICE if n % 2 else BOB, "text": f"burst {n}"}))

    phone = threading.Thread(target=phone_writes)
    phone.start()
    acknowledged = [daemon.send(ALICE, f"out {n}")["id"] for n in range(sends)]
    time.sleep(moment)  # the kill's moment, drawn at random (the seed is in every failure)
    daemon.kill()
    phone.join()
    return seed, written, acknowledged, LinkedDaemon(daemon.data_dir, fake).start()


def test_kill_9_during_a_burst_loses_no_message_the_server_saw_acknowledged(world):
    fake, daemon = world
    seed, written, _, restarted = kill_during_a_burst(fake, daemon, sends=0)
    try:
        stored_ids = lambda: {row[0] for row in restarted.query(  # noqa: E731
            "SELECT id FROM messages WHERE text LIKE 'burst %'")}
        restarted.wait_until(lambda: set(written) <= stored_ids(), f"all 500 are stored (seed {seed})",
                             timeout=60)
        acknowledged = {r["id"] for r in fake.received("receipt")} & set(written)
        counts = dict(restarted.query("SELECT id, count(*) FROM messages WHERE text LIKE 'burst %' GROUP BY id"))
        assert acknowledged and all(counts[i] == 1 for i in acknowledged), f"seed {seed}"
    finally:
        restarted.stop()


def test_kill_9_during_a_burst_loses_no_send_wamcp_acknowledged(world):
    fake, daemon = world
    seed, _, sends, restarted = kill_during_a_burst(fake, daemon, sends=50)
    try:
        restarted.wait_until(lambda: restarted.status()["outbox_depth"] == 0, "the outbox is empty", timeout=90)
        wait_until(lambda: set(sends) <= {m["id"] for m in fake.received("message")},
                   f"every send goes out (seed {seed})", timeout=10)
        on_the_wire = [m["id"] for m in fake.received("message") if m["id"] in set(sends)]
        assert sorted(on_the_wire) == sorted(sends), f"each send once (seed {seed})"
    finally:
        restarted.stop()


# --- 7. Reconnect ----------------------------------------------------------------------------------

def test_after_the_network_drops_the_daemon_reconnects_and_what_waited_arrives(world):
    fake, daemon = world
    fake.ok("POST", "/drop")
    waiting = fake.incoming(**{"from": ALICE, "text": "while you were away"})
    arrives(daemon, waiting, "the message that waited arrives after the reconnect")
    wait_until(lambda: fake.state()["connected"], "fakewa sees the client again")
    daemon.wait_until(lambda: daemon.status()["connection"]["state"] == "connected", "the daemon says connected")
    assert daemon.status()["reconnects"] >= 1
    sent = daemon.send(ALICE, "back")
    wait_until(lambda: any(m["id"] == sent["id"] for m in fake.received("message")), "a send after the reconnect")


# --- 8. Failures -----------------------------------------------------------------------------------

def test_an_unlinked_device_stops_serve_with_status_10_saying_to_log_in_again(world):
    fake, daemon = world
    fake.ok("POST", "/unlink")
    assert daemon.process.wait(timeout=60) == 10
    assert "link it again with `wamcp login`" in daemon.log()


def test_after_an_unlink_login_pairs_afresh(world):
    fake, daemon = world
    fake.ok("POST", "/unlink")
    assert daemon.process.wait(timeout=60) == 10
    assert len(list(daemon.data_dir.glob("replaced-*/whatsapp-session.db"))) == 1
    paired = pair_by_qr(fake, daemon.data_dir)
    assert paired.returncode == 0, paired.stdout + paired.stderr
    assert fake.state()["device"] is not None


def test_login_on_a_session_unlinked_while_nothing_ran_sets_it_aside_and_pairs_afresh(world):
    fake, daemon = world
    assert daemon.stop() == 0
    fake.ok("POST", "/unlink")
    paired = pair_by_qr(fake, daemon.data_dir)
    assert paired.returncode == 0, paired.stdout + paired.stderr
    assert "session was unlinked from the phone" in paired.stderr
    aside = list(daemon.data_dir.glob("replaced-*/whatsapp-session.db"))
    assert len(aside) == 1, aside
    assert fake.state()["device"] is not None
    daemon.start()
    hello = fake.incoming(**{"from": ALICE, "text": "welcome back"})
    assert arrives(daemon, hello)[0] == "welcome back"


def test_a_login_refused_with_401_stops_serve_with_status_10(world):
    fake, daemon = world
    fake.ok("POST", "/fail-next-connect", {"code": 401})
    assert daemon.process.wait(timeout=60) == 10
    assert "link it again with `wamcp login`" in daemon.log()


FINAL_FAILURES = {
    "client_outdated": ("/fail-next-connect", {"code": 405}, "upgrade wamcp"),
    "banned": ("/fail-next-connect", {"code": 402, "expire": 3600, "ban_code": 101}, "banned the account temporarily"),
    "stream_replaced": ("/stream-replaced", None, "another program connected with this session"),
}


@pytest.mark.parametrize("state", sorted(FINAL_FAILURES))
def test_a_final_failure_shows_its_state_and_advice(world, state):
    fake, daemon = world
    path, body, advice = FINAL_FAILURES[state]
    fake.ok("POST", path, body)

    seen = []

    def shown():
        try:
            seen.append(daemon.status()["connection"])
            return seen[-1]["state"] == state
        except OSError:  # it stopped, as it should: the log has the last word
            return daemon.process.poll() is not None

    daemon.wait_until(shown, f"the state is {state}")
    if seen and seen[-1]["state"] == state:
        assert advice in seen[-1]["detail"], seen[-1]
    assert daemon.process.wait(timeout=60) is not None
    assert advice in daemon.log()


@pytest.mark.parametrize("state", sorted(FINAL_FAILURES))
def test_a_final_failure_stops_serve_with_a_documented_status(world, state):
    fake, daemon = world
    path, body, _ = FINAL_FAILURES[state]
    fake.ok("POST", path, body)
    code = daemon.process.wait(timeout=60)
    assert code not in (0, 1, 10)
    readme = (ROOT / "README.md").read_text()
    assert f"{code} when" in readme


def test_a_refusal_the_client_does_not_retry_gets_a_new_client_and_messages_flow_again(world):
    fake, daemon = world
    fake.ok("POST", "/fail-next-connect", {"code": 418})
    daemon.wait_until(lambda: fake.state()["connections"] >= 3, "a new client connected after the refusal")
    daemon.wait_until(lambda: daemon.status()["connection"]["state"] == "connected", "connected again")
    after = fake.incoming(**{"from": ALICE, "text": "still there?"})
    assert arrives(daemon, after)[0] == "still there?"
    assert daemon.process.poll() is None


def test_a_refusal_that_keeps_coming_stops_serve_with_status_14_and_says_so(world):
    fake, daemon = world
    fake.ok("POST", "/fail-next-connect", {"code": 400, "times": 10})
    assert daemon.process.wait(timeout=120) == 14
    log = daemon.log()
    assert "WhatsApp refused the connection (400 bad request)" in log
    assert "14 when" in (ROOT / "README.md").read_text()


# --- The test-server build stays out of releases ---------------------------------------------------

def test_the_default_binary_ignores_the_test_server_variable(tmp_path):
    fake = FakeWA(tmp_path / "fakewa").start()
    try:
        result = subprocess.run([WAMCP, "--data-dir", str(tmp_path / "data"), "login", "--timeout", "5"],
                                capture_output=True, text=True, env=fake.environment(), timeout=60)
        assert result.returncode in (1, 2), result.stderr  # no network here: 1; with one: timed out, 2
        assert fake.state()["connections"] == 0
    finally:
        fake.stop()


def test_a_release_build_has_no_test_server_feature():
    # cargo tree has no profile: a release build resolves the same features as this. Inverted on
    # wacore-noise, where the certificate check lives, every feature reaching it is listed.
    def features(*extra):
        tree = subprocess.run(["cargo", "tree", "-p", "wamcp", "-e", "features", "-i", "wacore-noise", "--locked",
                               *extra],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert tree.returncode == 0, tree.stderr
        return tree.stdout

    release = features()
    assert "danger-skip" not in release and "test-server" not in release
    assert "danger-skip-cert-chain-verify" in features("--features", "test-server")  # the check can see it


# --- the user's consent on the phone -----------------------------------------------------------

def test_under_confirm_via_whatsapp_the_owner_answers_from_the_phone(world):
    """The question reaches the account's phone in its own chat; the owner's "yes" from the
    phone, over the real protocol, sends; a thumbs-down reaction does not."""
    import anyio

    from conftest import mcp_session

    fake, daemon = world

    def questions():
        return [m for m in fake.received("message") if "wamcp asks" in str(m.get("proto"))]

    async def send_and_answer(session, text, answer):
        asked = len(questions())
        result = {}
        async with anyio.create_task_group() as tasks:
            async def send():
                result["value"] = await session.call_tool("send_message", {"recipient": ALICE, "message": text})

            tasks.start_soon(send)
            await anyio.to_thread.run_sync(lambda: wait_until(lambda: len(questions()) > asked, "the phone is asked"))
            question = questions()[-1]
            assert text in str(question["proto"]), question
            await anyio.to_thread.run_sync(lambda: fake.ok("POST", "/phone/own-chat", answer(question)))
        return result["value"]

    async def go():
        async with mcp_session("--data-dir", str(daemon.data_dir), "mcp", "--listen", f"127.0.0.1:{daemon.port}",
                               "--send-policy", "confirm", "--confirm-via", "whatsapp") as session:
            yes = await send_and_answer(session, "confirmed on the phone", lambda q: {"text": "yes"})
            no = await send_and_answer(session, "refused on the phone",
                                       lambda q: {"reaction": {"id": q["id"], "emoji": "👎"}})
            return yes, no

    yes, no = anyio.run(go)
    assert yes.is_error is not True and yes.structured_content["status"] in ("pending", "sent"), yes.content
    assert no.structured_content["status"] == "declined", no.content
    wait_until(lambda: any("confirmed on the phone" in str(m.get("proto")) for m in fake.received("message")
                           if m["id"] == yes.structured_content["id"]), "Alice has the confirmed message")
    assert not any("refused on the phone" in str(m.get("proto")) and "wamcp asks" not in str(m.get("proto"))
                   for m in fake.received("message"))
