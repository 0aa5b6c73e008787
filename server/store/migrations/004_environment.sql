-- Environment and safety: Zigbee readings (raw, per-minute and per-hour rollups), actuator commands
-- and their reasons, manual overrides, alarms with their ISA-18.2 life cycle, intrusion arming.
-- Times are ISO-8601 UTC strings; rollup buckets are the bucket's start ('…T10:07:00.000Z').
-- Which way the tables are cut, and why, in docs/environment.md ("Storage").

-- A zone's own changes to its profile (ProfileOverrides JSON, checked by resolveProfile).
ALTER TABLE zone ADD COLUMN profile_overrides TEXT NOT NULL DEFAULT '{}';

-- One row per reading message, a column per key of contract/mqtt.ts ReadingValues (NULL = not in the
-- message). One insert per message instead of one per key, and the UNIQUE event id is the durable
-- duplicate filter (INSERT OR IGNORE; a QoS 1 redelivery or an outbox resend is dropped here).
-- No foreign key to device: history outlives a device's row, and the check would cost every insert.
CREATE TABLE reading (
  id          INTEGER PRIMARY KEY,
  event_id    TEXT NOT NULL UNIQUE,
  device_id   TEXT NOT NULL,
  zone_id     TEXT,                                 -- the device's zone when the reading came in
  at          TEXT NOT NULL,                        -- when the sensor took it (the message's ts)
  temperature REAL, humidity REAL, illuminance REAL, battery REAL, voltage REAL, linkquality REAL, position REAL,
  smoke INTEGER, water_leak INTEGER, tamper INTEGER, battery_low INTEGER, occupancy INTEGER, contact INTEGER, vibration INTEGER,
  state TEXT
);
CREATE INDEX reading_device_at ON reading(device_id, at);
CREATE INDEX reading_at ON reading(at);                 -- retention deletes by time

-- Rollups of the numeric keys. min/max/sum/count (not avg) so that merging two partial rollups is
-- exact: the batch writer UPSERTs min(min), max(max), sum + sum, count + count.
CREATE TABLE reading_minute (
  device_id TEXT NOT NULL,
  key       TEXT NOT NULL,
  bucket    TEXT NOT NULL,
  min       REAL NOT NULL,
  max       REAL NOT NULL,
  sum       REAL NOT NULL,
  count     INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (device_id, key, bucket)
) WITHOUT ROWID;

CREATE TABLE reading_hour (
  device_id TEXT NOT NULL,
  key       TEXT NOT NULL,
  bucket    TEXT NOT NULL,
  min       REAL NOT NULL,
  max       REAL NOT NULL,
  sum       REAL NOT NULL,
  count     INTEGER NOT NULL CHECK (count > 0),
  PRIMARY KEY (device_id, key, bucket)
) WITHOUT ROWID;

-- The newest value of every key per device (JSON ReadingValues, each key from its newest message).
CREATE TABLE reading_latest (
  device_id TEXT PRIMARY KEY,
  at        TEXT NOT NULL,
  latest    TEXT NOT NULL,                        -- JSON {key: value}
  key_at    TEXT NOT NULL                         -- JSON {key: ISO time of that value}
) WITHOUT ROWID;

-- Every command sent to an actuator, with why and who; result once the gateway answered.
CREATE TABLE actuator_command (
  id            INTEGER PRIMARY KEY,
  at            TEXT NOT NULL,
  zone_id       TEXT,
  device_id     TEXT NOT NULL,
  role          TEXT NOT NULL,
  gateway_id    TEXT,
  payload       TEXT NOT NULL,                    -- JSON, zigbee2mqtt <name>/set
  state         TEXT,
  source        TEXT NOT NULL CHECK (source IN ('control', 'override', 'failsafe', 'alarm')),
  reason        TEXT NOT NULL,
  actor         TEXT NOT NULL,                    -- 'controller', the override's author, 'alarm:<id>'
  result        TEXT NOT NULL DEFAULT 'pending' CHECK (result IN ('pending', 'ok', 'error')),
  error_code    TEXT,
  error_message TEXT,
  completed_at  TEXT
);
CREATE INDEX actuator_command_zone ON actuator_command(zone_id, id);
CREATE INDEX actuator_command_device ON actuator_command(device_id, id);

-- Manual overrides from the dashboard; at most one open per zone and actuator role.
CREATE TABLE zone_override (
  id         INTEGER PRIMARY KEY,
  zone_id    TEXT NOT NULL REFERENCES zone(id) ON DELETE CASCADE,
  role       TEXT NOT NULL CHECK (role IN ('ac', 'ventilation', 'curtain')),
  state      TEXT NOT NULL CHECK (state IN ('ON', 'OFF', 'OPEN', 'CLOSE')),
  set_by     TEXT NOT NULL,
  note       TEXT,
  set_at     TEXT NOT NULL,
  until      TEXT NOT NULL,
  cleared_at TEXT,
  cleared_by TEXT                                 -- a name, 'expired' or 'replaced'
);
CREATE UNIQUE INDEX zone_override_open ON zone_override(zone_id, role) WHERE cleared_at IS NULL;

-- Alarms. One row per occurrence: raised, then through the ISA-18.2 states until 'normal' (closed).
-- `condition` is whether the process condition is present now; a latched alarm stays active after it
-- went (condition 0) until an operator resets it.
CREATE TABLE alarm (
  id              INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('smoke', 'water_leak', 'intrusion', 'tamper', 'battery_low',
                    'sensor_stale', 'sensor_offline', 'actuator_offline')),
  source          TEXT NOT NULL,                  -- what it is about: a device id, a branch id for intrusion
  branch_id       TEXT,
  zone_id         TEXT,
  device_id       TEXT,
  severity        TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'low')),
  state           TEXT NOT NULL CHECK (state IN ('active_unack', 'active_ack', 'cleared_unack', 'normal')),
  latched         INTEGER NOT NULL CHECK (latched IN (0, 1)),
  condition       INTEGER NOT NULL CHECK (condition IN (0, 1)),
  message         TEXT NOT NULL,
  raised_at       TEXT NOT NULL,
  acknowledged_at TEXT,
  acknowledged_by TEXT,
  ack_comment     TEXT,
  cleared_at      TEXT,
  shelved_until   TEXT,
  shelved_by      TEXT,
  reset_at        TEXT,
  reset_by        TEXT,
  escalated_at    TEXT,
  escalated_to    TEXT,                           -- JSON array of the addresses the mail server accepted
  closed_at       TEXT,
  updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX alarm_open ON alarm(kind, source) WHERE state <> 'normal';
