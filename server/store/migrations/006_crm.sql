-- Patron CRM: what the library learns from and about each patron, what it derives from circulation
-- (reading profile, segments, key-patron status, recommendations), and the services it applies.
-- Every table that holds a patron's data references patron(id) ON DELETE CASCADE, so erasing a patron
-- reaches all of it.

-- ---- secondary data, recorded by staff or by the patron -------------------------------------------

-- The patron's evaluation of and impressions about the library (not complaints: those are cases).
CREATE TABLE patron_feedback (
  id          INTEGER PRIMARY KEY,
  patron_id   INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  at          TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('evaluation', 'impression', 'suggestion', 'praise')),
  rating      INTEGER CHECK (rating BETWEEN 1 AND 5),
  text        TEXT NOT NULL,
  channel     TEXT NOT NULL,
  recorded_by TEXT NOT NULL                            -- staff username, or 'patron' when self-service
);
CREATE INDEX patron_feedback_patron ON patron_feedback(patron_id, at);

-- Special information needs: subject alerts (a CLC class), accessibility needs, anything else.
CREATE TABLE patron_need (
  id         INTEGER PRIMARY KEY,
  patron_id  INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  kind       TEXT NOT NULL CHECK (kind IN ('subject_alert', 'accessibility', 'other')),
  value      TEXT NOT NULL,
  note       TEXT,
  created_at TEXT NOT NULL,
  ended_at   TEXT
);
CREATE INDEX patron_need_patron ON patron_need(patron_id);

-- Communication log: every contact, in either direction, on any channel.
CREATE TABLE communication (
  id         INTEGER PRIMARY KEY,
  patron_id  INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  at         TEXT NOT NULL,
  channel    TEXT NOT NULL CHECK (channel IN ('email', 'phone', 'sms', 'in_person', 'messaging_app', 'in_app', 'letter')),
  direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  staff      TEXT,                                     -- NULL for automatic messages
  summary    TEXT NOT NULL,
  ref        TEXT                                      -- e.g. 'campaign-message:12', 'case:3'
);
CREATE INDEX communication_patron ON communication(patron_id, at);

-- Library events and lectures, and who was invited, registered, came.
CREATE TABLE library_event (
  id         INTEGER PRIMARY KEY,
  title      TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('event', 'lecture', 'workshop', 'exhibition', 'training')),
  branch_id  TEXT REFERENCES branch(id),
  starts_at  TEXT NOT NULL,
  ends_at    TEXT,
  subjects   TEXT NOT NULL DEFAULT '[]',               -- JSON array of CLC classes
  capacity   INTEGER CHECK (capacity > 0),
  created_at TEXT NOT NULL
);
CREATE TABLE event_attendance (
  event_id   INTEGER NOT NULL REFERENCES library_event(id) ON DELETE CASCADE,
  patron_id  INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  status     TEXT NOT NULL CHECK (status IN ('invited', 'registered', 'attended', 'no_show', 'cancelled')),
  at         TEXT NOT NULL,
  PRIMARY KEY (event_id, patron_id)
) WITHOUT ROWID;
CREATE INDEX event_attendance_patron ON event_attendance(patron_id, at);

-- What staff did to keep a patron (a call, an offer, a visit) and how it went.
CREATE TABLE retention_effort (
  id         INTEGER PRIMARY KEY,
  patron_id  INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  at         TEXT NOT NULL,
  staff      TEXT NOT NULL,
  action     TEXT NOT NULL,
  outcome    TEXT CHECK (outcome IN ('pending', 'returned', 'no_response', 'declined')),
  note       TEXT
);
CREATE INDEX retention_effort_patron ON retention_effort(patron_id, at);

-- Complaints, frictions and requests: open → in_progress → resolved → closed (resolved may reopen).
CREATE TABLE crm_case (
  id          INTEGER PRIMARY KEY,
  patron_id   INTEGER REFERENCES patron(id) ON DELETE CASCADE,
  kind        TEXT NOT NULL CHECK (kind IN ('complaint', 'friction', 'request')),
  subject     TEXT NOT NULL,
  detail      TEXT,
  source      TEXT NOT NULL,                           -- 'staff', 'opac', 'survey', 'email', …
  status      TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
  owner       TEXT,                                    -- staff username
  due_at      TEXT NOT NULL,
  resolution  TEXT,
  opened_at   TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  resolved_at TEXT,
  closed_at   TEXT,
  ref         TEXT                                     -- e.g. 'survey-response:7'
);
CREATE INDEX crm_case_patron ON crm_case(patron_id, opened_at);
CREATE INDEX crm_case_open ON crm_case(due_at) WHERE status IN ('open', 'in_progress');

CREATE TABLE crm_case_event (
  id        INTEGER PRIMARY KEY,
  case_id   INTEGER NOT NULL REFERENCES crm_case(id) ON DELETE CASCADE,
  at        TEXT NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,                             -- 'opened', 'assigned', 'status', 'note', 'due'
  status    TEXT,
  note      TEXT
);
CREATE INDEX crm_case_event_case ON crm_case_event(case_id, at);

-- ---- derived: recomputed from circulation, visits and the tables above ---------------------------

