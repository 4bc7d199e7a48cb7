-- The write path no longer chains under a lock: an audited request stores its event
-- as it comes (seq, prev_hash, hash and batch still NULL; `id` is the order of arrival)
-- and the sequencer (`AuditSequencer`) chains the waiting events in batches, one
-- transaction per batch, each batch with a Merkle root of its events' links. The head
-- moves once per batch, so its per-row trigger goes.
DROP TRIGGER audit_head_follows;

CREATE TABLE audit_events_sequenced (
    id INTEGER PRIMARY KEY,
    seq BIGINT UNIQUE,
    batch BIGINT,
    recorded_at TEXT NOT NULL,
    actor_id TEXT,
    organisation_id TEXT,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    patient_id TEXT,
    access_mode TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    client_address TEXT,
    request_id TEXT,
    prev_hash TEXT,
    hash TEXT
);
INSERT INTO audit_events_sequenced (id, seq, batch, recorded_at, actor_id, organisation_id, action, resource_type, resource_id,
    patient_id, access_mode, outcome, reason, client_address, request_id, prev_hash, hash)
SELECT seq, seq, NULL, recorded_at, actor_id, organisation_id, action, resource_type, resource_id,
    patient_id, access_mode, outcome, reason, client_address, request_id, prev_hash, hash
FROM audit_events;
-- Dropping a table fires none of its DELETE triggers; its triggers and indexes go with it.
DROP TABLE audit_events;
ALTER TABLE audit_events_sequenced RENAME TO audit_events;
CREATE INDEX audit_events_patient ON audit_events (patient_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_waiting ON audit_events (id) WHERE seq IS NULL;

-- Append-only, except the sequencer's one UPDATE that gives a waiting event its place in
-- the chain: nothing else of it may change, and a sequenced event never changes again.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN OLD.seq IS NOT NULL OR NEW.seq IS NULL OR NEW.hash IS NULL OR NEW.prev_hash IS NULL OR NEW.batch IS NULL
    OR NEW.id IS NOT OLD.id OR NEW.recorded_at IS NOT OLD.recorded_at OR NEW.actor_id IS NOT OLD.actor_id
    OR NEW.organisation_id IS NOT OLD.organisation_id OR NEW.action IS NOT OLD.action
    OR NEW.resource_type IS NOT OLD.resource_type OR NEW.resource_id IS NOT OLD.resource_id
    OR NEW.patient_id IS NOT OLD.patient_id OR NEW.access_mode IS NOT OLD.access_mode OR NEW.outcome IS NOT OLD.outcome
    OR NEW.reason IS NOT OLD.reason OR NEW.client_address IS NOT OLD.client_address OR NEW.request_id IS NOT OLD.request_id
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- One row per sequenced batch: the events first_seq...last_seq, the Merkle root (RFC 6962)
-- of their links, and the batch's own link, HMAC under the audit key of the batch before's
-- link and this batch's numbers and root. Events sequenced before batches existed keep
-- only their chain links (`audit_chain.batched_from` says where batches start).
CREATE TABLE audit_batches (
    batch BIGINT PRIMARY KEY,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    root TEXT NOT NULL,
    sealed_at TEXT NOT NULL,
    link TEXT NOT NULL
);

CREATE TRIGGER audit_batches_no_update BEFORE UPDATE ON audit_batches
BEGIN
    SELECT RAISE(ABORT, 'audit_batches is append-only');
END;

CREATE TRIGGER audit_batches_no_delete BEFORE DELETE ON audit_batches
BEGIN
    SELECT RAISE(ABORT, 'audit_batches is append-only');
END;

ALTER TABLE audit_head ADD COLUMN batch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_head ADD COLUMN batch_link TEXT NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';
ALTER TABLE audit_chain ADD COLUMN batched_from BIGINT NOT NULL DEFAULT 1;
UPDATE audit_chain SET batched_from = (SELECT seq + 1 FROM audit_head WHERE id = 1) WHERE id = 1;
