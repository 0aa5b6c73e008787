-- A run's queued and skipped counts were written at planning and never read: a run's figures are
-- counted from its campaign_message rows (where its messages stand now), as the API reports them.
ALTER TABLE campaign_run DROP COLUMN queued;
ALTER TABLE campaign_run DROP COLUMN skipped;
