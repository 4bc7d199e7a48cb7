-- Per-community secret keys for the pseudonymous patient key of activity exports
-- (HMAC-SHA256 of the patient id): stable across exports of the same community, so
-- coordination centres can count patients, and not reversible without this table.
CREATE TABLE export_keys (
    community_id TEXT PRIMARY KEY REFERENCES communities (id),
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);
