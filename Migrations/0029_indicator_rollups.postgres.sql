-- The 3C's indicators over a region's ten years read daily totals instead of fiches: one
-- row per community, meeting day, ICD-10 category and organisation (indicator_days), per
-- day and delay in days (indicator_delays), per day and meeting (indicator_meetings).
-- Triggers on cases keep them: whatever writes a fiche (the workflow, a follow-up, a data
-- import, a deletion), the totals move with it in the same transaction.
--
-- Distinct patients do not add up across days. Each discussed fiche keeps instead the day
-- of its patient's previous discussion in the community (previous_discussed_on, ties by
-- id): a period's patients are its fiches whose previous discussion falls before it.

ALTER TABLE cases ADD COLUMN previous_discussed_on TEXT;
-- The delay to the first treatment had a copy in case_follow_ups (0027) beside the fiche's
-- (0028); the fiche's is the one the totals follow, and now the only one.
ALTER TABLE case_follow_ups DROP COLUMN treatment_delay_days;

CREATE TABLE indicator_days (
    community_id TEXT NOT NULL,
    day TEXT NOT NULL,
    site TEXT NOT NULL,
    organisation_id TEXT NOT NULL,
    fiches BIGINT NOT NULL,
    quorum BIGINT NOT NULL,
    trial BIGINT NOT NULL,
    checked BIGINT NOT NULL,
    complete BIGINT NOT NULL,
    validated BIGINT NOT NULL,
    followed BIGINT NOT NULL,
    carried BIGINT NOT NULL,
    partial BIGINT NOT NULL,
    new_patients BIGINT NOT NULL,
    PRIMARY KEY (community_id, day, site, organisation_id)
);

CREATE TABLE indicator_delays (
    community_id TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    days BIGINT NOT NULL,
    fiches BIGINT NOT NULL,
    PRIMARY KEY (community_id, day, kind, days)
);

CREATE TABLE indicator_meetings (
    community_id TEXT NOT NULL,
    day TEXT NOT NULL,
    meeting_id TEXT NOT NULL,
    fiches BIGINT NOT NULL,
    without_quorum BIGINT NOT NULL,
    PRIMARY KEY (community_id, day, meeting_id)
);

-- What one fiche adds to the totals (direction 1) or takes from them (direction -1).
CREATE FUNCTION indicator_contribution(direction BIGINT, c cases) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO indicator_days AS t (community_id, day, site, organisation_id, fiches, quorum, trial, checked, complete, validated,
                                     followed, carried, partial, new_patients)
    VALUES (c.community_id, c.discussed_on, substr(COALESCE(c.tumour_site, ''), 1, 3), COALESCE(c.organisation_id, ''),
            direction, direction * COALESCE(c.quorum_met, 0), direction * COALESCE(c.trial_proposed, 0),
            CASE WHEN c.complete_at_discussion IS NOT NULL THEN direction ELSE 0 END,
            CASE WHEN c.complete_at_discussion = 1 THEN direction ELSE 0 END,
            CASE WHEN c.status = 'validated' THEN direction ELSE 0 END,
            CASE WHEN c.follow_up_outcome IS NOT NULL THEN direction ELSE 0 END,
            CASE WHEN c.follow_up_outcome = 'carried_out' THEN direction ELSE 0 END,
            CASE WHEN c.follow_up_outcome = 'partially' THEN direction ELSE 0 END,
            direction * COALESCE(c.first_presentation, 0))
    ON CONFLICT (community_id, day, site, organisation_id) DO UPDATE SET
        fiches = t.fiches + excluded.fiches, quorum = t.quorum + excluded.quorum, trial = t.trial + excluded.trial,
        checked = t.checked + excluded.checked, complete = t.complete + excluded.complete, validated = t.validated + excluded.validated,
        followed = t.followed + excluded.followed, carried = t.carried + excluded.carried, partial = t.partial + excluded.partial,
        new_patients = t.new_patients + excluded.new_patients;
    INSERT INTO indicator_delays AS t (community_id, day, kind, days, fiches)
    SELECT c.community_id, c.discussed_on, d.kind, d.days, direction
    FROM (VALUES ('registration', c.registration_lead_days), ('validation', c.validation_delay_days), ('treatment', c.treatment_delay_days)) AS d (kind, days)
    WHERE d.days IS NOT NULL
    ON CONFLICT (community_id, day, kind, days) DO UPDATE SET fiches = t.fiches + excluded.fiches;
    INSERT INTO indicator_meetings AS t (community_id, day, meeting_id, fiches, without_quorum)
    VALUES (c.community_id, c.discussed_on, COALESCE(c.meeting_id, ''), direction, CASE WHEN COALESCE(c.quorum_met, 0) = 0 THEN direction ELSE 0 END)
    ON CONFLICT (community_id, day, meeting_id) DO UPDATE SET
        fiches = t.fiches + excluded.fiches, without_quorum = t.without_quorum + excluded.without_quorum;
