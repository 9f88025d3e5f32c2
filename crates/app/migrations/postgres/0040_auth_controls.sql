-- Authentication controls (#9): password age for rotation, the TOTP second
-- factor (secret encrypted with the field cipher; the last accepted time step
-- so a code is never accepted twice), and 三权分立 in the schema: an account
-- holds at most one live grant among system admin, security admin and auditor.

ALTER TABLE users ADD COLUMN password_changed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_secret_enc TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

-- Accounts that existed before this migration count their password as set now.
UPDATE users SET password_changed_at = updated_at;

CREATE UNIQUE INDEX role_grants_separation_of_duties ON role_grants(user_id)
    WHERE role IN ('sysadmin', 'secadmin', 'auditor') AND revoked_at IS NULL;