CREATE INDEX alarm_state ON alarm(state, id);

-- Every transition of an alarm, with who and why.
CREATE TABLE alarm_event (
  id         INTEGER PRIMARY KEY,
  alarm_id   INTEGER NOT NULL REFERENCES alarm(id) ON DELETE CASCADE,
  at         TEXT NOT NULL,
  action     TEXT NOT NULL,                       -- raise, realarm, clear, acknowledge, shelve, unshelve, reset, escalate, escalation_failed
  from_state TEXT,
  to_state   TEXT NOT NULL,
  actor      TEXT,
  comment    TEXT
);
CREATE INDEX alarm_event_alarm ON alarm_event(alarm_id, id);

-- Intrusion detection per branch. 'arming' runs the exit delay until armed_at; entry_deadline is a
-- running entry delay (a detector tripped while armed).
CREATE TABLE intrusion_state (
  branch_id         TEXT PRIMARY KEY REFERENCES branch(id) ON DELETE CASCADE,
  state             TEXT NOT NULL CHECK (state IN ('disarmed', 'arming', 'armed')),
  changed_by        TEXT NOT NULL,
  changed_at        TEXT NOT NULL,
  armed_at          TEXT,
  bypassed          TEXT NOT NULL DEFAULT '[]',   -- JSON array of device ids
  entry_deadline    TEXT,
  entry_device      TEXT,
  auto_armed_for    TEXT,                         -- the closing time automatic arming last handled
  auto_disarmed_for TEXT,                         -- the opening time automatic disarming last handled
  blocked           TEXT                          -- why automatic arming waits (JSON: open doors), or NULL
) WITHOUT ROWID;

INSERT INTO setting (key, value) VALUES
  ('environment.raw_days', '7'),
  ('environment.minute_days', '90'),
  ('alarms.escalate_after_minutes', '10'),
  ('alarms.escalate_to', '[]'),
  ('intrusion.exit_delay_s', '300'),
  ('intrusion.entry_delay_s', '30');
