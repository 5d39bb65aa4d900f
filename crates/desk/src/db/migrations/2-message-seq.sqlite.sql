-- Messages in the order they were stored: two in the same millisecond (a customer's message and
-- the agent's answer) must not swap. The rowid already counts inserts; seq keeps it by name.
ALTER TABLE messages ADD COLUMN seq INTEGER

UPDATE messages SET seq = rowid

CREATE TRIGGER messages_seq AFTER INSERT ON messages BEGIN
    UPDATE messages SET seq = NEW.rowid WHERE rowid = NEW.rowid;
END

CREATE INDEX messages_ticket_seq ON messages (ticket_id, seq)
