-- Idempotency-Key of POST writes (kernel::idempotency): the key row commits
-- with the change it guards; the stored response answers retries for 24 h.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    object_type TEXT,
    object_id TEXT,
    status BIGINT,
    content_type TEXT,
    body TEXT,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_ms);
