-- Sessions name their account, so a password change or a disabled account ends them at
-- once. Rows from before carry no owner: they are cleared (everyone logs in again once).
DELETE FROM sessions;
ALTER TABLE sessions ADD COLUMN user_id TEXT;
CREATE INDEX sessions_user_id ON sessions (user_id);

-- A disabled account keeps its history (audit, decisions) but cannot log in.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
-- Sessions authenticated before this instant (epoch seconds) were ended: a session being
-- written back by a request in flight at that moment is not stored again.
ALTER TABLE users ADD COLUMN sessions_ended_at BIGINT;

-- One-time password links (`concerto user reset-password`): only the SHA-256 of the token
-- is kept, so a copy of the database resets nobody's password.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at TEXT
);
CREATE INDEX password_resets_user_id ON password_resets (user_id);
