-- Issue 14: a label counts toward the quality of the version that served its prediction (after a promotion the
-- old version's late labels must not judge the new one, nor verify a remediation).
ALTER TABLE monitor_predictions ADD COLUMN IF NOT EXISTS model_version text;
