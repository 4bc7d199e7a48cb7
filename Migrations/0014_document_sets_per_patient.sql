-- A document id, and a document set, belong to one patient in one community: the same
-- id or set posted for another patient (or by another community) is another document,
-- never a replacement or a new version of this one.
DROP INDEX documents_document_id;
CREATE UNIQUE INDEX documents_document_id ON documents (patient_id, community_id, document_root, document_extension);
DROP INDEX documents_set;
CREATE INDEX documents_set ON documents (patient_id, community_id, set_root, set_extension, version);
