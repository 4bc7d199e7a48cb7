-- Full-text search over the fiche's summary and question (search_text, folded by the store:
-- lower case, no diacritics), with the 'simple' configuration so both engines find the same words.
ALTER TABLE cases ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED;
CREATE INDEX cases_search_vector ON cases USING GIN (search_vector);
