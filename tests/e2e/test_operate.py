"""Operating wamcp: backups taken while the daemon writes, restores, erasing a person, the doctor,
private logs, shell completions and the manual page."""

import contextlib
import json
import os
import re
import subprocess
import threading

import pytest

import wamcp_db
from conftest import WAMCP, run
from daemon import Daemon, running

ALICE = "447700900123@s.whatsapp.net"
CUSTOMER = "923001234567@s.whatsapp.net"


def wamcp(data_dir, *args, env=None):
    return subprocess.run([WAMCP, "--data-dir", str(data_dir), *args], capture_output=True, text=True,
                          timeout=300, env=None if env is None else dict(os.environ, **env))


def sealed(archive):
    """The options that seal (and open) `archive` with a passphrase kept beside it."""
    passphrase = archive.parent / "backup-passphrase"
    passphrase.write_text("a long passphrase for the tests\n")
    return ["--passphrase-file", str(passphrase)]


def store_query(data_dir, sql, *args):
    with contextlib.closing(wamcp_db.connect(data_dir / "wamcp.db", read_only=True)) as conn:
        return conn.execute(sql, args).fetchall()


# --- backup and restore ----------------------------------------------------------------------

def test_a_backup_taken_while_sends_are_stored_restores_every_acknowledged_one(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
        acknowledged, stop = [], threading.Event()

        def keep_sending():
            n = 0
            while not stop.is_set():
                acknowledged.append(daemon.send(ALICE, f"during the backup {n}")["id"])
                n += 1

        writer = threading.Thread(target=keep_sending)
        writer.start()
        try:
            daemon.wait_until(lambda: len(acknowledged) >= 20, "20 sends are acknowledged")
            before_backup = list(acknowledged)
            result = wamcp(data, "backup", str(tmp_path / "backup.tar"), *sealed(tmp_path / "backup.tar"))
            during_backup = len(acknowledged) - len(before_backup)
        finally:
            stop.set()
            writer.join()
        assert result.returncode == 0, result.stderr
        assert during_backup > 0, "the daemon kept writing while the backup ran"
    assert oct(os.stat(tmp_path / "backup.tar").st_mode & 0o777) == "0o600", "it holds the session keys"

    restored = tmp_path / "restored"
    result = wamcp(restored, "restore", str(tmp_path / "backup.tar"), *sealed(tmp_path / "backup.tar"))
    assert result.returncode == 0, result.stderr
    assert store_query(restored, "PRAGMA integrity_check") == [("ok",)]
    # The full-text index agrees with the messages it indexes.
    with contextlib.closing(wamcp_db.connect(restored / "wamcp.db")) as conn:
        conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
    ids = {row[0] for row in store_query(restored, "SELECT id FROM messages WHERE text LIKE 'during the backup %'")}
    missing = [i for i in before_backup if i not in ids]
    assert not missing, f"{len(missing)} acknowledged sends are missing from the backup"
    assert (restored / "api-token").read_text() == (data / "api-token").read_text()

    with running(restored) as daemon:
        assert daemon.status()["connection"]["state"] == "connected"
        assert daemon.query("SELECT count(*) FROM messages WHERE id = ?", before_backup[0]) == [(1,)]


def test_a_backup_with_media_brings_the_attachment_files_back(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
        photo = daemon.query("SELECT id, chat_jid FROM messages WHERE file_name = 'sposi.jpg'")[0]
        saved = daemon.ok("POST", "/api/download", {"message_id": photo[0], "chat_jid": photo[1]})["path"]
        with_media = tmp_path / "with-media.tar"
        assert wamcp(data, "backup", str(with_media), *sealed(with_media), "--media").returncode == 0
        assert wamcp(data, "backup", str(tmp_path / "without.tar"), *sealed(tmp_path / "without.tar")).returncode == 0
    relative = os.path.relpath(saved, data)
    for archive, has_media in (("with-media.tar", True), ("without.tar", False)):
        restored = tmp_path / f"restored-{archive}"
        result = wamcp(restored, "restore", str(tmp_path / archive), *sealed(tmp_path / archive))
        assert result.returncode == 0, result.stderr
        assert (restored / relative).exists() == has_media
        if has_media:
            assert (restored / relative).read_bytes() == open(saved, "rb").read()
            assert "media/" in result.stdout


def test_backup_refuses_to_overwrite_a_file(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
    existing = tmp_path / "keep.tar"
    existing.write_text("something precious")
    result = wamcp(data, "backup", str(existing), *sealed(existing))
    assert result.returncode != 0 and "exists already" in result.stderr
    assert existing.read_text() == "something precious"


def test_restore_refuses_to_replace_a_running_daemons_data(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
        assert wamcp(data, "backup", str(tmp_path / "backup.tar"), *sealed(tmp_path / "backup.tar")).returncode == 0
        daemon.send(ALICE, "written after the backup")
        result = wamcp(data, "restore", str(tmp_path / "backup.tar"), *sealed(tmp_path / "backup.tar"))
        assert result.returncode != 0
        assert "`wamcp demo` is running" in result.stderr and "end it first" in result.stderr
        assert "wamcp serve" not in result.stderr and "nothing was changed" in result.stderr
        assert daemon.query("SELECT count(*) FROM messages WHERE text = 'written after the backup'") == [(1,)]
    # Stopped, the restore goes through and keeps what it replaced aside.
    result = wamcp(data, "restore", str(tmp_path / "backup.tar"), *sealed(tmp_path / "backup.tar"))
    assert result.returncode == 0, result.stderr
    assert store_query(data, "SELECT count(*) FROM messages WHERE text = 'written after the backup'") == [(0,)]
    aside = [p for p in data.iterdir() if p.name.startswith("replaced-")]
    assert len(aside) == 1 and (aside[0] / "wamcp.db").exists()


def test_a_damaged_or_foreign_archive_is_refused_and_changes_nothing(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
    # A plain archive, so that the test can take it apart.
    assert wamcp(data, "backup", str(tmp_path / "backup.tar"), "--unencrypted").returncode == 0
    before = (data / "wamcp.db").read_bytes()

    not_tar = tmp_path / "notes.tar"
    not_tar.write_text("just some text")
    result = wamcp(data, "restore", str(not_tar), *sealed(not_tar))
    assert result.returncode != 0 and "not a backup" in result.stderr and "nothing was changed" in result.stderr

    # A backup whose store was damaged on the way.
    import tarfile
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(tmp_path / "backup.tar") as good, tarfile.open(damaged, "w") as bad:
        for member in good.getmembers():
            content = good.extractfile(member).read()
            if member.name == "wamcp.db":
                content = content[:8192] + b"\xff" * 8192 * 4 + content[8192 * 5:]
            member.size = len(content)
            import io
            bad.addfile(member, io.BytesIO(content))
    result = wamcp(data, "restore", str(damaged), *sealed(damaged))
    assert result.returncode != 0 and "damaged" in result.stderr, result.stderr
    assert (data / "wamcp.db").read_bytes() == before
    assert not [p for p in data.iterdir() if p.name.startswith("replaced-")]


# --- forget ----------------------------------------------------------------------------------

def test_forget_erases_a_persons_messages_files_contact_and_desk_records(tmp_path):
    data = tmp_path / "data"
    with running(data, "--desk") as daemon:
        daemon.history_synced()
        daemon.incoming(**{"from": CUSTOMER, "text": "When will my order ship?", "push_name": "Ann"})
        photo = daemon.incoming(**{"from": CUSTOMER, "media": {"kind": "image", "caption": "the broken box"}})
        daemon.wait_until(lambda: any(m["chat"] == CUSTOMER for m in daemon.sent()), "the desk answered")
        daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE id = ?", photo["id"]) == [(1,)],
                          "the photo is stored")
        saved = daemon.ok("POST", "/api/download", {"message_id": photo["id"], "chat_jid": CUSTOMER})["path"]
        alice_before = daemon.query("SELECT count(*) FROM messages WHERE chat_jid = ?", ALICE)[0][0]

        # While the daemon runs, the erase goes through it (its one writer), found by its lock file.
        result = wamcp(data, "forget", "--yes", "+92 300 1234567")
        assert result.returncode == 0, result.stderr
        assert daemon.query("SELECT count(*) FROM messages WHERE chat_jid = ? OR sender_jid = ?",
                            CUSTOMER, CUSTOMER) == [(0,)]
        assert daemon.query("SELECT count(*) FROM contacts WHERE jid = ?", CUSTOMER) == [(0,)]
        assert daemon.query("SELECT count(*) FROM chats WHERE jid = ?", CUSTOMER) == [(0,)]
        assert daemon.query("SELECT count(*) FROM messages WHERE chat_jid = ?", ALICE) == [(alice_before,)]
        status, _ = daemon.request("GET", "/customers/lookup?phone=%2B923001234567")
        assert status == 404
    assert not os.path.exists(saved)
    lines = result.stdout.splitlines()
    assert lines[0] == f"About to erase everything stored about {CUSTOMER}:"
    done = lines.index(f"forgot {CUSTOMER}")
    assert lines[1:done] == lines[done + 1:], "what it said it would erase is what it erased"
    assert lines[done + 1].startswith("  store: ") and "0 messages" not in lines[done + 1]
    assert lines[done + 2] == "  attachments: 1 file"
    assert lines[done + 3].startswith("  desk: 1 customer, ")


def test_forget_with_the_daemon_stopped_opens_the_store_itself(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
    alice = store_query(data, "SELECT count(*) FROM messages WHERE chat_jid = ? OR sender_jid = ?", ALICE, ALICE)[0][0]
    assert alice > 0
    result = wamcp(data, "forget", "--yes", ALICE)
    assert result.returncode == 0, result.stderr
    assert f"  store: {alice} messages, 1 chat, 1 contact entry" in result.stdout
    assert store_query(data, "SELECT count(*) FROM messages WHERE chat_jid = ? OR sender_jid = ?", ALICE, ALICE) == [(0,)]


def test_forget_shows_what_it_would_erase_and_a_dry_run_changes_nothing(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
    before = store_query(data, "SELECT count(*) FROM messages")
    alice = store_query(data, "SELECT count(*) FROM messages WHERE chat_jid = ? OR sender_jid = ?", ALICE, ALICE)[0][0]
    result = wamcp(data, "forget", "--dry-run", ALICE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"Would erase everything stored about {ALICE}:"
    assert f"  store: {alice} messages, 1 chat, 1 contact entry" in result.stdout
    assert "nothing was changed" in result.stdout
    assert store_query(data, "SELECT count(*) FROM messages") == before


def test_forget_without_a_terminal_or_yes_refuses_and_changes_nothing(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
    before = store_query(data, "SELECT count(*) FROM messages")
    result = subprocess.run([WAMCP, "--data-dir", str(data), "forget", ALICE], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--yes" in result.stderr and "nothing was changed" in result.stderr
    assert store_query(data, "SELECT count(*) FROM messages") == before


def forget_on_a_terminal(data, answer):
    """Runs `forget ALICE` with a terminal as its input, answering the question with `answer`."""
    import pty
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen([WAMCP, "--data-dir", str(data), "forget", ALICE], stdin=terminal,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(controller, answer.encode() + b"\n")
        out, err = process.communicate(timeout=60)
        return process.returncode, out, err
    finally:
        os.close(controller)
        os.close(terminal)


def test_forget_on_a_terminal_asks_and_erases_only_on_yes(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
    before = store_query(data, "SELECT count(*) FROM messages")
    code, out, err = forget_on_a_terminal(data, "n")
    assert code != 0 and "[y/N]" in err and "nothing was changed" in err
    assert store_query(data, "SELECT count(*) FROM messages") == before
    code, out, err = forget_on_a_terminal(data, "y")
    assert code == 0, err
    assert f"forgot {ALICE}" in out
    assert store_query(data, "SELECT count(*) FROM messages WHERE chat_jid = ? OR sender_jid = ?", ALICE, ALICE) == [(0,)]
    # A second run finds nothing, and says so rather than "forgot" with zeros.
    result = wamcp(data, "forget", "--yes", ALICE)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"nothing stored for {ALICE}: nothing was changed\n"


def test_forget_refuses_what_is_not_a_person(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
    before = store_query(data, "SELECT count(*) FROM messages")
    result = wamcp(data, "forget", "120363000000000001@g.us")
    assert result.returncode != 0
    assert "is not a person" in result.stderr and "phone number" in result.stderr
    assert store_query(data, "SELECT count(*) FROM messages") == before


# --- doctor ----------------------------------------------------------------------------------

@pytest.fixture
def healthy(tmp_path):
    data = tmp_path / "data"
    with running(data) as daemon:
        daemon.history_synced()
    return data


def findings(output):
    """The doctor's lines as {check: (level, detail, advice)} (the first line of each check)."""
    found, last = {}, None
    for line in output.splitlines()[1:]:
        level, _, rest = line.strip().partition(" ")
        if level in ("ok", "warn", "FAIL"):
            check, detail = rest.strip().split("  ", 1) if "  " in rest.strip() else (rest.strip(), "")
            last = check
            found.setdefault(check, (level, detail.strip(), None))
        elif level == "→" and last:
            level_, detail, _ = found[last]
            found[last] = (level_, detail, rest.strip())
    return found


def test_doctor_passes_on_a_healthy_data_dir_and_sees_the_running_daemon(healthy):
    with running(healthy):
        # The daemon listens on a port of its own: doctor finds it through the data directory.
        result = wamcp(healthy, "doctor")
    assert result.returncode == 0, result.stdout
    found = findings(result.stdout)
    assert found["daemon"][0] == "ok" and "connected as" in found["daemon"][1]
    assert found["migrations"][0] == "ok"
    assert found["data dir"][0] == "ok"
    # The demo needs no WhatsApp session: no warning about one beside "connected".
    assert found["session"][0] == "ok" and "simulated network" in found["session"][1]


def test_doctor_on_an_empty_directory_says_to_link_an_account_first(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o700)
    found = findings(wamcp(empty, "doctor", env={"WAMCP_LISTEN": "127.0.0.1:9"}).stdout)
    level, detail, advice = found["store"]
    assert level == "warn" and detail == "no store yet"
    assert advice.index("wamcp login") < advice.index("wamcp serve"), advice


def test_doctor_reports_a_data_dir_others_can_read(healthy):
    os.chmod(healthy, 0o755)
    result = wamcp(healthy, "doctor")
    assert result.returncode == 1
    level, detail, advice = findings(result.stdout)["data dir"]
    assert level == "FAIL" and "0755" in detail
    assert advice == f"chmod 700 {healthy}"


def test_doctor_warns_that_voice_notes_need_ffmpeg(healthy):
    result = wamcp(healthy, "doctor", env={"PATH": "/nonexistent"})
    level, detail, advice = findings(result.stdout)["ffmpeg"]
    assert level == "warn" and "voice notes cannot be sent" in detail
    assert "install ffmpeg" in advice
    assert result.returncode == 0, "a missing ffmpeg is a warning, not a failure"


def test_doctor_reports_a_corrupted_store_with_how_to_restore(healthy):
    with open(healthy / "wamcp.db", "r+b") as store:
        store.seek(8192 * 2)
        store.write(b"\x00\xff" * 8192 * 3)
    result = wamcp(healthy, "doctor")
    assert result.returncode == 1
    level, detail, advice = findings(result.stdout)["integrity"]
    assert level == "FAIL" and "wamcp.db" in detail and ("damaged" in detail or "cannot be read" in detail)
    assert "wamcp restore" in advice


def test_doctor_warns_about_a_session_idle_for_18_days(healthy):
    session = healthy / "whatsapp-session.db"
    wamcp_db.connect(session).execute("CREATE TABLE t (x)").connection.close()
    os.chmod(session, 0o600)
    nineteen_days_ago = os.stat(session).st_mtime - 19 * 86400
    os.utime(session, (nineteen_days_ago, nineteen_days_ago))
    level, detail, advice = findings(wamcp(healthy, "doctor").stdout)["session"]
    assert level == "warn" and "19 days ago" in detail and "20 days" in detail
    assert "wamcp login" in advice


# --- logs ------------------------------------------------------------------------------------

# A log record in the text format: time, level.
TEXT_RECORD = re.compile(r"^\d{4}-\d\d-\d\dT\S+\s+(TRACE|DEBUG|INFO|WARN|ERROR)\b")


def log_of(tmp_path, *flags):
    """The daemon's log after a message arrives, at debug level, with `flags`."""
    data = tmp_path / "data"
    daemon = Daemon(data, *flags, env={"WAMCP_LOG": "debug,h2=info,hyper=info,rustls=info"})
    daemon.start()
    try:
        daemon.incoming(**{"from": "+44 7700 900987", "text": "the secret pineapple recipe"})
        daemon.wait_until(
            lambda: daemon.query("SELECT count(*) FROM messages WHERE text = 'the secret pineapple recipe'") == [(1,)],
            "stored")
    finally:
        daemon.stop()
    return (tmp_path / f"daemon-{daemon.port}.log").read_text()


def test_logs_show_no_message_text_and_only_the_last_digits_of_numbers(tmp_path):
    log = log_of(tmp_path)
    assert any(TEXT_RECORD.match(line) for line in log.splitlines()), "text records, without terminal colours"
    assert "received: [27 characters]" in log
    assert "pineapple" not in log
    assert "447700900987" not in log
    assert "…0987@s.whatsapp.net" in log


def test_log_content_shows_them_for_debugging(tmp_path):
    log = log_of(tmp_path, "--log-content")
    assert "received: the secret pineapple recipe" in log
    assert "447700900987@s.whatsapp.net" in log


def test_json_logs_are_one_object_a_line(tmp_path):
    log = log_of(tmp_path, "--log-format", "json")
    # The demo's greeting is printed for people, not logged; every log record is a JSON line.
    text_records = [line for line in log.splitlines() if TEXT_RECORD.match(line)]
    assert not text_records, text_records[:3]
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert len(records) > 3
    assert all({"timestamp", "level", "fields"} <= set(r) for r in records)
    assert any(r["fields"].get("message") == "received: [27 characters]" for r in records)
    assert "pineapple" not in log


# --- completions and the manual --------------------------------------------------------------

@pytest.mark.parametrize("shell,syntax_check", [
    ("bash", ["bash", "-n"]),
    ("zsh", None),
    ("fish", None),
])
def test_completions_cover_every_command(tmp_path, shell, syntax_check):
    result = run("completions", shell)
    assert result.returncode == 0, result.stderr
    for command in ("serve", "mcp", "doctor", "backup", "restore", "forget", "desk", "completions"):
        assert command in result.stdout, f"{command} is missing from the {shell} completions"
    if syntax_check:
        script = tmp_path / f"wamcp.{shell}"
        script.write_text(result.stdout)
        check = subprocess.run([*syntax_check, str(script)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def test_the_man_page_is_roff_naming_every_command():
    result = run("man")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(".ie \\n(.g .ds Aq") or ".TH wamcp" in result.stdout
    assert ".TH wamcp 1" in result.stdout
    for command in ("wamcp\\-doctor", "wamcp\\-backup", "wamcp\\-forget"):
        assert command in result.stdout, command


def test_an_unknown_shell_is_refused_with_the_accepted_ones():
    result = run("completions", "tcsh")
    assert result.returncode != 0
    assert "bash" in result.stderr and "zsh" in result.stderr and "fish" in result.stderr
