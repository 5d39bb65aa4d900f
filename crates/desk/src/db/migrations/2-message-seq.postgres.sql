-- Messages in the order they were stored: two in the same millisecond (a customer's message and
-- the agent's answer) must not swap. Those stored before keep the order of their times.
CREATE SEQUENCE messages_seq

ALTER TABLE messages ADD COLUMN seq BIGINT

UPDATE messages SET seq = ordered.n
FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM messages) ordered
WHERE messages.id = ordered.id

SELECT setval('messages_seq', (SELECT coalesce(max(seq), 0) + 1 FROM messages), false)

ALTER TABLE messages ALTER COLUMN seq SET DEFAULT nextval('messages_seq')

ALTER TABLE messages ALTER COLUMN seq SET NOT NULL

CREATE INDEX messages_ticket_seq ON messages (ticket_id, seq)
