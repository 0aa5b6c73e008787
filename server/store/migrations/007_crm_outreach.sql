-- CRM outreach: care campaigns and their delivery log, in-app messages, opt-outs, holidays, and
-- satisfaction surveys (docs/crm-outreach.md). Every table that holds a patron's data references
-- patron(id) ON DELETE CASCADE, so erasing a patron reaches all of it.

-- A campaign: who (audience), what (a personalised text and its non-personalised alternative), how
-- (one channel), and, for the automatic kinds, when (params). params by kind:
--   welcome {afterDays}, win_back {inactiveDays, minChurnRisk}, holiday {holidayIds?},
--   event_invitation {eventId, daysBefore}, survey {surveyId}; announcement and birthday take none.
CREATE TABLE campaign (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL,
  kind            TEXT NOT NULL CHECK (kind IN ('announcement', 'birthday', 'holiday', 'welcome', 'win_back', 'event_invitation', 'survey')),
  channel         TEXT NOT NULL CHECK (channel IN ('email', 'in_app', 'sms', 'messaging_app')),
  status          TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'archived')),
  audience        TEXT,                                -- JSON AudienceSpec (server/crm/audience.ts); NULL = every patron
  subject         TEXT NOT NULL,
  body            TEXT NOT NULL,
  generic_subject TEXT,                                -- the non-personalised variant; NULL = subject and body use no profile
  generic_body    TEXT,
  params          TEXT NOT NULL DEFAULT '{}',
  created_by      TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);

-- One send of a campaign: a manual send, or an automatic one on one occasion (a day, a holiday, an event).
CREATE TABLE campaign_run (
  id          INTEGER PRIMARY KEY,
  campaign_id INTEGER NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,
  trigger     TEXT NOT NULL CHECK (trigger IN ('manual', 'automatic')),
  actor       TEXT NOT NULL,
  at          TEXT NOT NULL,
  audience    INTEGER NOT NULL,                        -- patrons the audience and the kind's selection gave
  queued      INTEGER NOT NULL,
  skipped     INTEGER NOT NULL
);
CREATE INDEX campaign_run_campaign ON campaign_run(campaign_id, at);

-- The delivery log: one row per patron and occasion of a campaign, whatever became of it. `sent` only
-- once a channel accepted the message; `failed` with the error; `skipped` with the reason code.
CREATE TABLE campaign_message (
  id              INTEGER PRIMARY KEY,
  campaign_id     INTEGER NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,
  run_id          INTEGER REFERENCES campaign_run(id) ON DELETE SET NULL,
  patron_id       INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  occasion        TEXT NOT NULL,                       -- 'run:12', 'birthday:2026', 'welcome:7', 'win_back:2025-11-02', …
  channel         TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
  reason          TEXT,                                -- skipped: NO_MARKETING_CONSENT, NO_CHANNEL, THROTTLED, …; failed: SEND_FAILED
  error           TEXT,                                -- the channel's words for a failure
  variant         TEXT CHECK (variant IN ('personalised', 'generic')),
  recipient       TEXT,                                -- the address it went to
  subject         TEXT,                                -- as sent
  body            TEXT,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,                                -- queued: not before this instant
  provider_ref    TEXT,                                -- SMTP message id, in_app_message id, provider id
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  sent_at         TEXT,
  UNIQUE (campaign_id, patron_id, occasion)
);
CREATE INDEX campaign_message_patron ON campaign_message(patron_id, created_at);
CREATE INDEX campaign_message_queued ON campaign_message(next_attempt_at) WHERE status = 'queued';
CREATE INDEX campaign_message_run ON campaign_message(run_id);

-- Messages shown in the online catalogue (the in_app channel).
CREATE TABLE in_app_message (
  id                  INTEGER PRIMARY KEY,
  patron_id           INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  campaign_message_id INTEGER REFERENCES campaign_message(id) ON DELETE SET NULL,
  subject             TEXT NOT NULL,
  body                TEXT NOT NULL,
  created_at          TEXT NOT NULL,
  read_at             TEXT
);
CREATE INDEX in_app_message_patron ON in_app_message(patron_id, created_at);