END $$;

-- The previous discussion of each of a patient's discussed fiches in a community (a
-- patient has a handful of fiches).
CREATE FUNCTION previous_discussions_refresh(patient TEXT, community TEXT) RETURNS void LANGUAGE sql AS $$
    UPDATE cases SET previous_discussed_on = CASE WHEN cases.discussed_on IS NULL OR cases.status NOT IN ('discussed', 'validated') THEN NULL ELSE (
        SELECT MAX(e.discussed_on) FROM cases e
        WHERE e.patient_id = cases.patient_id AND e.community_id = cases.community_id
          AND e.discussed_on IS NOT NULL AND e.status IN ('discussed', 'validated')
          AND (e.discussed_on < cases.discussed_on OR (e.discussed_on = cases.discussed_on AND e.id < cases.id))) END
    WHERE cases.patient_id = $1 AND cases.community_id = $2
      AND (cases.previous_discussed_on IS NOT NULL OR (cases.discussed_on IS NOT NULL AND cases.status IN ('discussed', 'validated')));
$$;

CREATE FUNCTION cases_indicators() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.discussed_on IS NOT NULL AND OLD.status IN ('discussed', 'validated') THEN
        PERFORM indicator_contribution(-1, OLD);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.discussed_on IS NOT NULL AND NEW.status IN ('discussed', 'validated') THEN
        PERFORM indicator_contribution(1, NEW);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION cases_previous_discussion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM previous_discussions_refresh(OLD.patient_id, OLD.community_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.patient_id <> OLD.patient_id OR NEW.community_id <> OLD.community_id) THEN
        PERFORM previous_discussions_refresh(NEW.patient_id, NEW.community_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER cases_indicators_insert AFTER INSERT ON cases FOR EACH ROW
WHEN (NEW.discussed_on IS NOT NULL AND NEW.status IN ('discussed', 'validated'))
EXECUTE FUNCTION cases_indicators();

CREATE TRIGGER cases_indicators_delete AFTER DELETE ON cases FOR EACH ROW
WHEN (OLD.discussed_on IS NOT NULL AND OLD.status IN ('discussed', 'validated'))
EXECUTE FUNCTION cases_indicators();

CREATE TRIGGER cases_indicators_update
AFTER UPDATE OF community_id, discussed_on, tumour_site, organisation_id, meeting_id, quorum_met, trial_proposed, complete_at_discussion,
                status, follow_up_outcome, first_presentation, registration_lead_days, validation_delay_days, treatment_delay_days ON cases
FOR EACH ROW
WHEN ((OLD.discussed_on IS NOT NULL AND OLD.status IN ('discussed', 'validated'))
   OR (NEW.discussed_on IS NOT NULL AND NEW.status IN ('discussed', 'validated')))
EXECUTE FUNCTION cases_indicators();

CREATE TRIGGER cases_previous_discussion_insert AFTER INSERT ON cases FOR EACH ROW
WHEN (NEW.discussed_on IS NOT NULL AND NEW.status IN ('discussed', 'validated'))
EXECUTE FUNCTION cases_previous_discussion();

CREATE TRIGGER cases_previous_discussion_delete AFTER DELETE ON cases FOR EACH ROW
WHEN (OLD.discussed_on IS NOT NULL AND OLD.status IN ('discussed', 'validated'))
EXECUTE FUNCTION cases_previous_discussion();

CREATE TRIGGER cases_previous_discussion_update AFTER UPDATE OF community_id, patient_id, discussed_on, status ON cases FOR EACH ROW
WHEN ((OLD.discussed_on IS NOT NULL AND OLD.status IN ('discussed', 'validated'))
   OR (NEW.discussed_on IS NOT NULL AND NEW.status IN ('discussed', 'validated')))
EXECUTE FUNCTION cases_previous_discussion();

-- The totals replace the covering index of 0028; what is still read from the fiches is the
-- count of a period's patients, and the research extract's rows.
DROP INDEX cases_indicators;
-- A patient's fiches in a community, in order: what the previous discussions are read from
-- (and what cases_patient served, as its prefix).
DROP INDEX cases_patient;
CREATE INDEX cases_patient_discussions ON cases (patient_id, community_id, discussed_on);
CREATE INDEX cases_patients_seen ON cases (community_id, discussed_on, previous_discussed_on)
    WHERE discussed_on IS NOT NULL AND status IN ('discussed', 'validated');

-- The fiches discussed before this migration.
UPDATE cases SET previous_discussed_on = p.previous FROM (
    SELECT id, LAG(discussed_on) OVER (PARTITION BY community_id, patient_id ORDER BY discussed_on, id) AS previous
    FROM cases WHERE discussed_on IS NOT NULL AND status IN ('discussed', 'validated')) p
WHERE p.id = cases.id;

SELECT indicator_contribution(1, c) FROM cases c WHERE c.discussed_on IS NOT NULL AND c.status IN ('discussed', 'validated');
