-- The audit trail is append-only for the application too: an UPDATE, DELETE or
-- TRUNCATE on audit_events is refused. Someone with rights on the schema can still drop
-- these triggers; the hash chain (`concerto audit verify`) then shows what was touched.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;

CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The head follows every append within the INSERT itself.
CREATE FUNCTION audit_head_follows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_head_follows();
