-- What the fiche RCP's header (CI-SIS FRCP, componentOf) must carry, kept where it
-- belongs: a community's regional cancer network (RRC: name and national id); a board's
-- national id (regional RCP directory) and the structure that manages it, per meeting
-- series, with the community's as the default for meetings outside a series; and each
-- organisation's postal address (the managing structure's is the board's location).
ALTER TABLE communities ADD COLUMN network_name TEXT;
ALTER TABLE communities ADD COLUMN network_id TEXT;
ALTER TABLE communities ADD COLUMN board_id TEXT;
ALTER TABLE communities ADD COLUMN board_manager_id TEXT REFERENCES organisations (id);
ALTER TABLE meeting_series ADD COLUMN board_id TEXT;
ALTER TABLE meeting_series ADD COLUMN board_manager_id TEXT REFERENCES organisations (id);
ALTER TABLE organisations ADD COLUMN street TEXT;
ALTER TABLE organisations ADD COLUMN postal_code TEXT;
