-- From here on the audit chain is keyed: each event's link is HMAC-SHA256 under a key
-- kept outside the database (CONCERTO_AUDIT_KEY_FILE), so whoever can write these
-- tables cannot recompute the chain. Events before `keyed_from` keep their plain
-- SHA-256 links; the boundary is also written into every signed checkpoint, so moving
-- it here shows. `key_id` names the key (a fingerprint, not the key) once a server has
-- bound one, so a server started with another key file refuses to append.
CREATE TABLE audit_chain (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    keyed_from BIGINT NOT NULL,
    key_id TEXT
);
INSERT INTO audit_chain (id, keyed_from, key_id) SELECT 1, seq + 1, NULL FROM audit_head WHERE id = 1;
