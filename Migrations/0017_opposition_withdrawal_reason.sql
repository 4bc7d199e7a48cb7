-- Lifting a patient's opposition is a justified act: why, in the words of whoever lifted it.
ALTER TABLE oppositions ADD COLUMN withdrawal_reason TEXT;
