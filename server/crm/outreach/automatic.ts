import { addDays, localDate, zonedParts, zonedTimeToUtc } from '../../circulation/calendar.js';
import { DomainError, notFound } from '../../errors.js';
import type { Db } from '../../store/db.js';
import { AUTOMATIC_KINDS, audienceOf, listCampaigns, planRun, type Campaign, type KindParams, type KindRules, type OutreachContext, type RunSummary, type Target } from './campaigns.js';

/**
 * The daily automatic campaigns. Each active campaign of an automatic kind picks its patrons for
 * today (in the library's time zone), within its audience when it has one, each with an occasion
 * that makes the send happen once: a birthday once a year, a welcome step once, a win-back once per
 * lapse, a holiday once per date, an event invitation once per event.
 */

const DAY_MS = 86_400_000;
/** A welcome step is still sent this many days late (a server that was down on the day). */
export const WELCOME_CATCH_UP_DAYS = 3;

const isLeapYear = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Patrons whose birthday is `today` ('YYYY-MM-DD'); those born on 29 February are greeted on the 28th in other years. */
export function birthdaysOn(db: Db, today: string): number[] {
  const monthDay = today.slice(5);
  const leapDayToo = monthDay === '02-28' && !isLeapYear(Number(today.slice(0, 4)));
  return db.prepare(`SELECT id FROM patron WHERE birth_date IS NOT NULL AND (substr(birth_date, 6, 5) = ? OR (? AND substr(birth_date, 6, 5) = '02-29')) ORDER BY id`)
    .pluck().all(monthDay, leapDayToo ? 1 : 0) as number[];
}

/** Patrons registered on local dates `from` to `to`, both included. */
export function registeredBetween(db: Db, from: string, to: string, timeZone: string): number[] {
  return db.prepare('SELECT id FROM patron WHERE created_at >= ? AND created_at < ? ORDER BY id').pluck()
    .all(zonedTimeToUtc(from, '00:00', timeZone).toISOString(), zonedTimeToUtc(addDays(to, 1), '00:00', timeZone).toISOString()) as number[];
}

/**
 * Lapsing patrons: churn risk (patron_profile) at least `minChurnRisk`, and no loan or visit in the last
 * `inactiveDays` days. The last activity is the latest of the profile's last loan and visit and the loan
 * and visit tables themselves (the profile may be a day old); a patron who never came counts from
 * registration. Each with the date of that last activity.
 */
export function lapsingPatrons(db: Db, now: Date, inactiveDays: number, minChurnRisk: number): { patronId: number; lastActivity: string }[] {
  const cutoff = new Date(now.getTime() - inactiveDays * DAY_MS).toISOString();
  return db.prepare(`SELECT id AS patronId, last AS lastActivity FROM (
      SELECT p.id, max(p.created_at, coalesce(pp.last_loan_at, ''), coalesce(pp.last_visit_at, ''),
        coalesce((SELECT max(checked_out_at) FROM loan l WHERE l.patron_id = p.id), ''),
        coalesce((SELECT max(at) FROM visit v WHERE v.patron_id = p.id AND v.allowed = 1), '')) AS last
      FROM patron p JOIN patron_profile pp ON pp.patron_id = p.id
      WHERE pp.churn_risk >= ?)
    WHERE last < ? ORDER BY id`).all(minChurnRisk, cutoff) as { patronId: number; lastActivity: string }[];
}

export interface Holiday { id: number; name: string; nameZh: string | null; date: string }
const HOLIDAY_COLUMNS = 'id, name, name_zh AS nameZh, date';

/** Holidays on `today`: the ones for every year ('MM-DD') and the ones for this date only. */
export function holidaysOn(db: Db, today: string): Holiday[] {
  return db.prepare(`SELECT ${HOLIDAY_COLUMNS} FROM outreach_holiday WHERE date IN (?, ?) ORDER BY id`).all(today, today.slice(5)) as Holiday[];
}

export const listHolidays = (db: Db): Holiday[] => db.prepare(`SELECT ${HOLIDAY_COLUMNS} FROM outreach_holiday ORDER BY date, id`).all() as Holiday[];

export function addHoliday(db: Db, h: { name: string; nameZh?: string | null; date: string }): Holiday {
  // MM-DD is checked in a leap year, so 02-29 is a date; a date that does not exist (13-01, 02-30) is refused.
  const full = /^\d{2}-\d{2}$/.test(h.date) ? `2024-${h.date}` : /^\d{4}-\d{2}-\d{2}$/.test(h.date) ? h.date : null;
  const ms = full === null ? Number.NaN : Date.parse(`${full}T00:00:00Z`);
  const valid = !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(full!);
  if (!valid) throw new DomainError('HOLIDAY_DATE_INVALID', `"${h.date}" is neither MM-DD nor YYYY-MM-DD`, 422);
  try {
    const id = Number(db.prepare('INSERT INTO outreach_holiday (name, name_zh, date) VALUES (?, ?, ?)').run(h.name, h.nameZh ?? null, h.date).lastInsertRowid);
    return db.prepare(`SELECT ${HOLIDAY_COLUMNS} FROM outreach_holiday WHERE id = ?`).get(id) as Holiday;
  } catch (e) {
    if (e instanceof Error && e.message.includes('UNIQUE')) throw new DomainError('DUPLICATE_HOLIDAY', `${h.name} on ${h.date} is already listed`, 409);
    throw e;
  }
}

export function deleteHoliday(db: Db, id: number): void {
  if (db.prepare('DELETE FROM outreach_holiday WHERE id = ?').run(id).changes === 0) throw notFound('holiday', id);
}

