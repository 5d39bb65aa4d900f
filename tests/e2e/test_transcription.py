"""Voice notes transcribed through an OpenAI-compatible endpoint (a local stand-in that checks each
request as whisper servers read it): automatically as they arrive, on demand through the REST API
and the MCP tool, through failures and kill -9, and found by search once transcribed."""

import anyio
import pytest

from conftest import mcp_session, run
from daemon import Daemon, running
from test_daemon import Receiver
from stand_ins import Transcriptions

ALICE = "447700900123@s.whatsapp.net"
TRANSCRIBED = "SELECT transcript FROM messages WHERE id = ?"


@pytest.fixture
def whisper():
    stand_in = Transcriptions()
    yield stand_in
    stand_in.close()


def flags(whisper, *more):
    return ("--transcription-url", whisper.url, "--transcription-model", "base.en", *more)


def mcp_calls(daemon, calls):
    async def go():
        async with mcp_session("--data-dir", str(daemon.data_dir), "mcp", "--listen",
                               f"127.0.0.1:{daemon.port}") as session:
            return [await session.call_tool(tool, arguments) for tool, arguments in calls]

    return anyio.run(go)


def voice_note(daemon):
    answer = daemon.incoming(**{"from": ALICE, "media": {"kind": "voice"}})
    daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE id = ?", answer["id"]) == [(1,)],
                      "the voice note is stored")
    return answer["id"]


def transcript_of(daemon, message_id):
    rows = daemon.query(TRANSCRIBED, message_id)
    return rows[0][0] if rows else None


def test_a_voice_note_is_transcribed_as_it_arrives_and_found_by_search(tmp_path, whisper):
    receiver = Receiver()
    env = {"WAMCP_TRANSCRIPTION_API_KEY": "sk-local-test"}
    with running(tmp_path / "data", *flags(whisper), "--webhook", receiver.url, env=env) as daemon:
        daemon.history_synced()
        note = voice_note(daemon)
        daemon.wait_until(lambda: transcript_of(daemon, note) is not None, "the transcript is stored")
        assert transcript_of(daemon, note) == whisper.transcript

        form, = whisper.forms
        assert form["path"] == "/v1/audio/transcriptions"
        assert form["authorization"] == "Bearer sk-local-test"
        file_name, content_type, audio = form["file"]
        assert (file_name, content_type) == ("voice.ogg", "audio/ogg")
        assert audio.startswith(b"OggS") and b"OpusHead" in audio[:64], "the voice note itself, Ogg/Opus"
        assert form["model"][2] == b"base.en" and form["response_format"][2] == b"json"

        found, = mcp_calls(daemon, [("list_messages", {"query": "zanzibar", "include_context": False})])
        text = found.content[0].text
        assert f'#{note} [voice 0:03, transcribed]: "{whisper.transcript}"' in text, text
        hit, = found.structured_content["messages"]
        assert hit["id"] == note and hit["transcript"] == whisper.transcript

        # Programs hear of it: a transcript event, after the message's own.
        def heard():
            import json
            events = [json.loads(body) for _, body in receiver.deliveries]
            return [e for e in events if e["type"] == "transcript" and e["id"] == note]
        daemon.wait_until(heard, "the webhook receives the transcript event")
        assert heard()[0]["transcript"] == whisper.transcript and heard()[0]["chat_jid"] == ALICE
    receiver.server.shutdown()


def test_a_voice_note_saved_encrypted_is_transcribed_from_its_plain_audio(tmp_path, whisper):
    from test_at_rest import new_key

    env = {"WAMCP_KEY_FILE": str(new_key(tmp_path))}
    with running(tmp_path / "data", *flags(whisper), "--encrypt-media", env=env) as daemon:
        daemon.history_synced()
        note = voice_note(daemon)
        daemon.wait_until(lambda: transcript_of(daemon, note) is not None, "transcribed")
        (saved,) = daemon.query("SELECT local_path FROM messages WHERE id = ?", note)[0]
        assert (daemon.data_dir / saved).read_bytes().startswith(b"age-encryption.org/v1"), "sealed on disk"
        assert whisper.forms[0]["file"][2].startswith(b"OggS"), "the endpoint hears the voice note itself"


def test_a_failing_endpoint_is_retried_and_the_note_transcribed_once(tmp_path, whisper):
    whisper.fail_next = 2
    with running(tmp_path / "data", *flags(whisper)) as daemon:
        daemon.history_synced()
        note = voice_note(daemon)
        daemon.wait_until(lambda: transcript_of(daemon, note) is not None, "transcribed after two failures")
        assert len(whisper.forms) == 3
        assert daemon.query("SELECT count(*) FROM transcription_queue") == [(0,)]


def test_a_kill_during_transcription_loses_nothing(tmp_path, whisper):
    whisper.hold.clear()
    daemon = Daemon(tmp_path / "data", *flags(whisper)).start()
    daemon.history_synced()
    note = voice_note(daemon)
    assert whisper.arrived.wait(60), "the endpoint is asked"
    daemon.kill()
    whisper.hold.set()
    assert daemon.query("SELECT message_id FROM transcription_queue") == [(note,)]
    with running(tmp_path / "data", *flags(whisper)) as again:
        again.wait_until(lambda: transcript_of(again, note) is not None, "transcribed after the restart")
        assert daemon.query("SELECT count(*) FROM transcription_queue") == [(0,)]


