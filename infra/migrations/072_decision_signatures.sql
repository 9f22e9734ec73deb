-- Issue 15: a decision is signed by the approvals owner (Ed25519) when a signed-in person makes it; the executor
-- checks the signature, so a row written straight into the table is no decision.
ALTER TABLE approvals ADD COLUMN IF NOT EXISTS decision_signature text;