interface EventRow { id: number; title: string; starts_at: string }
const eventOf = (db: Db, id: number) => db.prepare('SELECT id, title, starts_at FROM library_event WHERE id = ?').get(id) as EventRow | undefined;

/** Today's patrons of one automatic campaign, each with its occasion (before consent and the cap). */
export function automaticTargets(ctx: OutreachContext, campaign: Campaign, now: Date): Target[] {
  const { db, timeZone } = ctx;
  const today = localDate(now, timeZone);
  const within = (ids: number[]) => {
    if (!campaign.audience) return ids;
    const audience = new Set(audienceOf(ctx, campaign, now));
    return ids.filter((id) => audience.has(id));
  };
  switch (campaign.kind) {
    case 'birthday':
      return within(birthdaysOn(db, today)).map((patronId) => ({ patronId, occasion: `birthday:${today.slice(0, 4)}` }));
    case 'welcome': {
      const { afterDays } = campaign.params as KindParams['welcome'];
      const due = addDays(today, -afterDays);
      return within(registeredBetween(db, addDays(due, -WELCOME_CATCH_UP_DAYS), due, timeZone)).map((patronId) => ({ patronId, occasion: `welcome:${afterDays}` }));
    }
    case 'win_back': {
      const { inactiveDays, minChurnRisk } = campaign.params as KindParams['win_back'];
      const lapsing = lapsingPatrons(db, now, inactiveDays, minChurnRisk);
      const ids = new Set(within(lapsing.map((l) => l.patronId)));
      return lapsing.filter((l) => ids.has(l.patronId)).map((l) => ({ patronId: l.patronId, occasion: `win_back:${localDate(new Date(l.lastActivity), timeZone)}` }));
    }
    case 'holiday': {
      const { holidayIds } = campaign.params as KindParams['holiday'];
      const holidays = holidaysOn(db, today).filter((h) => !holidayIds || holidayIds.includes(h.id));
      if (!holidays.length) return [];
      const audience = audienceOf(ctx, campaign, now);
      return holidays.flatMap((h) => audience.map((patronId) => ({ patronId, occasion: `holiday:${h.id}:${today}` })));
    }
    case 'event_invitation': {
      const { eventId, daysBefore } = campaign.params as KindParams['event_invitation'];
      const event = eventOf(db, eventId);
      if (!event) return [];
      const starts = Date.parse(event.starts_at);
      if (now.getTime() >= starts || now.getTime() < starts - daysBefore * DAY_MS) return [];
      return audienceOf(ctx, campaign, now).map((patronId) => ({ patronId, occasion: `event:${eventId}` }));
    }
    default:
      return [];
  }
}

export interface AutomaticResult { campaignId: number; kind: string; summary?: RunSummary; error?: string }

/** One daily run: every active automatic campaign, each on its own (one failing does not stop the rest). */
export function runAutomatic(ctx: OutreachContext, now: Date, log?: (line: string) => void): AutomaticResult[] {
  return listCampaigns(ctx.db, { status: 'active' }).filter((c) => AUTOMATIC_KINDS.includes(c.kind)).map((c) => {
    try {
      const targets = automaticTargets(ctx, c, now);
      return { campaignId: c.id, kind: c.kind, summary: targets.length ? planRun(ctx, c, targets, 'automatic', 'system:outreach') : undefined };
    } catch (e) {
      log?.(`outreach: automatic campaign ${c.id} (${c.kind}) failed: ${e instanceof Error ? e.message : e}`);
      return { campaignId: c.id, kind: c.kind, error: e instanceof Error ? e.message : String(e) };
    }
  });
}

/** The holiday's name for {{holiday}}, from the occasion 'holiday:<id>:<date>'. */
export const holidayRules: KindRules = {
  values(db, _c, occasion) {
    const h = db.prepare('SELECT name, name_zh FROM outreach_holiday WHERE id = ?').get(Number(occasion.split(':')[1])) as { name: string; name_zh: string | null } | undefined;
    return { holiday: h ? [h.name_zh, h.name].filter(Boolean).join(' ') : null };
  },
};

/**
 * Event invitations: not to patrons already registered or attended; {{event}} and {{eventDate}}
 * (local time); a sent invitation marks the patron invited in event_attendance (unless they had
 * another status already). A manual send for an event that has started is refused.
 */
export function eventRules(timeZone: string): KindRules {
  const params = (c: Campaign) => c.params as KindParams['event_invitation'];
  return {
    check(db, c, now) {
      const e = eventOf(db, params(c).eventId);
      if (!e) throw notFound('event', params(c).eventId);
      if (Date.parse(e.starts_at) <= now.getTime()) throw new DomainError('EVENT_STARTED', `event ${e.id} started at ${e.starts_at}`, 409);
    },
    skip(db, c, patronId) {
      const a = db.prepare('SELECT status FROM event_attendance WHERE event_id = ? AND patron_id = ?').get(params(c).eventId, patronId) as { status: string } | undefined;
      if (a && (a.status === 'registered' || a.status === 'attended')) return 'ALREADY_REGISTERED';
      // Invited already (by this campaign's other run, or by the event-invitation service): once is enough.
      return a?.status === 'invited' ? 'ALREADY_INVITED' : null;
    },
    values(db, c) {
      const e = eventOf(db, params(c).eventId);
      if (!e) return {};
      const p = zonedParts(new Date(e.starts_at), timeZone);
      return { event: e.title, eventDate: `${localDate(new Date(e.starts_at), timeZone)} ${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}` };
    },
    onSent(db, c, m, now) {
      db.prepare(`INSERT INTO event_attendance (event_id, patron_id, status, at) VALUES (?, ?, 'invited', ?) ON CONFLICT DO NOTHING`)
        .run(params(c).eventId, m.patronId, now.toISOString());
    },
  };
}
