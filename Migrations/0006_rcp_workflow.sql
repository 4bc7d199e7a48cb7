-- Meeting series, the fiche RCP's content and decision, editions, attendance, calendar feeds.

CREATE TABLE meeting_series (
    id TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities (id),
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    organs TEXT NOT NULL DEFAULT '',
    recurrence TEXT NOT NULL,
    first_date TEXT NOT NULL,
    start_time TEXT NOT NULL,
    duration_minutes BIGINT NOT NULL,
    place TEXT,
    video_link TEXT,
    deadline_hours BIGINT NOT NULL,
    max_cases BIGINT,
    quorum_minimum BIGINT NOT NULL,
    quorum_disciplines TEXT NOT NULL,
    created_by TEXT REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX meeting_series_community ON meeting_series (community_id);

-- A meeting copies its series' settings so a later change of the series never rewrites
-- a meeting that took place; occurrence_date keeps a moved meeting from being generated twice.
ALTER TABLE meetings ADD COLUMN series_id TEXT REFERENCES meeting_series (id);
ALTER TABLE meetings ADD COLUMN occurrence_date TEXT;
ALTER TABLE meetings ADD COLUMN status TEXT NOT NULL DEFAULT 'scheduled';
ALTER TABLE meetings ADD COLUMN place TEXT;
ALTER TABLE meetings ADD COLUMN video_link TEXT;
ALTER TABLE meetings ADD COLUMN deadline_hours BIGINT NOT NULL DEFAULT 48;
ALTER TABLE meetings ADD COLUMN max_cases BIGINT;
ALTER TABLE meetings ADD COLUMN quorum_minimum BIGINT NOT NULL DEFAULT 3;
ALTER TABLE meetings ADD COLUMN quorum_disciplines TEXT NOT NULL DEFAULT 'medicalOncology,surgery,radiotherapy';
ALTER TABLE meetings ADD COLUMN chair_id TEXT REFERENCES users (id);
ALTER TABLE meetings ADD COLUMN current_case_id TEXT REFERENCES cases (id);
ALTER TABLE meetings ADD COLUMN sequence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE meetings ADD COLUMN updated_at TEXT;
CREATE UNIQUE INDEX meetings_series_occurrence ON meetings (series_id, occurrence_date);
CREATE INDEX meetings_community_start ON meetings (community_id, starts_at);
CREATE INDEX meetings_start ON meetings (starts_at);

-- The fiche: content and decision as JSON documents (ConcertoCore's CaseContent and
-- CaseDecision), plus the columns search and lists filter on, written by the store with them.
-- revision guards concurrent saves; edition counts the fiche's versions after validation.
ALTER TABLE cases ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;
ALTER TABLE cases ADD COLUMN edition BIGINT NOT NULL DEFAULT 1;
ALTER TABLE cases ADD COLUMN content TEXT NOT NULL DEFAULT '{"tnm":{}}';
ALTER TABLE cases ADD COLUMN decision TEXT;
ALTER TABLE cases ADD COLUMN tumour_site TEXT;
ALTER TABLE cases ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN meeting_id TEXT REFERENCES meetings (id);
ALTER TABLE cases ADD COLUMN previous_case_id TEXT REFERENCES cases (id);
ALTER TABLE cases ADD COLUMN decided_at TEXT;
ALTER TABLE cases ADD COLUMN decided_by TEXT REFERENCES users (id);
ALTER TABLE cases ADD COLUMN validated_at TEXT;
ALTER TABLE cases ADD COLUMN validated_by TEXT REFERENCES users (id);
ALTER TABLE cases ADD COLUMN updated_at TEXT;
ALTER TABLE cases ADD COLUMN updated_by TEXT REFERENCES users (id);
CREATE INDEX cases_meeting ON cases (meeting_id);
CREATE INDEX cases_community_created ON cases (community_id, created_at);
CREATE INDEX cases_created_by ON cases (created_by, created_at);
CREATE INDEX cases_site ON cases (tumour_site);
CREATE INDEX cases_status ON cases (status, created_at);
CREATE INDEX patients_birth_name ON patients (birth_name);
CREATE INDEX patients_used_name ON patients (used_name);
CREATE INDEX patient_local_ids_ipp ON patient_local_ids (ipp);

-- A validated edition, kept as it was when an amendment replaced it.
CREATE TABLE case_editions (
    case_id TEXT NOT NULL REFERENCES cases (id),
    edition BIGINT NOT NULL,
    content TEXT NOT NULL,
    decision TEXT,
    validated_at TEXT,
    validated_by TEXT REFERENCES users (id),
    superseded_at TEXT NOT NULL,
    superseded_by TEXT REFERENCES users (id),
    PRIMARY KEY (case_id, edition)
);

-- Who was there: members (user_id) or guests (guest_name), with the specialty they sat as.
CREATE TABLE meeting_attendance (
    id TEXT PRIMARY KEY,
    meeting_id TEXT NOT NULL REFERENCES meetings (id),
    user_id TEXT REFERENCES users (id),
    guest_name TEXT,
    specialty_code TEXT,
    status TEXT NOT NULL,
    recorded_by TEXT REFERENCES users (id),
    recorded_at TEXT NOT NULL
);
CREATE UNIQUE INDEX meeting_attendance_member ON meeting_attendance (meeting_id, user_id);

-- Calendar subscription feeds: only the token's SHA-256 is kept.
CREATE TABLE calendar_feeds (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX calendar_feeds_user ON calendar_feeds (user_id);
