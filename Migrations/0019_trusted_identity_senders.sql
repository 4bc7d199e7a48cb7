-- A hospital whose identity desk verifies INS with the national service may be trusted
-- for identities: a document its system posts (with a token of that organisation) then
-- qualifies the record it names when INS and traits agree. Platform admins decide.
ALTER TABLE organisations ADD COLUMN trusted_for_identities BOOLEAN NOT NULL DEFAULT FALSE;
-- The organisation whose system holds the token (none for tokens made before).
ALTER TABLE api_tokens ADD COLUMN organisation_id TEXT REFERENCES organisations (id);
