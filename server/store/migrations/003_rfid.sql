-- RFID: every tag event the server accepted (its id makes a redelivered event a no-op), gate
-- alarms, sorter decisions, kiosk sessions and inventory sessions.

-- One row per reader event id; INSERT OR IGNORE on the id is how duplicates are dropped.
CREATE TABLE reader_event (
  id        TEXT PRIMARY KEY,
  reader_id TEXT NOT NULL,
  ts        TEXT NOT NULL,                          -- when the gateway saw it (UTC ISO-8601)
  event     TEXT NOT NULL CHECK (event IN ('enter', 'leave')),
  uid       TEXT NOT NULL,
  antenna   INTEGER NOT NULL,
  received  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX reader_event_reader_ts ON reader_event(reader_id, ts);

-- A security gate saw a tag that should not leave: not on loan, or still armed.
CREATE TABLE gate_alarm (
  id          INTEGER PRIMARY KEY,
  reader_id   TEXT NOT NULL,
  branch_id   TEXT REFERENCES branch(id),
  uid         TEXT NOT NULL,
  item_id     INTEGER REFERENCES item(id),
  barcode     TEXT,
  reason      TEXT NOT NULL,                        -- NOT_ON_LOAN, SECURITY_ARMED, UNKNOWN_ITEM
  at          TEXT NOT NULL,
  acknowledged_at TEXT,
  acknowledged_by TEXT
);
CREATE INDEX gate_alarm_at ON gate_alarm(at);

-- A self-check session at a kiosk pad: who, when, what was borrowed or refused (JSON).
CREATE TABLE kiosk_session (
  id         TEXT PRIMARY KEY,
  reader_id  TEXT NOT NULL,
  branch_id  TEXT NOT NULL REFERENCES branch(id),
  patron_id  INTEGER REFERENCES patron(id) ON DELETE SET NULL,
  started_at TEXT NOT NULL,
  ended_at   TEXT,
  end_reason TEXT,
  items      TEXT NOT NULL DEFAULT '[]'
) WITHOUT ROWID;
CREATE INDEX kiosk_session_patron ON kiosk_session(patron_id);

-- An inventory-wand sweep over a shelf range, and the tags it saw.
CREATE TABLE inventory_session (
  id            INTEGER PRIMARY KEY,
  reader_id     TEXT NOT NULL,
  branch_id     TEXT NOT NULL REFERENCES branch(id),
  location_from TEXT NOT NULL,
  location_to   TEXT NOT NULL,
  started_by    TEXT,
  started_at    TEXT NOT NULL,
  finished_at   TEXT,
  report        TEXT                                -- JSON, once finished
);
CREATE TABLE inventory_seen (
  session_id INTEGER NOT NULL REFERENCES inventory_session(id) ON DELETE CASCADE,
  uid        TEXT NOT NULL,
  barcode    TEXT,
  at         TEXT NOT NULL,
  PRIMARY KEY (session_id, uid)
) WITHOUT ROWID;
