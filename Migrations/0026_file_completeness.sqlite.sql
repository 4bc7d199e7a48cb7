-- What a board asks a file to hold before it is discussed (ConcertoCore's CompletenessRules,
-- as JSON): set per series, copied by the meetings it generates like its other settings.
ALTER TABLE meeting_series ADD COLUMN completeness TEXT NOT NULL DEFAULT '{"items":[]}';
ALTER TABLE meetings ADD COLUMN completeness TEXT NOT NULL DEFAULT '{"items":[]}';

-- The fiche content's part of the evidence (ContentFact: "tnm performance_status question"),
-- written with the content, so lists never decode the content to check it.
ALTER TABLE cases ADD COLUMN content_facts TEXT NOT NULL DEFAULT '';
-- At registration: the board's own items the presenter attested (JSON list of labels), and a
-- coordinator's reason for registering a file that lacks a required item.
ALTER TABLE cases ADD COLUMN completeness_attested TEXT NOT NULL DEFAULT '[]';
ALTER TABLE cases ADD COLUMN completeness_override TEXT;
ALTER TABLE cases ADD COLUMN completeness_override_by TEXT REFERENCES users (id);
-- Whether the file held everything its board asks for when the decision was recorded
-- (1 / 0; NULL before, or for decisions older than this migration): the 3C's indicator.
ALTER TABLE cases ADD COLUMN complete_at_discussion BIGINT;

UPDATE cases SET content_facts = trim(
    CASE WHEN COALESCE(json_extract(content, '$.tnm.cT'), json_extract(content, '$.tnm.pT')) IS NOT NULL
          AND COALESCE(json_extract(content, '$.tnm.cN'), json_extract(content, '$.tnm.pN')) IS NOT NULL
          AND json_extract(content, '$.tnm.cM') IS NOT NULL THEN 'tnm ' ELSE '' END
    || CASE WHEN json_extract(content, '$.performanceStatusCode') IS NOT NULL THEN 'performance_status ' ELSE '' END
    || CASE WHEN trim(COALESCE(json_extract(content, '$.question'), '')) <> '' THEN 'question' ELSE '' END);
