-- Answers that a channel may take later (SMTP): how often one was tried, and when to try again.
ALTER TABLE messages ADD COLUMN delivery_attempts BIGINT NOT NULL DEFAULT 0

ALTER TABLE messages ADD COLUMN next_attempt_at BIGINT
