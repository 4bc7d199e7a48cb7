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
) WITHOUT ROWID;

CREATE TABLE indicator_delays (
    community_id TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    days BIGINT NOT NULL,
    fiches BIGINT NOT NULL,
    PRIMARY KEY (community_id, day, kind, days)
) WITHOUT ROWID;

CREATE TABLE indicator_meetings (
    community_id TEXT NOT NULL,
    day TEXT NOT NULL,
    meeting_id TEXT NOT NULL,
    fiches BIGINT NOT NULL,
    without_quorum BIGINT NOT NULL,
    PRIMARY KEY (community_id, day, meeting_id)
) WITHOUT ROWID;

-- What one fiche adds to the totals (sign 1) or takes from them (sign -1). A view with an
-- INSTEAD OF trigger holds the arithmetic once for the three triggers on cases, as the
-- PostgreSQL migration's function does.
CREATE VIEW indicator_contributions AS
SELECT 0 AS sign, community_id, discussed_on, tumour_site, organisation_id, meeting_id, quorum_met, trial_proposed,
       complete_at_discussion, status, follow_up_outcome, first_presentation, registration_lead_days, validation_delay_days,
       treatment_delay_days
FROM cases WHERE 0;

CREATE TRIGGER indicator_contributions_apply INSTEAD OF INSERT ON indicator_contributions
BEGIN
    INSERT INTO indicator_days (community_id, day, site, organisation_id, fiches, quorum, trial, checked, complete, validated,
                                followed, carried, partial, new_patients)
    VALUES (NEW.community_id, NEW.discussed_on, substr(COALESCE(NEW.tumour_site, ''), 1, 3), COALESCE(NEW.organisation_id, ''),
            NEW.sign, NEW.sign * COALESCE(NEW.quorum_met, 0), NEW.sign * COALESCE(NEW.trial_proposed, 0),
            NEW.sign * (NEW.complete_at_discussion IS NOT NULL), NEW.sign * (COALESCE(NEW.complete_at_discussion, 0) = 1),
            NEW.sign * (NEW.status = 'validated'), NEW.sign * (NEW.follow_up_outcome IS NOT NULL),
            NEW.sign * (COALESCE(NEW.follow_up_outcome, '') = 'carried_out'), NEW.sign * (COALESCE(NEW.follow_up_outcome, '') = 'partially'),
            NEW.sign * COALESCE(NEW.first_presentation, 0))
    ON CONFLICT (community_id, day, site, organisation_id) DO UPDATE SET
        fiches = fiches + excluded.fiches, quorum = quorum + excluded.quorum, trial = trial + excluded.trial,
        checked = checked + excluded.checked, complete = complete + excluded.complete, validated = validated + excluded.validated,
        followed = followed + excluded.followed, carried = carried + excluded.carried, partial = partial + excluded.partial,
        new_patients = new_patients + excluded.new_patients;
    INSERT INTO indicator_delays (community_id, day, kind, days, fiches)
    SELECT NEW.community_id, NEW.discussed_on, kind, days, NEW.sign FROM (
        SELECT 'registration' AS kind, NEW.registration_lead_days AS days
        UNION ALL SELECT 'validation', NEW.validation_delay_days
        UNION ALL SELECT 'treatment', NEW.treatment_delay_days)
    WHERE days IS NOT NULL
    ON CONFLICT (community_id, day, kind, days) DO UPDATE SET fiches = fiches + excluded.fiches;
    INSERT INTO indicator_meetings (community_id, day, meeting_id, fiches, without_quorum)
    VALUES (NEW.community_id, NEW.discussed_on, COALESCE(NEW.meeting_id, ''), NEW.sign, NEW.sign * (COALESCE(NEW.quorum_met, 0) = 0))
    ON CONFLICT (community_id, day, meeting_id) DO UPDATE SET
        fiches = fiches + excluded.fiches, without_quorum = without_quorum + excluded.without_quorum;
END;

CREATE TRIGGER cases_indicators_insert AFTER INSERT ON cases
WHEN NEW.discussed_on IS NOT NULL AND NEW.status IN ('discussed', 'validated')
BEGIN
    INSERT INTO indicator_contributions
    SELECT 1, NEW.community_id, NEW.discussed_on, NEW.tumour_site, NEW.organisation_id, NEW.meeting_id, NEW.quorum_met, NEW.trial_proposed,
           NEW.complete_at_discussion, NEW.status, NEW.follow_up_outcome, NEW.first_presentation, NEW.registration_lead_days,
           NEW.validation_delay_days, NEW.treatment_delay_days;
END;

CREATE TRIGGER cases_indicators_delete AFTER DELETE ON cases
WHEN OLD.discussed_on IS NOT NULL AND OLD.status IN ('discussed', 'validated')
BEGIN
    INSERT INTO indicator_contributions
    SELECT -1, OLD.community_id, OLD.discussed_on, OLD.tumour_site, OLD.organisation_id, OLD.meeting_id, OLD.quorum_met, OLD.trial_proposed,
           OLD.complete_at_discussion, OLD.status, OLD.follow_up_outcome, OLD.first_presentation, OLD.registration_lead_days,
           OLD.validation_delay_days, OLD.treatment_delay_days;
END;