-- One row per patron and recompute: the reading profile (only for patrons who allow profiling; the
-- others keep the counts a librarian needs to serve them, with class_shares NULL).
CREATE TABLE patron_profile (
  patron_id     INTEGER PRIMARY KEY REFERENCES patron(id) ON DELETE CASCADE,
  computed_at   TEXT NOT NULL,
  loans_total   INTEGER NOT NULL,
  loans_365d    INTEGER NOT NULL,
  last_loan_at  TEXT,
  visits_90d    INTEGER NOT NULL,
  last_visit_at TEXT,
  tenure_days   INTEGER NOT NULL,
  breadth       INTEGER,                               -- distinct classes borrowed
  class_shares  TEXT,                                  -- JSON {class: share}; NULL without profiling consent
  tier          TEXT,                                  -- engagement tier
  cluster       TEXT,                                  -- subject-interest cluster label
  churn_risk    REAL,                                  -- 0..1
  key_score     REAL,
  key_components TEXT                                  -- JSON {component: contribution}
);
CREATE INDEX patron_profile_tier ON patron_profile(tier);
CREATE INDEX patron_profile_cluster ON patron_profile(cluster);

-- One row per recompute, with its quality figures and the clusters' labels and rules.
CREATE TABLE segment_run (
  id          INTEGER PRIMARY KEY,
  at          TEXT NOT NULL,
  trigger     TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual', 'startup')),
  patrons     INTEGER NOT NULL,
  profiled    INTEGER NOT NULL,
  k           INTEGER,
  silhouette  REAL,
  stability   REAL,
  fidelity    REAL,
  duration_ms INTEGER NOT NULL,
  detail      TEXT NOT NULL                            -- JSON: clusters (label, size, rules), tiers, parameters
);

-- Segment history: a row when a patron's tier or cluster changes (so movement shows), not every run.
CREATE TABLE patron_segment_history (
  patron_id  INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  run_id     INTEGER NOT NULL REFERENCES segment_run(id) ON DELETE CASCADE,
  tier       TEXT,
  cluster    TEXT,
  PRIMARY KEY (patron_id, run_id)
) WITHOUT ROWID;
CREATE INDEX patron_segment_history_run ON patron_segment_history(run_id);

-- Rule-based segments librarians define: a filter over profile fields, saved by name.
CREATE TABLE saved_segment (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  description TEXT,
  filter      TEXT NOT NULL,                           -- JSON, see server/crm/filters.ts
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);

-- Key-patron status: computed flag, and a librarian's pin (1 = always key, 0 = never) with a reason.
CREATE TABLE key_patron_pin (
  patron_id  INTEGER PRIMARY KEY REFERENCES patron(id) ON DELETE CASCADE,
  pinned     INTEGER NOT NULL CHECK (pinned IN (0, 1)),
  reason     TEXT NOT NULL,
  pinned_by  TEXT NOT NULL,
  pinned_at  TEXT NOT NULL
);
CREATE TABLE key_patron (
  patron_id  INTEGER PRIMARY KEY REFERENCES patron(id) ON DELETE CASCADE,
  since      TEXT NOT NULL,
  score      REAL NOT NULL,
  reasons    TEXT NOT NULL                             -- JSON: components, or the pin
);

CREATE TABLE patron_recommendation (
  patron_id  INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  rank       INTEGER NOT NULL,
  record_id  INTEGER NOT NULL REFERENCES record(id) ON DELETE CASCADE,
  score      REAL NOT NULL,
  because    TEXT NOT NULL,                            -- JSON: {kind, recordIds?, classes?}
  PRIMARY KEY (patron_id, rank)
) WITHOUT ROWID;

-- ---- differentiated services --------------------------------------------------------------------

-- A service attached to an audience with effective dates. audience: 'key', 'tier:<t>', 'cluster:<label>',
-- 'saved:<id>'. params by kind: loan_extension {extraDays}, extra_items {extraLoans},
-- new_arrival_alerts {classes?}, subject_librarian {staff}, event_invitations {kinds?}.
CREATE TABLE service_policy (
  id             INTEGER PRIMARY KEY,
  name           TEXT NOT NULL,
  kind           TEXT NOT NULL CHECK (kind IN ('loan_extension', 'extra_items', 'new_arrival_alerts', 'subject_librarian', 'event_invitations')),
  audience       TEXT NOT NULL,
  params         TEXT NOT NULL DEFAULT '{}',
  effective_from TEXT NOT NULL,                        -- YYYY-MM-DD
  effective_to   TEXT,                                 -- YYYY-MM-DD, inclusive; NULL = open-ended
  created_by     TEXT NOT NULL,
  created_at     TEXT NOT NULL
);

-- Which services each patron has now, and had: a row opens when the service starts for the patron and
-- is closed (ended_at) when it stops; the timeline shows both.
CREATE TABLE patron_service (
  id         INTEGER PRIMARY KEY,
  patron_id  INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  policy_id  INTEGER NOT NULL REFERENCES service_policy(id) ON DELETE CASCADE,
  started_at TEXT NOT NULL,
  ended_at   TEXT,
  detail     TEXT
);
CREATE UNIQUE INDEX patron_service_active ON patron_service(patron_id, policy_id) WHERE ended_at IS NULL;
CREATE INDEX patron_service_patron ON patron_service(patron_id, started_at);

-- The circulation policy's per-patron extras from active services, read at checkout and renewal.
CREATE TABLE patron_policy_extra (
  patron_id   INTEGER PRIMARY KEY REFERENCES patron(id) ON DELETE CASCADE,
  extra_days  INTEGER NOT NULL DEFAULT 0 CHECK (extra_days >= 0),
  extra_loans INTEGER NOT NULL DEFAULT 0 CHECK (extra_loans >= 0)
);
