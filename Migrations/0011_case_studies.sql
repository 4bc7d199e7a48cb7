-- Imaging studies attached to a fiche RCP, by reference only: which exchange holds the study
-- and what lists show of it. No pixel data is ever stored.
CREATE TABLE case_studies (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases (id),
    exchange_id TEXT NOT NULL,
    study_uid TEXT NOT NULL,
    accession_number TEXT,
    study_date TEXT,
    modalities TEXT NOT NULL DEFAULT '',
    description TEXT,
    series_count BIGINT,
    instance_count BIGINT,
    -- The series thumbnails show, chosen when attaching (null: chosen on first view).
    key_series_uid TEXT,
    note TEXT,
    -- Set when an imported imaging report attached the study.
    document_id TEXT REFERENCES documents (id),
    attached_by TEXT REFERENCES users (id),
    attached_at TEXT NOT NULL
);
CREATE UNIQUE INDEX case_studies_study ON case_studies (case_id, exchange_id, study_uid);
