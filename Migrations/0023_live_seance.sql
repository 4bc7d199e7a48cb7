-- The live séance: the chair presents a case, everyone in the meeting follows, on any
-- server instance. Events carry ids only (never clinical content): each follower's page
-- fetches what it shows through the access policy.
CREATE TABLE meeting_events (
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    -- Numbered per meeting, 1, 2, 3...: the SSE event id a follower resumes from. Appends
    -- take the meeting's row lock, so a number is visible only after every smaller one.
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('case', 'draft', 'decision', 'attendance', 'recorder')),
    case_id TEXT REFERENCES cases (id),
    actor_id TEXT REFERENCES users (id),
    -- Milliseconds since 1970: the séance's clock counts seconds per case.
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, seq)
);

-- The decision as the recorder types it, before it is recorded: clinical content, so in a
-- table of its own that pages read through the access policy, not in the events.
CREATE TABLE meeting_decision_drafts (
    case_id TEXT PRIMARY KEY REFERENCES cases (id),
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    draft TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_by TEXT REFERENCES users (id),
    updated_at TEXT NOT NULL
);

-- Who has seen which case during the séance: a follower's view of a case is audited once,
-- not once per event (a draft typed live would otherwise audit every second).
CREATE TABLE meeting_case_views (
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    case_id TEXT NOT NULL REFERENCES cases (id),
    allowed BIGINT NOT NULL,
    first_seen_at TEXT NOT NULL,
    PRIMARY KEY (meeting_id, user_id, case_id, allowed)
);

-- The secretary (or other member) the chair designates to type the decision.
ALTER TABLE meetings ADD COLUMN recorder_id TEXT REFERENCES users (id);
