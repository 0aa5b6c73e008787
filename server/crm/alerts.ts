import type { Db } from '../store/db.js';
import { CLC_NAMES } from '../catalogue/classification.js';
import { getSetting, setSetting } from '../store/db.js';

/**
 * The services that reach out by themselves: new-arrival alerts in a patron's subjects, and
 * invitations to new events for patrons with the event-invitation service. A new-arrival alert is
 * what the patron asked for (an information need, or a service of their segment): it needs the in-app
 * channel's consent only. An event invitation is marketing (migration 002): it needs marketing consent
 * too, and no opt-out of marketing or of event invitations. Both go to the online catalogue's message
 * list, one message per patron per run, logged in the communication log.
 *
 * Who gets a new-arrival alert for a class: patrons with a current subject alert for it (an
 * information need), and patrons with an active `new_arrival_alerts` service whose `classes` name it
 * or, without `classes`, whose reading profile has at least `PROFILE_SHARE` of its loans in it
 * (profiling consent only).
 */
export const PROFILE_SHARE = 0.25;
const LAST_RUN = 'crm_alerts_last_run';
const MAX_TITLES = 10;

export interface AlertRun { since: string; newRecords: number; alerted: number; newEvents: number; invited: number }

export function sendServiceAlerts(db: Db, now: Date): AlertRun {
  const nowIso = now.toISOString();
  const since = getSetting<string | null>(db, LAST_RUN, null);
  // The first run only sets the mark: a catalogue just imported or seeded is not "new arrivals".
  if (since === null) {
    setSetting(db, LAST_RUN, nowIso);
    return { since: nowIso, newRecords: 0, alerted: 0, newEvents: 0, invited: 0 };
  }
  return db.transaction(() => {
    const records = db.prepare(`SELECT id, title, top_class FROM record WHERE created_at > ? AND created_at <= ? AND top_class IS NOT NULL ORDER BY id`)
      .all(since, nowIso) as { id: number; title: string; top_class: string }[];
    const byClass = new Map<string, string[]>();
    for (const r of records) (byClass.get(r.top_class) ?? byClass.set(r.top_class, []).get(r.top_class)!).push(r.title);

    const inApp = `coalesce((SELECT c.channel_in_app FROM patron_consent c WHERE c.patron_id = p.id), 1) = 1`;
    const alertFor = new Map<number, Set<string>>();
    const add = (patronId: number, cls: string) => (alertFor.get(patronId) ?? alertFor.set(patronId, new Set()).get(patronId)!).add(cls);
    for (const cls of byClass.keys()) {
      const needs = db.prepare(`SELECT DISTINCT n.patron_id FROM patron_need n JOIN patron p ON p.id = n.patron_id
          WHERE n.kind = 'subject_alert' AND n.value = ? AND n.ended_at IS NULL AND ${inApp}`).pluck().all(cls) as number[];
      const served = db.prepare(`SELECT DISTINCT s.patron_id FROM patron_service s JOIN service_policy sp ON sp.id = s.policy_id JOIN patron p ON p.id = s.patron_id
          LEFT JOIN patron_profile pp ON pp.patron_id = p.id LEFT JOIN patron_consent pc ON pc.patron_id = p.id
          WHERE s.ended_at IS NULL AND sp.kind = 'new_arrival_alerts' AND ${inApp} AND (
            EXISTS (SELECT 1 FROM json_each(json_extract(sp.params, '$.classes')) WHERE value = @cls)
            OR (json_extract(sp.params, '$.classes') IS NULL AND pc.profiling = 1 AND coalesce(json_extract(pp.class_shares, '$.' || @cls), 0) >= @share))`)
        .pluck().all({ cls, share: PROFILE_SHARE }) as number[];
      for (const id of [...needs, ...served]) add(id, cls);
    }
    const message = db.prepare('INSERT INTO in_app_message (patron_id, subject, body, created_at) VALUES (?, ?, ?, ?)');
    const log = db.prepare(`INSERT INTO communication (patron_id, at, channel, direction, staff, summary, ref) VALUES (?, ?, 'in_app', 'out', NULL, ?, ?)`);
    for (const [patronId, classes] of alertFor) {
      const lines: string[] = [];
      for (const cls of classes) {
        const titles = byClass.get(cls)!;
        lines.push(`${CLC_NAMES[cls]?.zh ?? cls} ${CLC_NAMES[cls]?.en ?? cls}: ${titles.slice(0, MAX_TITLES).join('; ')}${titles.length > MAX_TITLES ? ` (+${titles.length - MAX_TITLES})` : ''}`);
      }
      message.run(patronId, '新书到馆 New arrivals in your subjects', lines.join('\n'), nowIso);
      log.run(patronId, nowIso, `new-arrival alert: ${[...classes].join(', ')}`, `new-arrivals:${nowIso.slice(0, 10)}`);
    }

    // Events created since the last run, still ahead: invite the patrons whose service asks for it.
    const events = db.prepare(`SELECT id, title, kind, starts_at FROM library_event WHERE created_at > ? AND created_at <= ? AND starts_at > ? ORDER BY starts_at`)
      .all(since, nowIso, nowIso) as { id: number; title: string; kind: string; starts_at: string }[];
    let invited = 0;
    const invite = db.prepare(`INSERT INTO event_attendance (event_id, patron_id, status, at) VALUES (?, ?, 'invited', ?) ON CONFLICT(event_id, patron_id) DO NOTHING`);
    for (const e of events) {
      const patrons = db.prepare(`SELECT DISTINCT s.patron_id FROM patron_service s JOIN service_policy sp ON sp.id = s.policy_id JOIN patron p ON p.id = s.patron_id
          WHERE s.ended_at IS NULL AND sp.kind = 'event_invitations' AND ${inApp}
            AND coalesce((SELECT c.marketing FROM patron_consent c WHERE c.patron_id = p.id), 0) = 1
            AND NOT EXISTS (SELECT 1 FROM outreach_opt_out o WHERE o.patron_id = p.id AND o.scope IN ('marketing', 'event_invitation'))
            AND (json_extract(sp.params, '$.eventKinds') IS NULL OR EXISTS (SELECT 1 FROM json_each(json_extract(sp.params, '$.eventKinds')) WHERE value = ?))`)
        .pluck().all(e.kind) as number[];
      for (const patronId of patrons) {
        if (invite.run(e.id, patronId, nowIso).changes === 0) continue;
        message.run(patronId, `活动邀请 You are invited: ${e.title}`, `${e.title}\n${e.starts_at}`, nowIso);
        log.run(patronId, nowIso, `invited to ${e.title}`, `event:${e.id}`);
        invited++;
      }
    }
    setSetting(db, LAST_RUN, nowIso);
    return { since, newRecords: records.length, alerted: alertFor.size, newEvents: events.length, invited };
  })();
}
