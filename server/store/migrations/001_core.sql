-- Core schema: branches and calendars, catalogue, patrons, circulation, access control.
-- Times are ISO-8601 UTC strings ('2026-11-24T10:00:00.000Z'); calendar dates are 'YYYY-MM-DD' in the
-- library's time zone. Wildcards in policy keys are '*', never NULL, so UNIQUE works.

CREATE TABLE setting (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL                              -- JSON
);

CREATE TABLE branch (
  id        TEXT PRIMARY KEY,
  name      TEXT NOT NULL,
  name_zh   TEXT,
  isil      TEXT,
  address   TEXT
);

CREATE TABLE opening_hours (
  branch_id TEXT NOT NULL REFERENCES branch(id) ON DELETE CASCADE,
  weekday   INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),   -- 0 = Sunday
  opens     TEXT NOT NULL CHECK (opens GLOB '[0-2][0-9]:[0-5][0-9]'),
  closes    TEXT NOT NULL CHECK (closes GLOB '[0-2][0-9]:[0-5][0-9]'),
  PRIMARY KEY (branch_id, weekday)
);

CREATE TABLE closed_date (
  branch_id TEXT NOT NULL REFERENCES branch(id) ON DELETE CASCADE,
  date      TEXT NOT NULL CHECK (date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
  reason    TEXT,
  PRIMARY KEY (branch_id, date)
);

CREATE TABLE record (
  id             INTEGER PRIMARY KEY,
  title          TEXT NOT NULL,
  authors        TEXT NOT NULL DEFAULT '[]',        -- JSON array of strings
  publisher      TEXT,
  year           INTEGER,
  isbn           TEXT,
  language       TEXT,
  class_scheme   TEXT CHECK (class_scheme IN ('clc', 'udc', 'ddc')),
  classification TEXT,
  top_class      TEXT,                              -- derived from classification
  subjects       TEXT NOT NULL DEFAULT '[]',        -- JSON array of strings
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);
CREATE INDEX record_isbn ON record(isbn);
CREATE INDEX record_top_class ON record(top_class);

CREATE TABLE item (
  id             INTEGER PRIMARY KEY,
  record_id      INTEGER NOT NULL REFERENCES record(id),
  barcode        TEXT NOT NULL UNIQUE,
  tag_uid        TEXT UNIQUE,
  owner_isil     TEXT,
  home_branch    TEXT NOT NULL REFERENCES branch(id),
  current_branch TEXT REFERENCES branch(id),
  location       TEXT,
  call_number    TEXT,
  item_type      TEXT NOT NULL DEFAULT 'book',
  status         TEXT NOT NULL DEFAULT 'available' CHECK (status IN
                   ('available', 'on_loan', 'on_hold_shelf', 'in_transit', 'lost', 'missing', 'withdrawn', 'in_processing')),
  transit_to     TEXT REFERENCES branch(id),
  price_cents    INTEGER,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);
CREATE INDEX item_record ON item(record_id);

CREATE TABLE patron (
  id             INTEGER PRIMARY KEY,
  card_number    TEXT NOT NULL UNIQUE,
  card_tag_uid   TEXT UNIQUE,
  name           TEXT NOT NULL,
  category       TEXT NOT NULL,
  department     TEXT,
  email          TEXT,
  phone          TEXT,
  birth_date     TEXT,
  home_branch    TEXT REFERENCES branch(id),
  pin_hash       TEXT,
  expiry_date    TEXT NOT NULL,
  blocked_reason TEXT,                              -- manual block; NULL = not blocked
  card_lost      INTEGER NOT NULL DEFAULT 0,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);
CREATE INDEX patron_name ON patron(name);

-- Circulation rules. Every column but the key is nullable: a NULL means "not set here, ask a less
-- specific rule". The '*'/'*'/'*' default rule defines every column.
CREATE TABLE policy (
  id                  INTEGER PRIMARY KEY,
  branch_id           TEXT NOT NULL DEFAULT '*',
  patron_category     TEXT NOT NULL DEFAULT '*',
  item_type           TEXT NOT NULL DEFAULT '*',
  loan_days           INTEGER CHECK (loan_days >= 0),
  max_loans           INTEGER CHECK (max_loans >= 0),
  renewals            INTEGER CHECK (renewals >= 0),
  renewal_days        INTEGER CHECK (renewal_days >= 0),
  holds_allowed       INTEGER CHECK (holds_allowed IN (0, 1)),
  max_holds           INTEGER CHECK (max_holds >= 0),
  fine_per_day_cents  INTEGER CHECK (fine_per_day_cents >= 0),
  max_fine_cents      INTEGER CHECK (max_fine_cents >= 0),
  grace_days          INTEGER CHECK (grace_days >= 0),
  in_library_only     INTEGER CHECK (in_library_only IN (0, 1)),
  block_overdue_items INTEGER CHECK (block_overdue_items >= 1),
  block_fines_cents   INTEGER CHECK (block_fines_cents >= 0),
  lost_fee_cents      INTEGER CHECK (lost_fee_cents >= 0),
  UNIQUE (branch_id, patron_category, item_type)
);

CREATE TABLE loan (
  id             INTEGER PRIMARY KEY,
  item_id        INTEGER NOT NULL REFERENCES item(id),
  patron_id      INTEGER REFERENCES patron(id),     -- NULL once unlinked for privacy
  branch_id      TEXT NOT NULL REFERENCES branch(id),
  checked_out_at TEXT NOT NULL,
  due_at         TEXT NOT NULL,
  renewals       INTEGER NOT NULL DEFAULT 0,
  channel        TEXT NOT NULL,
  closed_at      TEXT,
  close_reason   TEXT CHECK (close_reason IN ('returned', 'lost')),
  return_branch  TEXT REFERENCES branch(id)
);
CREATE UNIQUE INDEX loan_open_item ON loan(item_id) WHERE closed_at IS NULL;
CREATE INDEX loan_open_patron ON loan(patron_id, due_at) WHERE closed_at IS NULL;
CREATE INDEX loan_patron ON loan(patron_id, checked_out_at);

CREATE TABLE hold (
  id              INTEGER PRIMARY KEY,
  record_id       INTEGER NOT NULL REFERENCES record(id),
  patron_id       INTEGER NOT NULL REFERENCES patron(id),
  pickup_branch   TEXT NOT NULL REFERENCES branch(id),
  item_id         INTEGER REFERENCES item(id),        -- set when trapped
  status          TEXT NOT NULL CHECK (status IN ('waiting', 'in_transit', 'ready', 'fulfilled', 'cancelled', 'expired')),
  placed_at       TEXT NOT NULL,
  expires_at      TEXT,
  pickup_deadline TEXT,
  closed_at       TEXT
);
CREATE INDEX hold_record_active ON hold(record_id, placed_at) WHERE status IN ('waiting', 'in_transit', 'ready');
CREATE INDEX hold_patron ON hold(patron_id, status);
CREATE INDEX hold_item ON hold(item_id) WHERE item_id IS NOT NULL;

CREATE TABLE fee (
  id           INTEGER PRIMARY KEY,
  patron_id    INTEGER NOT NULL REFERENCES patron(id),
  loan_id      INTEGER REFERENCES loan(id),
  kind         TEXT NOT NULL CHECK (kind IN ('overdue', 'lost', 'manual')),
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  paid_cents   INTEGER NOT NULL DEFAULT 0 CHECK (paid_cents >= 0 AND paid_cents <= amount_cents),
  created_at   TEXT NOT NULL,
  note         TEXT
);
CREATE INDEX fee_patron_open ON fee(patron_id) WHERE paid_cents < amount_cents;

CREATE TABLE payment (
  id           INTEGER PRIMARY KEY,
  patron_id    INTEGER NOT NULL REFERENCES patron(id),
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  paid_at      TEXT NOT NULL,
  channel      TEXT NOT NULL
);

-- Every circulation operation, granted or refused, with who asked and through which channel.
CREATE TABLE circ_event (
  id         INTEGER PRIMARY KEY,
  ts         TEXT NOT NULL,
  op         TEXT NOT NULL,
  outcome    TEXT NOT NULL CHECK (outcome IN ('ok', 'refused')),
  reason     TEXT,
  channel    TEXT NOT NULL CHECK (channel IN ('kiosk', 'sip2', 'desk', 'opac', 'system')),
  actor      TEXT,
  branch_id  TEXT,
  patron_id  INTEGER,
  item_id    INTEGER,
  loan_id    INTEGER,
  hold_id    INTEGER,
  detail     TEXT                                   -- JSON
);
CREATE INDEX circ_event_ts ON circ_event(ts);
CREATE INDEX circ_event_patron ON circ_event(patron_id);
CREATE INDEX circ_event_item ON circ_event(item_id);

-- Client transaction ids: a retried request returns the stored result instead of running twice.
-- A rowid table with a small unique index: random ids then touch index pages, not the wide rows.
CREATE TABLE client_txn (
  id      INTEGER PRIMARY KEY,
  txn_id  TEXT NOT NULL UNIQUE,
  op      TEXT NOT NULL,
  result  TEXT NOT NULL,                            -- JSON
  at      TEXT NOT NULL
);

CREATE TABLE zone (
  id        TEXT PRIMARY KEY,
  branch_id TEXT NOT NULL REFERENCES branch(id),
  name      TEXT NOT NULL,
  profile   TEXT NOT NULL DEFAULT 'reading_room'
);

-- Devices: kiosks and gateways authenticate with a token; readers, sensors and actuators are
-- configured here and placed in a zone.
CREATE TABLE device (
  id         TEXT PRIMARY KEY,
  kind       TEXT NOT NULL CHECK (kind IN ('kiosk', 'gateway', 'reader', 'sensor', 'actuator', 'camera')),
  branch_id  TEXT REFERENCES branch(id),
  zone_id    TEXT REFERENCES zone(id),
  name       TEXT NOT NULL,
  role       TEXT,
  config     TEXT NOT NULL DEFAULT '{}',
  token_hash TEXT UNIQUE,
  created_at TEXT NOT NULL
);

CREATE TABLE staff_user (
  id            INTEGER PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  display_name  TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'librarian')),
  password_hash TEXT NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0,
  created_at    TEXT NOT NULL
);

CREATE TABLE session (
  token_hash TEXT PRIMARY KEY,
  kind       TEXT NOT NULL CHECK (kind IN ('staff', 'patron')),
  subject_id INTEGER NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
) WITHOUT ROWID;

-- Who read or changed personal data, and when.
CREATE TABLE audit_log (
  id     INTEGER PRIMARY KEY,
  ts     TEXT NOT NULL,
  actor  TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT
);
CREATE INDEX audit_log_target ON audit_log(target);

INSERT INTO policy (branch_id, patron_category, item_type, loan_days, max_loans, renewals, renewal_days,
  holds_allowed, max_holds, fine_per_day_cents, max_fine_cents, grace_days, in_library_only,
  block_overdue_items, block_fines_cents, lost_fee_cents)
VALUES ('*', '*', '*', 28, 10, 2, 28, 1, 10, 0, 0, 0, 0, 5, 1000, 5000);

INSERT INTO setting (key, value) VALUES
  ('time_zone', '"Asia/Shanghai"'),
  ('due_date_strategy', '"next_open_day"'),
  ('hold_expiry_days', '180'),
  ('hold_pickup_days', '7'),
  ('currency', '"CNY"');
