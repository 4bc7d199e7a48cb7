-- The write path no longer chains under a lock: an audited request stores its event
-- as it comes (seq, prev_hash, hash and batch still NULL; `id` is the order of arrival)
-- and the sequencer (`AuditSequencer`, one per cluster) chains the waiting events in
-- batches, one transaction per batch, each batch with a Merkle root of its events' links.
-- The head moves once per batch, so its per-row trigger goes.
DROP TRIGGER audit_head_follows ON audit_events;
DROP FUNCTION audit_head_follows();
DROP TRIGGER audit_events_no_update_delete ON audit_events;

ALTER TABLE audit_events ADD COLUMN id BIGINT;
UPDATE audit_events SET id = seq;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events ADD PRIMARY KEY (id);
CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
SELECT setval('audit_events_id_seq', COALESCE((SELECT max(id) FROM audit_events), 0) + 1, false);
ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq'),
    ALTER COLUMN seq DROP NOT NULL, ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL,
    ADD COLUMN batch BIGINT;
CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);
DROP INDEX audit_events_patient;
DROP INDEX audit_events_actor;
CREATE INDEX audit_events_patient ON audit_events (patient_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_waiting ON audit_events (id) WHERE seq IS NULL;

-- Append-only, except the sequencer's one UPDATE that gives a waiting event its place in
-- the chain: nothing else of it may change, and a sequenced event never changes again.
CREATE FUNCTION audit_events_sealed_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL
        AND NEW.prev_hash IS NOT NULL AND NEW.batch IS NOT NULL
        AND (NEW.id, NEW.recorded_at, NEW.actor_id, NEW.organisation_id, NEW.action, NEW.resource_type, NEW.resource_id,
             NEW.patient_id, NEW.access_mode, NEW.outcome, NEW.reason, NEW.client_address, NEW.request_id)
        IS NOT DISTINCT FROM
            (OLD.id, OLD.recorded_at, OLD.actor_id, OLD.organisation_id, OLD.action, OLD.resource_type, OLD.resource_id,
             OLD.patient_id, OLD.access_mode, OLD.outcome, OLD.reason, OLD.client_address, OLD.request_id)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;

CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_sealed_once();

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

CREATE TRIGGER audit_batches_no_update_delete BEFORE UPDATE OR DELETE ON audit_batches
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_batches_no_truncate BEFORE TRUNCATE ON audit_batches
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

ALTER TABLE audit_head ADD COLUMN batch BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN batch_link TEXT NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';
ALTER TABLE audit_chain ADD COLUMN batched_from BIGINT NOT NULL DEFAULT 1;
UPDATE audit_chain SET batched_from = (SELECT seq + 1 FROM audit_head WHERE id = 1) WHERE id = 1;