CREATE TRIGGER cases_indicators_update
AFTER UPDATE OF community_id, discussed_on, tumour_site, organisation_id, meeting_id, quorum_met, trial_proposed, complete_at_discussion,
                status, follow_up_outcome, first_presentation, registration_lead_days, validation_delay_days, treatment_delay_days ON cases
WHEN (OLD.discussed_on IS NOT NULL AND OLD.status IN ('discussed', 'validated'))
  OR (NEW.discussed_on IS NOT NULL AND NEW.status IN ('discussed', 'validated'))
BEGIN
    INSERT INTO indicator_contributions
    SELECT -1, OLD.community_id, OLD.discussed_on, OLD.tumour_site, OLD.organisation_id, OLD.meeting_id, OLD.quorum_met, OLD.trial_proposed,
           OLD.complete_at_discussion, OLD.status, OLD.follow_up_outcome, OLD.first_presentation, OLD.registration_lead_days,
           OLD.validation_delay_days, OLD.treatment_delay_days
    WHERE OLD.discussed_on IS NOT NULL AND OLD.status IN ('discussed', 'validated');
    INSERT INTO indicator_contributions
    SELECT 1, NEW.community_id, NEW.discussed_on, NEW.tumour_site, NEW.organisation_id, NEW.meeting_id, NEW.quorum_met, NEW.trial_proposed,
           NEW.complete_at_discussion, NEW.status, NEW.follow_up_outcome, NEW.first_presentation, NEW.registration_lead_days,
           NEW.validation_delay_days, NEW.treatment_delay_days
    WHERE NEW.discussed_on IS NOT NULL AND NEW.status IN ('discussed', 'validated');
END;

-- The previous discussion of each of a patient's discussed fiches in a community, again
-- whenever one of them enters, leaves or moves (a patient has a handful of fiches). The
-- triggers below insert (patient, community) into this view; its INSTEAD OF trigger holds
-- the recomputation once, as the PostgreSQL migration's previous_discussions_refresh does.
CREATE VIEW previous_discussion_refreshes AS SELECT patient_id, community_id FROM cases WHERE 0;

CREATE TRIGGER previous_discussion_refresh INSTEAD OF INSERT ON previous_discussion_refreshes
BEGIN
    UPDATE cases SET previous_discussed_on = CASE WHEN discussed_on IS NULL OR status NOT IN ('discussed', 'validated') THEN NULL ELSE (
        SELECT MAX(e.discussed_on) FROM cases e
        WHERE e.patient_id = cases.patient_id AND e.community_id = cases.community_id
          AND e.discussed_on IS NOT NULL AND e.status IN ('discussed', 'validated')
          AND (e.discussed_on < cases.discussed_on OR (e.discussed_on = cases.discussed_on AND e.id < cases.id))) END
    WHERE patient_id = NEW.patient_id AND community_id = NEW.community_id
      AND (previous_discussed_on IS NOT NULL OR (discussed_on IS NOT NULL AND status IN ('discussed', 'validated')));
END;

CREATE TRIGGER cases_previous_discussion_insert AFTER INSERT ON cases
WHEN NEW.discussed_on IS NOT NULL AND NEW.status IN ('discussed', 'validated')
BEGIN
    INSERT INTO previous_discussion_refreshes VALUES (NEW.patient_id, NEW.community_id);
END;

CREATE TRIGGER cases_previous_discussion_update AFTER UPDATE OF community_id, patient_id, discussed_on, status ON cases
WHEN (OLD.discussed_on IS NOT NULL AND OLD.status IN ('discussed', 'validated'))
  OR (NEW.discussed_on IS NOT NULL AND NEW.status IN ('discussed', 'validated'))
BEGIN
    INSERT INTO previous_discussion_refreshes VALUES (OLD.patient_id, OLD.community_id);
    INSERT INTO previous_discussion_refreshes SELECT NEW.patient_id, NEW.community_id
    WHERE NEW.patient_id <> OLD.patient_id OR NEW.community_id <> OLD.community_id;
END;

CREATE TRIGGER cases_previous_discussion_delete AFTER DELETE ON cases
WHEN OLD.discussed_on IS NOT NULL AND OLD.status IN ('discussed', 'validated')
BEGIN
    INSERT INTO previous_discussion_refreshes VALUES (OLD.patient_id, OLD.community_id);
END;

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
UPDATE cases SET previous_discussed_on = (
    SELECT MAX(e.discussed_on) FROM cases e
    WHERE e.patient_id = cases.patient_id AND e.community_id = cases.community_id
      AND e.discussed_on IS NOT NULL AND e.status IN ('discussed', 'validated')
      AND (e.discussed_on < cases.discussed_on OR (e.discussed_on = cases.discussed_on AND e.id < cases.id)))
WHERE discussed_on IS NOT NULL AND status IN ('discussed', 'validated');

INSERT INTO indicator_contributions
SELECT 1, community_id, discussed_on, tumour_site, organisation_id, meeting_id, quorum_met, trial_proposed, complete_at_discussion, status,
       follow_up_outcome, first_presentation, registration_lead_days, validation_delay_days, treatment_delay_days
FROM cases WHERE discussed_on IS NOT NULL AND status IN ('discussed', 'validated');
