-- The 3C's indicators read discussed fiches as columns, written when each step happens, so
-- a region's ten years aggregate without decoding a document or joining a meeting per row:
-- the meeting's day (Paris) and the author's organisation when the decision is recorded,
-- the decision's quorum and trial flags, whether it was the patient's first discussion in
-- the community, the days from registration to the meeting and from the meeting to
-- validation, and (follow-ups) from the meeting to the first treatment.
ALTER TABLE cases ADD COLUMN discussed_on TEXT;
ALTER TABLE cases ADD COLUMN organisation_id TEXT REFERENCES organisations (id);
ALTER TABLE cases ADD COLUMN quorum_met BIGINT;
ALTER TABLE cases ADD COLUMN trial_proposed BIGINT;
ALTER TABLE cases ADD COLUMN first_presentation BIGINT;
ALTER TABLE cases ADD COLUMN registration_lead_days BIGINT;
ALTER TABLE cases ADD COLUMN validation_delay_days BIGINT;
ALTER TABLE case_follow_ups ADD COLUMN treatment_delay_days BIGINT;
CREATE INDEX cases_community_discussed ON cases (community_id, discussed_on) WHERE discussed_on IS NOT NULL;

-- Decisions recorded before this migration (their day in the server's time zone).
UPDATE cases SET
    discussed_on = (SELECT date(m.starts_at, 'unixepoch', 'localtime') FROM meetings m WHERE m.id = cases.meeting_id),
    organisation_id = (SELECT u.organisation_id FROM users u WHERE u.id = cases.created_by),
    quorum_met = CASE WHEN json_extract(decision, '$.quorumMet') THEN 1 ELSE 0 END,
    trial_proposed = CASE WHEN json_extract(decision, '$.trialProposed') THEN 1 ELSE 0 END
WHERE decision IS NOT NULL AND status IN ('discussed', 'validated') AND meeting_id IS NOT NULL;
UPDATE cases SET validation_delay_days = CAST(julianday(substr(validated_at, 1, 10)) - julianday(discussed_on) AS INTEGER)
WHERE validated_at IS NOT NULL AND discussed_on IS NOT NULL;
UPDATE cases SET first_presentation = CASE WHEN EXISTS (
    SELECT 1 FROM cases e WHERE e.patient_id = cases.patient_id AND e.community_id = cases.community_id AND e.discussed_on IS NOT NULL
      AND (e.discussed_on < cases.discussed_on OR (e.discussed_on = cases.discussed_on AND e.id < cases.id))) THEN 0 ELSE 1 END
WHERE discussed_on IS NOT NULL;
UPDATE case_follow_ups SET treatment_delay_days = (
    SELECT CAST(julianday(case_follow_ups.first_treatment_on) - julianday(c.discussed_on) AS INTEGER) FROM cases c WHERE c.id = case_follow_ups.case_id)
WHERE first_treatment_on IS NOT NULL;
