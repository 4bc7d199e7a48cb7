-- Every statement on cases is planned against each of its indexes: drop the two that
-- longer ones now cover (community_id by cases_community_created, tumour_site by
-- cases_site_status), as the per-request access check measurably paid for them.
DROP INDEX cases_community;
DROP INDEX cases_site;
