-- The audit trail is append-only for the application too: an UPDATE or DELETE on
-- audit_events is refused. Someone with rights on the schema can still drop these
-- triggers; the hash chain (`concerto audit verify`) then shows what was touched.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- The head follows every append within the INSERT itself, so appending is one statement.
CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_events
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END;
