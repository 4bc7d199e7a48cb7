-- The indicators read only these columns of the period's discussed fiches: with all of them
-- in one index, a region's ten years (1,000,000 fiches) aggregate from the index alone,
-- never touching the fiches' rows (their content and search text are most of their size).
-- The follow-up's outcome and delay are copied onto the fiche (as tumour_site copies its
-- content) so that no row of case_follow_ups is looked up per fiche either.
ALTER TABLE cases ADD COLUMN follow_up_outcome TEXT;
ALTER TABLE cases ADD COLUMN treatment_delay_days BIGINT;
UPDATE cases SET
    follow_up_outcome = (SELECT f.outcome FROM case_follow_ups f WHERE f.case_id = cases.id),
    treatment_delay_days = (SELECT f.treatment_delay_days FROM case_follow_ups f WHERE f.case_id = cases.id)
WHERE EXISTS (SELECT 1 FROM case_follow_ups f WHERE f.case_id = cases.id);
DROP INDEX cases_community_discussed;
CREATE INDEX cases_indicators ON cases (community_id, discussed_on, status, tumour_site, organisation_id, quorum_met, trial_proposed,
    complete_at_discussion, first_presentation, registration_lead_days, validation_delay_days, follow_up_outcome, treatment_delay_days,
    patient_id, meeting_id)
    WHERE discussed_on IS NOT NULL;
