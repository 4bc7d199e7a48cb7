-- What became of each validated decision (the 3C's follow-up): carried out or not, why,
-- the first treatment's day, the day the personalised care plan (PPS) was given; filled by
-- the referring physician, or from a PPS linked to the fiche (care_plan_document_id).
CREATE TABLE case_follow_ups (
    case_id TEXT PRIMARY KEY REFERENCES cases (id),
    outcome TEXT CHECK (outcome IN ('carried_out', 'partially', 'not_carried_out')),
    reason TEXT,
    first_treatment_on TEXT,
    care_plan_given_on TEXT,
    care_plan_document_id TEXT REFERENCES documents (id),
    recorded_by TEXT REFERENCES users (id),
    recorded_at TEXT NOT NULL,
    revision BIGINT NOT NULL DEFAULT 1
);

-- Days after validation before a decision without follow-up is listed; meetings copy their
-- series' value, as they copy its other settings.
ALTER TABLE meeting_series ADD COLUMN follow_up_days BIGINT NOT NULL DEFAULT 30;
ALTER TABLE meetings ADD COLUMN follow_up_days BIGINT NOT NULL DEFAULT 30;

-- Set at validation (validated_at + the meeting's days), cleared once the outcome is
-- recorded: the overdue lists are one range scan of this index.
ALTER TABLE cases ADD COLUMN follow_up_due_at TEXT;
CREATE INDEX cases_follow_up_due ON cases (follow_up_due_at) WHERE follow_up_due_at IS NOT NULL;
UPDATE cases SET follow_up_due_at = strftime('%Y-%m-%dT%H:%M:%SZ', validated_at, '+30 days')
WHERE status = 'validated' AND validated_at IS NOT NULL;
