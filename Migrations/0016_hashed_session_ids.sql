-- Session ids are bearer secrets: from now on the table keeps only their SHA-256 (hex),
-- so a copy of the database opens no session. Rows stored under the ids themselves are
-- cleared: everyone logs in again once.
DELETE FROM sessions;
