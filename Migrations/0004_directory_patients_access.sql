-- The directory (organisations, community kinds and membership status), patients and
-- their identity, the facts the access policy reads (cases held by communities,
-- meetings and their agenda, care relationships, oppositions, break-the-glass grants)
-- and the hash-chained audit trail. Times compared in SQL are epoch seconds (BIGINT).

CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    finess TEXT NOT NULL UNIQUE,
    city TEXT NOT NULL,
    created_at TEXT NOT NULL
);

ALTER TABLE users ADD COLUMN organisation_id TEXT REFERENCES organisations (id);
ALTER TABLE users ADD COLUMN specialty_code TEXT;

ALTER TABLE communities ADD COLUMN kind TEXT NOT NULL DEFAULT 'transversal'
    CHECK (kind IN ('organ', 'transversal', 'recours', 'rare', 'paediatric'));

CREATE TABLE community_organisations (
    community_id TEXT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    PRIMARY KEY (community_id, organisation_id)
);

-- Community roles replace the platform role copied in by the foundation.
ALTER TABLE community_members ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('invited', 'active', 'suspended'));
ALTER TABLE community_members ADD COLUMN updated_at TEXT;
UPDATE community_members SET member_role = 'coordinator' WHERE member_role = 'admin';

CREATE TABLE patients (
    id TEXT PRIMARY KEY,
    birth_name TEXT NOT NULL,
    first_names TEXT NOT NULL,
    first_name TEXT NOT NULL,
    used_name TEXT,
    used_first_name TEXT,
    birth_date TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('F', 'M', 'I')),
    birth_place_code TEXT,
    ins_matricule TEXT,
    ins_oid TEXT,
    identity_status TEXT NOT NULL CHECK (identity_status IN ('PROV', 'RECUP', 'VALI', 'QUAL')),
    merged_into TEXT REFERENCES patients (id),
    created_by TEXT REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX patients_ins ON patients (ins_matricule);
CREATE INDEX patients_traits ON patients (birth_date, sex);

-- Local patient ids (IPP), unique within an organisation.
CREATE TABLE patient_local_ids (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    ipp TEXT NOT NULL,
    patient_id TEXT NOT NULL REFERENCES patients (id),
    PRIMARY KEY (organisation_id, ipp)
);
CREATE INDEX patient_local_ids_patient ON patient_local_ids (patient_id);

CREATE TABLE patient_merges (
    id TEXT PRIMARY KEY,
    survivor_id TEXT NOT NULL REFERENCES patients (id),
    merged_id TEXT NOT NULL REFERENCES patients (id),
    merged_by TEXT NOT NULL REFERENCES users (id),
    reason TEXT NOT NULL,
    merged_at TEXT NOT NULL
);

-- A community holds a case of a patient; the workflow issue adds the fiche's content.
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities (id),
    patient_id TEXT NOT NULL REFERENCES patients (id),
    status TEXT NOT NULL DEFAULT 'draft',
    created_by TEXT REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX cases_patient ON cases (patient_id);
CREATE INDEX cases_community ON cases (community_id);

CREATE TABLE meetings (
    id TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities (id),
    title TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE meeting_participants (
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (meeting_id, user_id)
);
CREATE INDEX meeting_participants_user ON meeting_participants (user_id);

CREATE TABLE meeting_agenda (
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    case_id TEXT NOT NULL REFERENCES cases (id),
    position BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, case_id)
);
CREATE INDEX meeting_agenda_case ON meeting_agenda (case_id);

-- Care team: a professional or a whole organisation, never both.
CREATE TABLE care_relationships (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients (id),
    user_id TEXT REFERENCES users (id),
    organisation_id TEXT REFERENCES organisations (id),
    reason TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT,
    declared_by TEXT NOT NULL REFERENCES users (id),
    declared_at TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (organisation_id IS NULL))
);
CREATE INDEX care_relationships_patient ON care_relationships (patient_id);

-- The patient's opposition to sharing with a community or an organisation.
CREATE TABLE oppositions (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients (id),
    community_id TEXT REFERENCES communities (id),
    organisation_id TEXT REFERENCES organisations (id),
    recorded_by TEXT NOT NULL REFERENCES users (id),
    recorded_at BIGINT NOT NULL,
    withdrawn_by TEXT REFERENCES users (id),
    withdrawn_at BIGINT,
    CHECK ((community_id IS NULL) <> (organisation_id IS NULL))
);
CREATE INDEX oppositions_patient ON oppositions (patient_id);

-- Break-the-glass grants.
CREATE TABLE emergency_access (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    community_id TEXT REFERENCES communities (id),
    reason_code TEXT NOT NULL,
    justification TEXT NOT NULL,
    overrides_opposition BOOLEAN NOT NULL DEFAULT FALSE,
    granted_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX emergency_access_patient_user ON emergency_access (patient_id, user_id);
CREATE INDEX emergency_access_community ON emergency_access (community_id, granted_at);

-- Append-only, hash-chained audit trail; audit_head holds the last link so that an
-- append locks one row (PostgreSQL: SELECT ... FOR UPDATE) and a truncated tail shows.
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    actor_id TEXT,
    organisation_id TEXT,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    patient_id TEXT,
    access_mode TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    client_address TEXT,
    request_id TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_patient ON audit_events (patient_id, seq);
CREATE INDEX audit_events_actor ON audit_events (actor_id, seq);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
