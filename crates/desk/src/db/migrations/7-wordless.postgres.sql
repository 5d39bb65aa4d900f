-- Whether a customer's message is an attachment with no words to read (a photo without a caption,
-- a voice note nobody transcribed): the agent hands it to a person. Its body is only a placeholder
-- such as `[voice]`, which a customer could also type.
ALTER TABLE messages ADD COLUMN wordless BIGINT NOT NULL DEFAULT 0

-- Messages stored before this column: their placeholder is all that tells.
UPDATE messages SET wordless = 1 WHERE direction = 'inbound' AND ((via IN ('bridge', 'lharries') AND body IN
    ('[image]', '[video]', '[audio]', '[voice]', '[document]', '[sticker]', '[location]', '[contact_card]', '[poll]'))
    OR (via = 'twilio' AND body LIKE '[% attachment(s)]'))
