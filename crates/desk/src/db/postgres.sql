CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    name TEXT,
    created_at BIGINT NOT NULL
)

CREATE TABLE customer_identifiers (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (kind, value)
)

CREATE INDEX customer_identifiers_customer ON customer_identifiers(customer_id)

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL,
    kb_misses BIGINT NOT NULL DEFAULT 0
)

CREATE INDEX conversations_customer ON conversations(customer_id, last_message_at)

CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL UNIQUE REFERENCES conversations(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    channel TEXT NOT NULL,
    subject TEXT,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    category TEXT NOT NULL,
    escalation_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    first_response_at BIGINT,
    resolved_at BIGINT
)

CREATE INDEX tickets_status ON tickets(status, updated_at)

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    ticket_id TEXT NOT NULL REFERENCES tickets(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    direction TEXT NOT NULL,
    channel TEXT NOT NULL,
    via TEXT NOT NULL,
    address TEXT NOT NULL,
    channel_account TEXT,
    channel_message_id TEXT,
    author TEXT NOT NULL,
    subject TEXT,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delivery_status TEXT NOT NULL,
    delivery_error TEXT,
    agent_state TEXT,
    claimed_at BIGINT,
    UNIQUE (channel, channel_message_id)
)

CREATE INDEX messages_customer ON messages(customer_id, created_at)

CREATE INDEX messages_conversation ON messages(conversation_id, created_at)

CREATE INDEX messages_agent ON messages(agent_state, created_at) WHERE agent_state IS NOT NULL

CREATE INDEX messages_delivery ON messages(delivery_status) WHERE delivery_status = 'queued'

CREATE TABLE kb_articles (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')
    ) STORED
)

CREATE INDEX kb_articles_search ON kb_articles USING GIN (search)

CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    topic TEXT NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    published_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
)

CREATE INDEX events_unpublished ON events(seq) WHERE published_at IS NULL
