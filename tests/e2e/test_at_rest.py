"""Encryption at rest: with a key, no database, log or backup says anything to whoever copies it;
a wrong or missing key is refused and changes nothing; `wamcp encrypt` converts a data directory
all or nothing, even when killed part-way; sealed backups need their passphrase."""

import base64
import hashlib
import os
import pathlib
import secrets
import signal
import sqlite3
import subprocess
import tarfile
import time

import anyio
import pytest

import wamcp_db
from conftest import WAMCP, mcp_session
from daemon import running
from fakewa import linked

ALICE = "447700900123@s.whatsapp.net"
CUSTOMER = "923001234567@s.whatsapp.net"


def new_key(directory, name="wamcp.key", text=None):
    path = directory / name
    path.write_text((text or secrets.token_hex(32)) + "\n")
    path.chmod(0o600)
    return path


def wamcp(data_dir, *args, key=None, stdin=subprocess.DEVNULL):
    env = {k: v for k, v in os.environ.items() if k != "WAMCP_KEY_FILE"}
    if key:
        env["WAMCP_KEY_FILE"] = str(key)
    return subprocess.run([WAMCP, "--data-dir", str(data_dir), *args], capture_output=True, text=True,
                          timeout=300, env=env, stdin=stdin)


def database_files(data_dir):
    """Every SQLite file and log in the data directory."""
    return sorted(p for p in data_dir.iterdir() if p.is_file() and ".db" in p.name)


