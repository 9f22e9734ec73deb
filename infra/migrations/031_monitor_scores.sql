-- Estimated performance (issue 17): each waiting prediction keeps its score (the positive class's probability, or
-- the top probability for more classes), so the label that joins it can check the estimate on the same row.
ALTER TABLE monitor_predictions ADD COLUMN IF NOT EXISTS score double precision;
