-- The notifier no longer holds a transaction open while it mails and posts: it claims a delivery (committed),
-- sends, then records the outcome. A claim left by a crashed notifier is taken over once claimed_at is older
-- than the longest a delivery may take. `published`: the outcome event (action.completed / .failed) is out.
ALTER TABLE notifier_deliveries ADD COLUMN IF NOT EXISTS claimed_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE notifier_deliveries ADD COLUMN IF NOT EXISTS published boolean NOT NULL DEFAULT false;
-- Rows finished before: their outcome was published in the transaction that recorded it.
UPDATE notifier_deliveries SET published = true WHERE status <> 'pending';
