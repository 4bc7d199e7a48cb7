-- Sharing communities (communautés de partage) and who belongs to them.
CREATE TABLE communities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    region TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE community_members (
    community_id TEXT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    member_role TEXT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);

CREATE INDEX community_members_user ON community_members (user_id);
