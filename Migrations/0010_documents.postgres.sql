-- Imported CDA documents: the original bytes (kept as received, with their SHA-256) and
-- the header values lists and matching need. Sections and narrative are re-read from the
-- bytes when a document page is shown, so a better reader improves old imports too.
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients (id),
    community_id TEXT NOT NULL REFERENCES communities (id),
    case_id TEXT REFERENCES cases (id),
    document_root TEXT NOT NULL,
    document_extension TEXT NOT NULL DEFAULT '',
    set_root TEXT NOT NULL,
    set_extension TEXT NOT NULL DEFAULT '',
    version BIGINT NOT NULL DEFAULT 1,
    type_code TEXT NOT NULL,
    type_label TEXT,
    title TEXT,
    effective_time TEXT NOT NULL,
    media_type TEXT,
    has_pdf BIGINT NOT NULL DEFAULT 0,
    study_uids TEXT NOT NULL DEFAULT '',
    tnm TEXT NOT NULL DEFAULT '{}',
    sha256 TEXT NOT NULL,
    content BYTEA NOT NULL,
    byte_count BIGINT NOT NULL,
    superseded_by TEXT REFERENCES documents (id),
    source TEXT NOT NULL CHECK (source IN ('upload', 'api', 'cli')),
    imported_by TEXT REFERENCES users (id),
    imported_at TEXT NOT NULL
);
-- Idempotent on the document id: the same document twice is the same row.
CREATE UNIQUE INDEX documents_document_id ON documents (document_root, document_extension);
CREATE INDEX documents_patient ON documents (patient_id, effective_time);
CREATE INDEX documents_case ON documents (case_id);
CREATE INDEX documents_set ON documents (set_root, set_extension, version);

-- Tokens hospital systems use for POST /api/v1/documents: one per community and system,
-- only the SHA-256 of the secret is stored.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities (id),
    label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT REFERENCES users (id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
