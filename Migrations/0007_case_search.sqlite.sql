-- Full-text search over the fiche's summary and question (search_text, folded by the store:
-- lower case, no diacritics). The FTS rowid is the case's search_rowid, stable across VACUUM
-- unlike the implicit rowid; both are kept in step by triggers so every insert path is covered.
ALTER TABLE cases ADD COLUMN search_rowid INTEGER;
CREATE UNIQUE INDEX cases_search_rowid ON cases (search_rowid);
UPDATE cases SET search_rowid = rowid;

CREATE VIRTUAL TABLE cases_fts USING fts5 (search_text, tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO cases_fts (rowid, search_text) SELECT search_rowid, search_text FROM cases;

CREATE TRIGGER cases_search_insert AFTER INSERT ON cases
BEGIN
    UPDATE cases SET search_rowid = (SELECT COALESCE(MAX(search_rowid), 0) + 1 FROM cases) WHERE id = NEW.id;
    INSERT INTO cases_fts (rowid, search_text) SELECT search_rowid, NEW.search_text FROM cases WHERE id = NEW.id;
END;

CREATE TRIGGER cases_search_update AFTER UPDATE OF search_text ON cases
BEGIN
    UPDATE cases_fts SET search_text = NEW.search_text WHERE rowid = NEW.search_rowid;
END;

CREATE TRIGGER cases_search_delete AFTER DELETE ON cases
BEGIN
    DELETE FROM cases_fts WHERE rowid = OLD.search_rowid;
END;