def test_transcripts_on_demand_through_the_api_and_the_tool(tmp_path, whisper):
    with running(tmp_path / "data", *flags(whisper, "--transcription-auto", "none")) as daemon:
        daemon.history_synced()
        note = voice_note(daemon)
        assert daemon.query("SELECT count(*) FROM transcription_queue") == [(0,)], "none is transcribed unasked"

        answer = daemon.ok("POST", "/api/transcribe", {"message_id": note, "chat_jid": ALICE})
        assert answer["state"] == "done" and answer["transcript"] == whisper.transcript, answer
        again = daemon.ok("POST", "/api/transcribe", {"message_id": note, "chat_jid": ALICE})
        assert again["transcript"] == whisper.transcript and len(whisper.forms) == 1, "stored, not asked again"

        photo = daemon.incoming(**{"from": ALICE, "media": {"kind": "image"}})
        daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE id = ?", photo["id"]) == [(1,)],
                          "the photo is stored")
        status, refused = daemon.request("POST", "/api/transcribe", {"message_id": photo["id"], "chat_jid": ALICE})
        assert status == 400 and "only voice notes, audio and video" in refused["message"], refused
        status, missing = daemon.request("POST", "/api/transcribe", {"message_id": "NOPE", "chat_jid": ALICE})
        assert status == 404, missing

        second = voice_note(daemon)
        result, = mcp_calls(daemon, [("transcribe_message", {"message_id": second, "chat_jid": ALICE})])
        assert not result.is_error, result
        assert result.structured_content["state"] == "done"
        text = result.content[0].text
        # What was said is the sender's words: inside the fence, under the note that says so.
        assert text.startswith("Note: text between ⟦msg-") and f"⟧{whisper.transcript}⟦/msg-" in text, text


def test_without_an_endpoint_transcription_says_how_to_turn_it_on(tmp_path):
    with running(tmp_path / "data") as daemon:
        daemon.history_synced()
        note = voice_note(daemon)
        status, answer = daemon.request("POST", "/api/transcribe", {"message_id": note, "chat_jid": ALICE})
        assert status == 503 and "--transcription-url" in answer["message"], answer


def test_bad_transcription_settings_are_refused_before_anything_starts(tmp_path):
    refused = run("--data-dir", str(tmp_path / "data"), "demo", "--transcription-url", "ftp://x")
    assert refused.returncode != 0
    assert "transcription.url: 'ftp://x' is not an http:// or https:// URL" in refused.stderr
    refused = run("--data-dir", str(tmp_path / "data"), "demo", "--transcription-url", "http://127.0.0.1:9",
                  "--transcription-auto", "image")
    assert refused.returncode != 0 and "'image' has no sound to transcribe" in refused.stderr


STRANGER = "64215551234@s.whatsapp.net"  # nobody the sample account knows: a customer of the desk


def desk_replies(daemon):
    return [m["text"] for m in daemon.sent() if m["chat"] == STRANGER]


def inbound_bodies(daemon):
    customer = daemon.ok("GET", "/customers/lookup?phone=%2B64215551234")
    return [m["body"] for m in customer["history"] if m["direction"] == "inbound"], customer


def test_the_desk_answers_a_voice_note_from_its_transcript(tmp_path):
    whisper = Transcriptions(transcript="How do I reset my password?")
    try:
        with running(tmp_path / "data", "--desk", *flags(whisper)) as desk:
            desk.incoming(**{"from": STRANGER, "media": {"kind": "voice"}})
            desk.wait_until(lambda: desk_replies(desk), "the desk answers the voice note")
            assert "Forgot password" in desk_replies(desk)[0], desk_replies(desk)
            bodies, _ = inbound_bodies(desk)
            assert bodies == ["How do I reset my password?"], "the desk took the transcript, once"
    finally:
        whisper.close()


def test_a_voice_note_the_desk_cannot_hear_goes_to_a_person(tmp_path):
    with running(tmp_path / "data", "--desk") as desk:
        desk.incoming(**{"from": STRANGER, "media": {"kind": "voice"}})
        desk.wait_until(lambda: desk_replies(desk), "the desk tells the customer a person will reply")
        assert "a person will reply" in desk_replies(desk)[0]
        bodies, customer = inbound_bodies(desk)
        assert bodies == ["[voice]"]
        ticket = desk.ok("GET", f"/support/ticket/{customer['tickets'][0]['ticket_id']}")
        assert (ticket["status"], ticket["escalation_reason"]) == ("escalated", "no_words"), ticket


def test_on_fakewa_a_contacts_voice_note_is_fetched_decrypted_and_transcribed(tmp_path, whisper):
    """The real client: the voice note comes over the real protocol, its audio from fakewa's media
    host with WhatsApp's media encryption, and what reaches the endpoint is the file recorded."""
    import hashlib

    from conftest import ROOT
    from fakewa import linked

    recorded = ROOT / "crates" / "link" / "src" / "sim" / "media" / "voice.ogg"
    with linked(tmp_path, *flags(whisper)) as (fake, daemon):
        sent = fake.incoming(**{"from": "447700900123", "voice": {"path": str(recorded), "seconds": 3}})
        daemon.wait_until(lambda: transcript_of(daemon, sent) is not None, "the voice note is transcribed")
        assert daemon.query("SELECT kind, media_seconds FROM messages WHERE id = ?", sent) == [("voice", 3)]
        assert transcript_of(daemon, sent) == whisper.transcript
        _, content_type, audio = whisper.forms[-1]["file"]
        assert content_type == "audio/ogg"
        assert hashlib.sha256(audio).digest() == hashlib.sha256(recorded.read_bytes()).digest()
