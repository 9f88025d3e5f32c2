-- Notifications (module notify): the transactional outbox modules publish
-- into, per-user inboxes with a monotonic sequence (the live stream's event
-- ids), subscriptions, webhook endpoints and their durable deliveries.
-- Times are Unix milliseconds, flags BIGINT 0/1, ids UUIDv7 text.

CREATE TABLE notify_outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    org_path TEXT COLLATE "C" NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT,
    actor_id TEXT,
    audience TEXT NOT NULL,
    webhooks TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT,
    link TEXT,
    payload TEXT NOT NULL,
    dedupe_key TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    fanned_out_at BIGINT
);
CREATE INDEX notify_outbox_pending ON notify_outbox(created_at, id) WHERE fanned_out_at IS NULL;

CREATE TABLE notify_inbox (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    seq BIGINT NOT NULL,
    event_id TEXT NOT NULL REFERENCES notify_outbox(id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT,
    link TEXT,
    object_type TEXT NOT NULL,
    object_id TEXT,
    org_path TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE UNIQUE INDEX notify_inbox_user_seq ON notify_inbox(user_id, seq);
CREATE UNIQUE INDEX notify_inbox_user_event ON notify_inbox(user_id, event_id);
CREATE INDEX notify_inbox_unread ON notify_inbox(user_id, seq) WHERE read_at IS NULL;

CREATE TABLE notify_subscriptions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    role TEXT,
    org_path TEXT COLLATE "C" NOT NULL,
    user_id TEXT REFERENCES users(id),
    object_type TEXT,
    object_id TEXT,
    default_key TEXT UNIQUE,
    active BIGINT NOT NULL DEFAULT 1,
    created_by TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX notify_subscriptions_kind ON notify_subscriptions(kind, role);
CREATE INDEX notify_subscriptions_object ON notify_subscriptions(object_type, object_id);
CREATE INDEX notify_subscriptions_user ON notify_subscriptions(user_id);

CREATE TABLE notify_webhooks (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES org_nodes(id),
    org_path TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    platform TEXT NOT NULL,
    format TEXT NOT NULL,
    url_enc TEXT NOT NULL,
    url_hint TEXT NOT NULL,
    secret_enc TEXT,
    kinds TEXT NOT NULL,
    rate_per_minute BIGINT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX notify_webhooks_org_path ON notify_webhooks(org_path);

CREATE TABLE notify_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES notify_outbox(id),
    webhook_id TEXT NOT NULL REFERENCES notify_webhooks(id),
    org_path TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    last_status BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE UNIQUE INDEX notify_deliveries_event_webhook ON notify_deliveries(event_id, webhook_id);
CREATE INDEX notify_deliveries_due ON notify_deliveries(next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX notify_deliveries_webhook ON notify_deliveries(webhook_id, status);
CREATE INDEX notify_deliveries_dead ON notify_deliveries(org_path, id) WHERE status = 'dead';
