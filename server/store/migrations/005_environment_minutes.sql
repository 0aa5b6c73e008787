-- Minute rollups kept a year and more, and read for a year in milliseconds: every closed UTC day of a
-- series becomes one row whose `data` holds four typed arrays of 1,440 slots (slot m = minute m after
-- 00:00 UTC), one after the other, little-endian, 40,320 bytes in all:
--   min, max, sum  IEEE-754 float64 (11,520 bytes each); an empty minute has NaN min and max, sum 0
--   count          uint32 (5,760 bytes); 0 = no reading in that minute
-- One blob rather than four columns: SQLite then walks the row's overflow pages once. A year of one
-- series is 365 rows instead of 525,600. The days still open stay in reading_minute (one
-- row per minute, as 004 made it), where ingest merges each batch cheaply; the store folds a day into
-- this table once it has closed (server/environment/minute-rollups.ts), and reads both.
--
-- Upgrade: minute rows already in reading_minute are not converted here (SQL cannot build the blobs);
-- they are closed days like any other, and the store folds them, oldest first, a slice per batch of
-- readings and per hourly prune. History reads both tables meanwhile, so no answer changes.
--
-- A rowid table, not WITHOUT ROWID: rows are 40 KB, and SQLite advises WITHOUT ROWID only for rows
-- under about a twentieth of a page.
CREATE TABLE reading_minute_day (
  device_id TEXT NOT NULL,
  key       TEXT NOT NULL,
  day       TEXT NOT NULL,                        -- 'YYYY-MM-DD', UTC
  data      BLOB NOT NULL,                        -- min ‖ max ‖ sum ‖ count, as above
  PRIMARY KEY (device_id, key, day)
);

-- Minute rollups are kept 400 days (a year and a margin) unless the library chose its own retention.
INSERT INTO setting (key, value) VALUES ('environment.minute_days', '400')
  ON CONFLICT (key) DO UPDATE SET value = '400' WHERE value = '90';
