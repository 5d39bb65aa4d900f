"""Opening wamcp's own databases from the tests: plain SQLite, or SQLCipher with the key the suite
runs with (WAMCP_KEY_FILE, set by conftest when WAMCP_E2E_ENCRYPTED=1)."""

import os
import re
import sqlite3


def key_pragma(key_file) -> str:
    """The PRAGMA that applies the key in `key_file`, read as wamcp reads it."""
    text = open(key_file).read()
    text = text[:-1] if text.endswith("\n") else text
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return f"PRAGMA key = \"x'{text}'\""
    return "PRAGMA key = '" + text.replace("'", "''") + "'"


SUITE_KEY = object()


def connect(path, read_only=False, key_file=SUITE_KEY):
    """A connection to one of wamcp's databases, with the suite's key, or with `key_file` (None or
    "": none)."""
    if key_file is SUITE_KEY:
        key_file = os.environ.get("WAMCP_KEY_FILE")
    target = f"file:{path}?mode=ro" if read_only else str(path)
    if not key_file:
        return sqlite3.connect(target, uri=read_only)
    import sqlcipher3
    conn = sqlcipher3.connect(target, uri=read_only)
    conn.execute(key_pragma(key_file))
    return conn
