-- Web inbox sessions: a random id per sign-in, stored only as its SHA-256, with the fingerprint of
-- the token it was opened with (a new token ends every session) and when it was last used.
CREATE TABLE inbox_sessions (
    id_hash TEXT PRIMARY KEY,
    token_fingerprint TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
)
