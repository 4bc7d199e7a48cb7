-- Search: walks cases newest first when a query matches many; counts the matches of a
-- status, site or meeting within the user's communities from the index alone (community_id
-- is in each key), so choosing between the two plans stays cheap.
CREATE INDEX cases_created ON cases (created_at);
DROP INDEX cases_status;
CREATE INDEX cases_status ON cases (status, community_id, created_at);
CREATE INDEX cases_site_status ON cases (tumour_site, status, community_id, created_at);
DROP INDEX cases_meeting;
CREATE INDEX cases_meeting ON cases (meeting_id, community_id, created_at);