-- What a patron opted out of: 'marketing' (everything; also sets patron_consent.marketing = 0), one
-- campaign kind ('birthday', 'win_back', …), or 'personalisation' (only the non-personalised variant).
CREATE TABLE outreach_opt_out (
  patron_id  INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  scope      TEXT NOT NULL,
  at         TEXT NOT NULL,
  via        TEXT NOT NULL CHECK (via IN ('link', 'opac', 'staff')),
  PRIMARY KEY (patron_id, scope)
) WITHOUT ROWID;

-- Holidays the holiday campaigns greet on: 'MM-DD' every year, or 'YYYY-MM-DD' once (lunar holidays).
CREATE TABLE outreach_holiday (
  id       INTEGER PRIMARY KEY,
  name     TEXT NOT NULL,
  name_zh  TEXT,
  date     TEXT NOT NULL CHECK (date GLOB '[0-1][0-9]-[0-3][0-9]' OR date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
  UNIQUE (date, name)
);
INSERT INTO outreach_holiday (name, name_zh, date) VALUES
  ('New Year''s Day', '元旦', '01-01'),
  ('World Book Day', '世界读书日', '04-23'),
  ('National Day', '国庆节', '10-01');

-- Satisfaction surveys: a questionnaire, the patrons invited to it, their responses and answers.
CREATE TABLE survey (
  id         INTEGER PRIMARY KEY,
  title      TEXT NOT NULL,
  intro      TEXT,
  status     TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'closed')),
  closes_at  TEXT,                                     -- answers refused after this instant
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE survey_question (
  id        INTEGER PRIMARY KEY,
  survey_id INTEGER NOT NULL REFERENCES survey(id) ON DELETE CASCADE,
  position  INTEGER NOT NULL,
  kind      TEXT NOT NULL CHECK (kind IN ('rating', 'nps', 'choice', 'text')),   -- rating 1–5, nps 0–10
  text      TEXT NOT NULL,
  options   TEXT,                                      -- choice: JSON array of strings
  required  INTEGER NOT NULL DEFAULT 1 CHECK (required IN (0, 1)),
  UNIQUE (survey_id, position)
);

-- Who may answer in the online catalogue: a row once an invitation was accepted by a channel.
CREATE TABLE survey_invitation (
  survey_id  INTEGER NOT NULL REFERENCES survey(id) ON DELETE CASCADE,
  patron_id  INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  invited_at TEXT NOT NULL,
  channel    TEXT NOT NULL,
  PRIMARY KEY (survey_id, patron_id)
) WITHOUT ROWID;
CREATE INDEX survey_invitation_patron ON survey_invitation(patron_id);

-- One response per patron and survey (a signed link is single use because of this). tier and cluster
-- are the patron's segment when answering, so results per segment do not move with later recomputes.
CREATE TABLE survey_response (
  id           INTEGER PRIMARY KEY,
  survey_id    INTEGER NOT NULL REFERENCES survey(id) ON DELETE CASCADE,
  patron_id    INTEGER NOT NULL REFERENCES patron(id) ON DELETE CASCADE,
  via          TEXT NOT NULL CHECK (via IN ('opac', 'link')),
  submitted_at TEXT NOT NULL,
  tier         TEXT,
  cluster      TEXT,
  case_id      INTEGER REFERENCES crm_case(id) ON DELETE SET NULL,
  UNIQUE (survey_id, patron_id)
);
CREATE INDEX survey_response_survey ON survey_response(survey_id, submitted_at);

CREATE TABLE survey_answer (
  response_id INTEGER NOT NULL REFERENCES survey_response(id) ON DELETE CASCADE,
  question_id INTEGER NOT NULL REFERENCES survey_question(id) ON DELETE CASCADE,
  score       INTEGER,                                 -- rating 1–5, nps 0–10
  choice      TEXT,
  text        TEXT,
  PRIMARY KEY (response_id, question_id)
) WITHOUT ROWID;
CREATE INDEX survey_answer_question ON survey_answer(question_id);
