"""Encryption at rest: with a key, no database, log or backup says anything to whoever copies it;
a wrong or missing key is refused and changes nothing; `wamcp encrypt` converts a data directory
all or nothing, even when killed part-way; sealed backups need their passphrase."""

import hashlib
import os
import secrets
import signal
import sqlite3
import subprocess
import tarfile
import time

import pytest

import wamcp_db
from conftest import WAMCP
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
    # Kills spread evenly from the start to past the end of a whole conversion.
    for attempt in range(12):
        subprocess.run(["rm", "-rf", str(data)], check=True)
        subprocess.run(["cp", "-a", str(pristine), str(data)], check=True)
        env = {**os.environ, "WAMCP_KEY_FILE": str(key)}
        process = subprocess.Popen([WAMCP, "--data-dir", str(data), "encrypt"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(took * attempt / 10)
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
