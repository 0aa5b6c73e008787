import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { CircEvent } from '../../circulation/circulation.js';
import { systemClock } from '../../clock.js';
import type { Db } from '../../store/db.js';
import type { AppDeps } from '../app.js';
import { audit, patronTarget } from '../audit.js';
import { STAFF_SESSION } from '../auth.js';
import { actorOf, router } from '../env.js';
import { problems } from '../problem.js';
import { CircEventListSchema } from '../schemas/circulation.js';
import { IsoInstant, ok } from '../schemas/common.js';

/** A comment line this often keeps proxies from closing an idle stream and lets the server notice a revoked session. */
export const HEARTBEAT_MS = 15_000;
/** Events resent after a reconnect with Last-Event-ID, at most. */
const REPLAY_LIMIT = 1000;

export const EventLogQuery = z.object({
  patronId: z.coerce.number().int().positive().optional(),
  itemId: z.coerce.number().int().positive().optional(),
  op: z.string().regex(/^[a-z_]{1,40}$/).optional().openapi({ description: 'checkout, checkin, renew, renew_all, place_hold, cancel_hold, …' }),
  outcome: z.enum(['ok', 'refused']).optional(),
  since: IsoInstant.optional().openapi({ description: 'events at or after this instant' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

type EventRow = Omit<CircEvent, 'detail' | 'branchId' | 'patronId' | 'itemId' | 'loanId' | 'holdId'> & {
  branch_id: string | null; patron_id: number | null; item_id: number | null; loan_id: number | null; hold_id: number | null; detail: string | null;
};
const toEvent = (r: EventRow) => ({
  id: r.id, ts: r.ts, op: r.op, outcome: r.outcome, reason: r.reason, channel: r.channel, actor: r.actor, branchId: r.branch_id,
  patronId: r.patron_id, itemId: r.item_id, loanId: r.loan_id, holdId: r.hold_id,
  detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
});

function readLog(db: Db, q: z.output<typeof EventLogQuery> & { afterId?: number }) {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => { if (v !== undefined) { where.push(sql); args.push(v); } };
  add('patron_id = ?', q.patronId);
  add('item_id = ?', q.itemId);
  add('op = ?', q.op);
  add('outcome = ?', q.outcome);
  add('ts >= ?', q.since);
  add('id > ?', q.afterId);
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const order = q.afterId !== undefined ? 'ASC' : 'DESC';
  return (db.prepare(`SELECT id, ts, op, outcome, reason, channel, actor, branch_id, patron_id, item_id, loan_id, hold_id, detail
    FROM circ_event ${clause} ORDER BY id ${order} LIMIT ?`).all(...args, q.limit) as EventRow[]).map(toEvent);
}

/** Live bus events over Server-Sent Events, and the circulation event log, for staff. */
export function eventRoutes(deps: AppDeps) {
  const { db, bus } = deps;
  const clock = deps.clock ?? systemClock;
  const app = router();

  app.openapi(createRoute({
    method: 'get', path: '/events', tags: ['events'], ...STAFF_SESSION,
    summary: 'Live events (Server-Sent Events): `event: circulation` (a CircEvent, with `id:`), `event: gateway` (a GatewayEvent) and `event: rfid` (kiosk sessions, gate alarms, returns, entrance decisions, reader status) and `event: environment` (readings summaries, commands, alarms, intrusion)',
    description: `A comment line every ${HEARTBEAT_MS / 1000} s keeps the stream open. Reconnecting with Last-Event-ID resends the circulation events missed since.`,
    request: { headers: z.object({ 'Last-Event-ID': z.string().regex(/^\d{1,15}$/).optional() }) },
    responses: { 200: { description: 'the event stream', content: { 'text/event-stream': { schema: z.string() } } }, ...problems(400, 401, 403) },
  }), (c) => {
    const principal = c.get('principal');
    const lastId = c.req.valid('header')['Last-Event-ID'];
    return streamSSE(c, async (stream) => {
      const send = (event: string, data: unknown, id?: number) =>
        void stream.writeSSE({ event, data: JSON.stringify(data), ...(id !== undefined ? { id: String(id) } : {}) });
      await stream.write(': connected\n\n');
      // Replay and subscription happen in one synchronous step, so no event falls between them.
      if (lastId !== undefined) for (const e of readLog(db, { afterId: Number(lastId), limit: REPLAY_LIMIT })) send('circulation', e, e.id);
      const unsubscribe = [
        bus.on('circulation', (e) => send('circulation', e, e.id)),
        bus.on('gateway', (e) => send('gateway', e)),
        bus.on('rfid', (e) => send('rfid', e)),
        bus.on('environment', (e) => send('environment', e)),
      ];
      let heartbeat: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        stream.onAbort(resolve);
        heartbeat = setInterval(() => {
          const live = db.prepare('SELECT 1 FROM session WHERE token_hash = ? AND expires_at > ?').get(principal.session.tokenHash, clock.now().toISOString());
          if (!live) resolve(); // signed out or expired: end the stream
          else void stream.write(': heartbeat\n\n');
        }, HEARTBEAT_MS);
      });
      clearInterval(heartbeat);
      for (const off of unsubscribe) off();
    });
  });

  app.openapi(createRoute({
    method: 'get', path: '/events/log', tags: ['events'], summary: 'The circulation event log (granted and refused operations), newest first', ...STAFF_SESSION,
    request: { query: EventLogQuery },
    responses: { 200: ok(CircEventListSchema, 'matching events'), ...problems(400, 401, 403) },
  }), (c) => {
    const q = c.req.valid('query');
    if (q.patronId !== undefined) audit(db, clock.now(), actorOf(c.get('principal')), 'patron.events.read', patronTarget(q.patronId));
    return c.json({ events: readLog(db, q) }, 200);
  });

  return app;
}