def checksums(data_dir):
    """Every file's checksum but the lock's, which says who last took it."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(data_dir.rglob("*"))
            if p.is_file() and p.name != "daemon.lock"}


def plain_sqlite_cannot_read(path):
    with pytest.raises(sqlite3.DatabaseError):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return True


@pytest.fixture
def key(tmp_path, monkeypatch):
    """A key for this test's wamcp processes and the test's own reads."""
    path = new_key(tmp_path)
    monkeypatch.setenv("WAMCP_KEY_FILE", str(path))
    return path


def test_with_a_key_no_database_log_or_backup_holds_a_message_a_name_or_a_number(tmp_path, key):
    data = tmp_path / "data"
    with running(data, "--desk") as daemon:
        daemon.history_synced()
        daemon.incoming(**{"from": CUSTOMER, "text": "My order 88123 never came, Zelda Quartz", "push_name": "Zelda Q"})
        daemon.wait_until(lambda: any(m["chat"] == CUSTOMER for m in daemon.sent()), "the desk answered")
        texts = [t for (t,) in daemon.query("SELECT text FROM messages WHERE length(text) >= 12")]
        names = [n for (n,) in daemon.query("SELECT display_name FROM contacts WHERE length(display_name) >= 5")]
        numbers = [j.split("@")[0] for (j,) in daemon.query("SELECT jid FROM chats WHERE jid LIKE '%@s.whatsapp.net'")]
        assert len(texts) > 10 and "Alice Smith" in names and "923001234567" in numbers
        archive = tmp_path / "backup.tar"
        passphrase = new_key(tmp_path, "passphrase", "a long passphrase for the tests")
        assert wamcp(data, "backup", str(archive), "--passphrase-file", str(passphrase), key=key).returncode == 0
        # Looked at while the daemon runs: the logs hold the newest commits.
        files = database_files(data) + [archive]
        assert {"wamcp.db", "wamcp.db-wal", "desk.db", "desk.db-wal"} <= {p.name for p in files}
        needles = [s.encode() for s in texts[:200] + names + numbers + ["88123 never came"]]
        for path in files:
            content = path.read_bytes()
            shown = [n.decode() for n in needles if n in content]
            assert not shown, f"{path.name} shows {shown[:3]}"
        for path in database_files(data):
            if path.name.endswith(".db"):
                assert plain_sqlite_cannot_read(path)
        tar_error = pytest.raises(tarfile.ReadError)
        with tar_error:
            tarfile.open(archive).getmembers()


def test_the_whatsapp_session_is_encrypted_on_the_real_protocol(tmp_path, key):
    with linked(tmp_path) as (fake, daemon):
        sent = fake.incoming(**{"from": "447700900456", "text": "the session holds my keys"})
        daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE id = ?", sent) == [(1,)],
                          "the message is stored")
        session = tmp_path / "data" / "whatsapp-session.db"
        assert plain_sqlite_cannot_read(session)
        with wamcp_db.connect(session, read_only=True) as conn:
            assert conn.execute("SELECT count(*) FROM device").fetchone()[0] == 1


def test_with_encrypt_media_attachments_are_sealed_and_download_media_hands_out_a_plain_copy_it_removes(
        tmp_path, key, monkeypatch):
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    photo = tmp_path / "beach.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"the beach at noon " * 500)
    with linked(tmp_path, "--encrypt-media") as (fake, daemon):
        sent = fake.incoming(**{"from": "447700900456", "image": {"path": str(photo), "caption": "the beach"}})
        chat = "447700900456@s.whatsapp.net"
        daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE id = ?", sent) == [(1,)],
                          "the photo is stored")

        async def go():
            async with mcp_session("--data-dir", str(daemon.data_dir), "mcp", "--listen",
                                   f"127.0.0.1:{daemon.port}") as session:
                download = await session.call_tool("download_media", {"chat_jid": chat, "message_id": sent})
                return download, await session.read_resource(f"whatsapp://media/{chat}/{sent}")

        download, read = anyio.run(go)
        assert download.is_error is not True, download.content[0].text
        copy = pathlib.Path(download.structured_content["file_path"])
        assert copy.read_bytes() == photo.read_bytes()
        assert copy.is_relative_to(run) and copy.name == f"{sent}.jpg"
        assert oct(copy.stat().st_mode & 0o777) == "0o600" and oct(copy.parent.parent.stat().st_mode & 0o777) == "0o700"
        [contents] = read.contents
        assert base64.b64decode(contents.blob) == photo.read_bytes()
        [(local_path,)] = daemon.query("SELECT local_path FROM messages WHERE id = ?", sent)
        saved = daemon.data_dir / local_path
        assert saved.read_bytes().startswith(b"age-encryption.org/v1\n") and b"the beach" not in saved.read_bytes()
        doctor = wamcp(daemon.data_dir, "doctor", key=key)
        assert "ok    media" in doctor.stdout and "1 attachment(s)" in doctor.stdout, doctor.stdout
    # Stopping the daemon removed the plain copy and its directory.
    assert not copy.exists() and list(run.iterdir()) == []

    data = tmp_path / "data"
    decrypted = wamcp(data, "decrypt", key=key)
    assert decrypted.returncode == 0, decrypted.stderr
    assert "1 attachment(s)" in decrypted.stdout and saved.read_bytes() == photo.read_bytes()
    # Encrypting again with --encrypt-media seals the attachments saved before.
    again = wamcp(data, "encrypt", "--encrypt-media", key=key)
    assert again.returncode == 0, again.stderr
    assert "1 attachment(s)" in again.stdout and saved.read_bytes().startswith(b"age-encryption.org/v1\n")


def test_encrypt_media_without_a_key_is_refused_before_anything_is_written(tmp_path):
    data = tmp_path / "data"
    result = subprocess.run([WAMCP, "--data-dir", str(data), "demo", "--encrypt-media", "--chatter", "0",
                             "--listen", "127.0.0.1:0"],
                            capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if k != "WAMCP_KEY_FILE"})
    assert result.returncode != 0 and "encrypt_media needs the databases encrypted too" in result.stderr, result.stderr
    assert not (data / "wamcp.db").exists() and not (data / "media").exists()


def test_encrypt_media_with_no_serve_is_refused_as_it_seals_nothing(tmp_path):
    data = tmp_path / "data"
    result = subprocess.run([WAMCP, "--data-dir", str(data), "demo", "--encrypt-media", "--no-serve"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "--no-serve starts no daemon" in result.stderr and "leave one of them out" in result.stderr
    assert not data.exists(), "nothing is written"


def test_a_missing_or_wrong_key_is_refused_saying_where_it_looked_and_changes_nothing(tmp_path, key):
    data = tmp_path / "data"
    with running(data, "--desk") as daemon:
        daemon.history_synced()
    before = checksums(data)

    missing = wamcp(data, "audit")
    assert missing.returncode == 1
    assert "is encrypted and no key was given" in missing.stderr
    assert "$CREDENTIALS_DIRECTORY/wamcp.key, --key-file, WAMCP_KEY_FILE" in missing.stderr

    wrong = new_key(tmp_path, "wrong.key")
    for command in (["audit"], ["backup", str(tmp_path / "b.tar"), "--unencrypted"], ["decrypt"]):
        result = wamcp(data, *command, key=wrong)
        assert result.returncode == 1, result
        assert f"the key from the key file {wrong} does not open" in result.stderr, result.stderr
    daemon_start = subprocess.run([WAMCP, "--data-dir", str(data), "demo", "--listen", "127.0.0.1:0"],
                                  capture_output=True, text=True, timeout=60,
                                  env={**os.environ, "WAMCP_KEY_FILE": str(wrong)})
    assert daemon_start.returncode != 0 and "does not open" in daemon_start.stderr
    assert checksums(data) == before, "nothing was written"
    assert not (tmp_path / "b.tar").exists()

    loose = new_key(tmp_path, "loose.key")
    loose.chmod(0o644)
    result = wamcp(data, "audit", key=loose)
    assert result.returncode == 1 and "may be read by others (mode 0644)" in result.stderr
    assert f"chmod 600 {loose}" in result.stderr


def test_encrypt_rekey_and_decrypt_convert_every_database_and_refuse_while_the_daemon_runs(tmp_path):
    data = tmp_path / "data"
    with running(data, "--desk", env={"WAMCP_KEY_FILE": None}) as daemon:
        daemon.history_synced()
        refused = wamcp(data, "encrypt", key=new_key(tmp_path, "early.key"))
        assert refused.returncode == 1 and "is running" in refused.stderr and "nothing was changed" in refused.stderr
        count = daemon.query("SELECT count(*) FROM messages")
    key = tmp_path / "fresh.key"
    result = wamcp(data, "encrypt", key=key)
    assert result.returncode == 0, result.stderr
    assert "wamcp.db, audit.db, desk.db" in result.stdout and "a new key is in" in result.stderr
    assert oct(key.stat().st_mode & 0o777) == "0o600" and len(key.read_text().strip()) == 64
    for path in database_files(data):
        assert plain_sqlite_cannot_read(path)
    with wamcp_db.connect(data / "wamcp.db", key_file=key) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchall() == count

    before = checksums(data)
    same = wamcp(data, "rekey", "--new-key-file", str(key), key=key)
    assert same.returncode == 1 and "holds the key the databases have now" in same.stderr
    assert checksums(data) == before
    next_key = tmp_path / "next.key"
    assert wamcp(data, "rekey", "--new-key-file", str(next_key), key=key).returncode == 0
    assert "does not open" in wamcp(data, "audit", key=key).stderr
    assert wamcp(data, "audit", key=next_key).returncode == 0
    with running(data, env={"WAMCP_KEY_FILE": str(next_key)}) as daemon:
        assert daemon.query("SELECT count(*) FROM messages")[0][0] >= count[0][0]

    assert wamcp(data, "decrypt", key=next_key).returncode == 0
    with sqlite3.connect(data / "desk.db") as conn:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    again = wamcp(data, "decrypt", key=next_key)
    assert again.returncode == 1 and "is not encrypted" in again.stderr


def test_kill_9_during_encrypt_leaves_a_directory_that_opens_with_the_old_or_the_new_key(tmp_path):
    data = tmp_path / "data"
    with running(data, "--desk", env={"WAMCP_KEY_FILE": None}) as daemon:
        daemon.history_synced()
        for n in range(300):
            daemon.incoming(**{"from": ALICE, "text": f"filler message {n} " + "x" * 400})
        daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE text LIKE 'filler%'") == [(300,)],
                          "the fillers are stored")
        count = daemon.query("SELECT count(*) FROM messages")[0][0]
    pristine = tmp_path / "pristine"
    subprocess.run(["cp", "-a", str(data), str(pristine)], check=True)
    key = new_key(tmp_path, "new.key")
    # How long a whole conversion takes, to spread the kills over it.
    started = time.monotonic()
    assert wamcp(data, "encrypt", key=key).returncode == 0
    took = time.monotonic() - started
    outcomes = []
    # Kills spread evenly from the start to the end of a whole conversion.
    for attempt in range(12):
        subprocess.run(["rm", "-rf", str(data)], check=True)
        subprocess.run(["cp", "-a", str(pristine), str(data)], check=True)
        env = {**os.environ, "WAMCP_KEY_FILE": str(key)}
        process = subprocess.Popen([WAMCP, "--data-dir", str(data), "encrypt"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if attempt < 11:
            time.sleep(took * attempt / 10)
        else:
            process.wait()  # the last one runs to its end
        process.send_signal(signal.SIGKILL)
        process.wait()
        old = wamcp(data, "audit")
        new = wamcp(data, "audit", key=key)
        assert (old.returncode == 0) != (new.returncode == 0), (old.stderr, new.stderr)
        outcomes.append("old" if old.returncode == 0 else "new")
        opened_with = None if old.returncode == 0 else key
        for name in ("wamcp.db", "audit.db", "desk.db"):
            with wamcp_db.connect(data / name, key_file=opened_with) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        with wamcp_db.connect(data / "wamcp.db", key_file=opened_with) as conn:
            assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == count
        assert not [p.name for p in data.iterdir() if "rekey" in p.name]
    # Killed at the start it keeps the old files; let run to the end, the new ones.
    assert outcomes[0] == "old" and outcomes[-1] == "new", outcomes


def test_an_old_archive_restores_and_a_sealed_one_needs_its_passphrase(tmp_path):
    data = tmp_path / "data"
    with running(data, env={"WAMCP_KEY_FILE": None}) as daemon:
        daemon.history_synced()
        count = daemon.query("SELECT count(*) FROM messages")
    passphrase = new_key(tmp_path, "passphrase", "correct horse battery staple")
    sealed = tmp_path / "sealed.tar"
    result = wamcp(data, "backup", str(sealed))
    assert result.returncode == 1 and "--passphrase-file" in result.stderr and not sealed.exists()
    result = wamcp(data, "backup", str(sealed), "--passphrase-file", str(passphrase))
    assert result.returncode == 0 and "encrypted with the passphrase" in result.stdout
    assert sealed.read_bytes().startswith(b"age-encryption.org/v1")

    # An archive as every backup was before they were sealed: a plain tar.
    old = tmp_path / "old.tar"
    assert wamcp(data, "backup", str(old), "--unencrypted").returncode == 0
    assert tarfile.open(old).getnames()[0] == "wamcp-backup.json"
    restored = tmp_path / "from-old"
    assert wamcp(restored, "restore", str(old)).returncode == 0
    with wamcp_db.connect(restored / "wamcp.db", key_file=None) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchall() == count

    target = tmp_path / "from-sealed"
    without = wamcp(target, "restore", str(sealed))
    assert without.returncode == 1 and "encrypted with a passphrase" in without.stderr
    wrong = new_key(tmp_path, "wrong-passphrase", "incorrect horse")
    result = wamcp(target, "restore", str(sealed), "--passphrase-file", str(wrong))
    assert result.returncode == 1 and "not the one it was encrypted with" in result.stderr
    assert not (target / "wamcp.db").exists()
    assert wamcp(target, "restore", str(sealed), "--passphrase-file", str(passphrase)).returncode == 0
    with wamcp_db.connect(target / "wamcp.db", key_file=None) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchall() == count


def test_doctor_says_which_files_are_encrypted_and_where_the_key_lies(tmp_path):
    from test_operate import findings
    data = tmp_path / "data"
    with running(data, "--desk", env={"WAMCP_KEY_FILE": None}) as daemon:
        daemon.history_synced()
    level, detail, advice = findings(wamcp(data, "doctor").stdout)["encryption"]
    assert level == "warn" and "wamcp.db, audit.db, desk.db not encrypted" in detail and "wamcp encrypt" in advice

    # A key kept beside the data it locks protects nothing from whoever copies the directory.
    inside = data / "wamcp.key"
    assert wamcp(data, "encrypt", key=inside).returncode == 0
    found = findings(wamcp(data, "doctor", key=inside).stdout)
    assert found["encryption"][0] == "ok" and "wamcp.db, audit.db, desk.db encrypted" in found["encryption"][1]
    assert found["key file"][0] == "warn" and "inside the data directory" in found["key file"][1]

    inside.chmod(0o640)
    result = wamcp(data, "doctor", key=inside)
    assert result.returncode == 1
    level, detail, _ = findings(result.stdout)["key file"]
    assert level == "FAIL" and "mode 0640" in detail and f"→ chmod 600 {inside}\n" in result.stdout

    level, detail, advice = findings(wamcp(data, "doctor").stdout)["encryption"]
    assert level == "FAIL" and "no key was given" in detail and "--key-file" in advice


@pytest.fixture
def desktop(tmp_path):
    """A desktop session's environment: a D-Bus session bus with GNOME Keyring's Secret Service,
    unlocked as at login, and no key file."""
    home, run = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("WAMCP_KEY_FILE", "CREDENTIALS_DIRECTORY")}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(run), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CONFIG_HOME=str(home / ".config"))
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        unlocked = subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets"], input="login password",
                                  capture_output=True, text=True, env=env, timeout=30)
        assert unlocked.returncode == 0, unlocked.stderr
        yield env
    finally:
        bus.terminate()  # the keyring daemon leaves with its bus
        bus.wait(timeout=10)


def in_session(env, data_dir, *args):
    return subprocess.run([WAMCP, "--data-dir", str(data_dir), *args], capture_output=True, text=True, timeout=300,
                          env=env, stdin=subprocess.DEVNULL)


def test_a_key_kept_in_the_desktop_keyring_opens_the_data_for_every_command_and_goes_with_decrypt(tmp_path, desktop):
    data = tmp_path / "data"
    assert in_session(desktop, data, "demo", "--no-serve").returncode == 0
    made = in_session(desktop, data, "encrypt", "--keyring")
    assert made.returncode == 0, made.stderr
    assert "a new key is in the desktop keyring" in made.stderr and "wamcp.db" in made.stdout
    assert plain_sqlite_cannot_read(data / "wamcp.db")
    # A note (no secret) says the keyring is worth asking; without it nothing asks.
    note = pathlib.Path(desktop["XDG_CONFIG_HOME"]) / "wamcp" / "key-in-keyring"
    assert note.is_file() and "wamcp.key" in note.read_text()
    # Every later command finds the key there, with no key file anywhere.
    doctor = in_session(desktop, data, "doctor")
    assert "key from the desktop keyring" in doctor.stdout, doctor.stdout
    listed = in_session(desktop, data, "audit")
    assert listed.returncode == 0, listed.stderr

    # Outside the session (a cron job, another user) there is no keyring: refused, saying where it looked.
    outside = {k: v for k, v in desktop.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    refused = in_session(outside, data, "audit")
    assert refused.returncode == 1 and "desktop keyring" in refused.stderr, refused.stderr

    before = checksums(data)
    rekeyed = in_session(desktop, data, "rekey", "--keyring")
    assert rekeyed.returncode == 0, rekeyed.stderr
    assert checksums(data)["wamcp.db"] != before["wamcp.db"]
    assert in_session(desktop, data, "audit").returncode == 0

    decrypted = in_session(desktop, data, "decrypt")
    assert decrypted.returncode == 0, decrypted.stderr
    assert "removed from the desktop keyring" in decrypted.stderr and not note.exists()
    with sqlite3.connect(data / "wamcp.db") as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] > 0
    # The keyring holds no key now, so the plain files open as before.
    assert in_session(desktop, data, "audit").returncode == 0
