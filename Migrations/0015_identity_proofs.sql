-- How each identity status was established (national identity rules, RNIV): VALI needs
-- the high-trust identity document that was checked, QUAL also the INS verification by
-- the national service; who recorded it and when. Nobody declares QUAL in a form.
CREATE TABLE identity_proofs (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients (id),
    status TEXT NOT NULL CHECK (status IN ('VALI', 'QUAL')),
    document_type TEXT,
    verifier TEXT,
    source TEXT NOT NULL,
    recorded_by TEXT REFERENCES users (id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX identity_proofs_patient ON identity_proofs (patient_id, recorded_at);

-- Never two live records with one INS (the application refuses it first, with a link
-- to the identity desk; this holds across server instances).
CREATE UNIQUE INDEX patients_one_live_record_per_ins ON patients (ins_matricule)
    WHERE ins_matricule IS NOT NULL AND merged_into IS NULL;
