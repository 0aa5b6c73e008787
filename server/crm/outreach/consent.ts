import { addDays, localDate, zonedTimeToUtc } from '../../circulation/calendar.js';
import { statement, type Db } from '../../store/db.js';
import { consentOf, type Consent } from '../profile.js';
import type { ChannelName } from './channel.js';

/**
 * Who may be sent what (docs/crm-outreach.md, "Consent"). Every campaign and survey is marketing: it
 * needs patron_consent.marketing = 1 (no row: no marketing) and consent for its channel, and the
 * patron must not have opted out of it. The personalised variant of a text also needs profiling.
 */

/** Why a message was not sent, as logged in campaign_message.reason. */
export const SKIP_REASONS = [
  'NO_MARKETING_CONSENT', 'OPTED_OUT', 'NO_CHANNEL_CONSENT', 'NO_CHANNEL', 'NO_ADDRESS', 'THROTTLED',
  'ALREADY_REGISTERED', 'ALREADY_INVITED', 'ALREADY_ANSWERED', 'CAMPAIGN_ARCHIVED',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** Messaging apps reach the patron's mobile number, so channel_sms covers them (there is no column of their own). */
const CHANNEL_CONSENT: Record<ChannelName, keyof Consent['channels']> = { email: 'email', sms: 'sms', messaging_app: 'sms', in_app: 'inApp' };

export function optedOut(db: Db, patronId: number, scope: string): boolean {
  return statement(db, 'SELECT 1 FROM outreach_opt_out WHERE patron_id = ? AND scope = ?').get(patronId, scope) !== undefined;
}

/** Why this patron may not get a campaign of this kind on this channel, or null when they may. */
export function consentRefusal(db: Db, patronId: number, kind: string, channel: ChannelName): SkipReason | null {
  const consent = consentOf(db, patronId);
  if (!consent.marketing) return 'NO_MARKETING_CONSENT';
  if (optedOut(db, patronId, kind)) return 'OPTED_OUT';
  if (!consent.channels[CHANNEL_CONSENT[channel]]) return 'NO_CHANNEL_CONSENT';
  return null;
}

/** Whether the personalised variant may be used: profiling allowed and no "non-personalised, please". */
export function mayPersonalise(db: Db, patronId: number): boolean {
  return consentOf(db, patronId).profiling && !optedOut(db, patronId, 'personalisation');
}

export type OptOutVia = 'link' | 'opac' | 'staff';

/**
 * Records an opt-out (idempotent: the first time is kept). 'marketing' also sets
 * patron_consent.marketing = 0, creating the row with the other defaults when there is none.
 * Returns whether anything changed.
 */
export function applyOptOut(db: Db, patronId: number, scope: string, via: OptOutVia, now: Date): boolean {
  const ts = now.toISOString();
  return db.transaction(() => {
    const added = db.prepare('INSERT OR IGNORE INTO outreach_opt_out (patron_id, scope, at, via) VALUES (?, ?, ?, ?)').run(patronId, scope, ts, via).changes > 0;
    if (scope !== 'marketing') return added;
    const consent = db.prepare(`INSERT INTO patron_consent (patron_id, marketing, updated_at) VALUES (?, 0, ?)
        ON CONFLICT(patron_id) DO UPDATE SET marketing = 0, updated_at = excluded.updated_at WHERE marketing != 0`).run(patronId, ts).changes > 0;
    return added || consent;
  })();
}

/**
 * The per-patron cap: at most `maxMessages` campaign messages (any campaign, any channel) in `perDays`
 * calendar days of the library, today included. With the defaults (1 per 7 days) a message on a
 * Monday blocks that Monday to Sunday; the next Monday is free again.
 */
export interface ThrottlePolicy { maxMessages: number; perDays: number }
export const DEFAULT_THROTTLE: ThrottlePolicy = { maxMessages: 1, perDays: 7 };

/** The instant the cap's window starts: local midnight perDays − 1 days before today. */
export function throttleWindowStart(policy: ThrottlePolicy, now: Date, timeZone: string): string {
  return zonedTimeToUtc(addDays(localDate(now, timeZone), -(policy.perDays - 1)), '00:00', timeZone).toISOString();
}

/** Messages queued or sent to the patron since the window start (what the cap counts). */
export function recentMessages(db: Db, patronId: number, sinceIso: string): number {
  return (statement(db, `SELECT count(*) AS n FROM campaign_message WHERE patron_id = ? AND status IN ('queued', 'sent')
      AND coalesce(sent_at, created_at) >= ?`).get(patronId, sinceIso) as { n: number }).n;
}
