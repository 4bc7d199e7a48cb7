-- Web sessions, shared by every server instance that uses the same database.
CREATE TABLE sessions (
    session_key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at BIGINT
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);
