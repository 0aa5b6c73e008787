-- Visits through the entrance gates (RFID issue) and patron consent (CRM and privacy). Both are
-- read by several features, so they live in their own migration.

-- One row per card presented at an entrance gate, allowed or refused.
CREATE TABLE visit (
  id         INTEGER PRIMARY KEY,
  patron_id  INTEGER REFERENCES patron(id) ON DELETE CASCADE,
  card       TEXT NOT NULL,                         -- card number or card tag UID as presented
  branch_id  TEXT NOT NULL REFERENCES branch(id),
  device_id  TEXT,
  at         TEXT NOT NULL,                         -- UTC ISO-8601
  allowed    INTEGER NOT NULL,
  reason     TEXT                                   -- reason code when refused
);
CREATE INDEX visit_patron ON visit(patron_id, at);
CREATE INDEX visit_branch_at ON visit(branch_id, at);

-- What each patron agreed to. No row = the defaults below (nothing beyond service messages).
CREATE TABLE patron_consent (
  patron_id       INTEGER PRIMARY KEY REFERENCES patron(id) ON DELETE CASCADE,
  reading_history INTEGER NOT NULL DEFAULT 0,        -- keep returned loans linked to the patron
  profiling       INTEGER NOT NULL DEFAULT 0,        -- reading profile, segments, recommendations
  marketing       INTEGER NOT NULL DEFAULT 0,        -- care campaigns, surveys, event invitations
  channel_email   INTEGER NOT NULL DEFAULT 1,
  channel_sms     INTEGER NOT NULL DEFAULT 0,
  channel_in_app  INTEGER NOT NULL DEFAULT 1,
  updated_at      TEXT NOT NULL
);
