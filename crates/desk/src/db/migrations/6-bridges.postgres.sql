-- Which bridge took a WhatsApp answer to send: with several bridges (linked devices of one
-- account) on one database, the first to take an answer sends it, and the others leave it.
ALTER TABLE messages ADD COLUMN bridge TEXT

-- Which bridge claimed a message for its agent: a bridge that restarts after a crash releases its
-- own claims at once, instead of leaving them to expire.
ALTER TABLE messages ADD COLUMN claimed_by TEXT
