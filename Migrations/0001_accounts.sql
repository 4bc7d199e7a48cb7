-- Accounts of the professionals who use Concerto.
-- Ids are UUID text; times used in comparisons are epoch seconds (BIGINT),
-- times only shown are ISO 8601 UTC text. Same file for SQLite and PostgreSQL.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    rpps_number TEXT,
    specialty TEXT,
    role TEXT NOT NULL CHECK (role IN ('admin', 'coordinator', 'physician', 'secretary')),
    locale TEXT CHECK (locale IN ('fr', 'en')),
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    totp_secret TEXT,
    totp_last_step BIGINT,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    created_at TEXT NOT NULL
);
