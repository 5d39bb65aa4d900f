-- What an unauthenticated channel (the public web form) says about who wrote: claims, never
-- identifiers. A ticket whose customer may be another one already known (by a claim on one side
-- and a proven identifier on the other) names that one, for a person to merge.
CREATE TABLE customer_claims (
    customer_id TEXT NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, kind, value)
)

CREATE INDEX customer_claims_value ON customer_claims (kind, value)

ALTER TABLE tickets ADD COLUMN possibly_customer_id TEXT
