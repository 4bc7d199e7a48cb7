-- Pro Santé Connect. A professional PSC vouches for (RPPS) but Concerto does not know
-- gets no account silently: their login files a request that admins, and the
-- coordinators of the communities of the sites they practise at, approve or refuse.
CREATE TABLE account_requests (
    id TEXT PRIMARY KEY,
    rpps_number TEXT NOT NULL,
    display_name TEXT NOT NULL,
    specialty_code TEXT,
    -- Given by the requester on the waiting page, so that whoever decides can reach them.
    contact_email TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'refused')),
    created_at TEXT NOT NULL,
    last_attempt_at TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT REFERENCES users (id),
    -- A code (the refusal's reason is chosen from a list), never free text.
    refusal_reason TEXT,
    user_id TEXT REFERENCES users (id)
);
-- One open request per professional: a second login touches it instead of adding one.
CREATE UNIQUE INDEX account_requests_open ON account_requests (rpps_number) WHERE status = 'pending';

-- The FINESS sites PSC lists for the professional, in its order: coordinators see the
-- requests of professionals practising at their communities' organisations.
CREATE TABLE account_request_sites (
    request_id TEXT NOT NULL REFERENCES account_requests (id),
    position BIGINT NOT NULL,
    finess TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (request_id, position)
);
CREATE INDEX account_request_sites_finess ON account_request_sites (finess);

-- Physicians of such a community must log in with Pro Santé Connect.
ALTER TABLE communities ADD COLUMN requires_psc BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX users_rpps_number ON users (rpps_number);
