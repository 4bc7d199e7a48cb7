-- A personalised care plan (PPS) keeps the items read from it (JSON), and the fiche RCP
-- whose decision it carries out: set at import when one validated fiche of the patient
-- precedes it, else confirmed by a physician (who, recorded).
ALTER TABLE documents ADD COLUMN care_plan TEXT NOT NULL DEFAULT '[]';
ALTER TABLE documents ADD COLUMN carries_out_case_id TEXT REFERENCES cases (id);
ALTER TABLE documents ADD COLUMN carries_out_confirmed_by TEXT REFERENCES users (id);
