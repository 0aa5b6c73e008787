import { createRoute, z } from '@hono/zod-openapi';
import { VERSION } from '../../version.js';
import type { AppDeps } from '../app.js';
import { ok } from '../schemas/common.js';
import { router } from '../env.js';

export const HealthSchema = z.looseObject({
  ok: z.boolean(),
  version: z.string(),
  db: z.object({ ok: z.boolean(), error: z.string().optional() }),
}).openapi('Health', { description: 'plus what the running server adds (e.g. mqtt)' });

/** Liveness for operators and probes; no sign-in, no personal data. 503 when the store does not answer. */
export function healthRoutes(deps: AppDeps) {
  const app = router();
  app.openapi(createRoute({
    method: 'get', path: '/health', tags: ['health'], summary: 'Server health: version, store, and extra facts of the running server',
    responses: { 200: ok(HealthSchema, 'healthy'), 503: ok(HealthSchema, 'the store does not answer') },
  }), (c) => {
    let db: { ok: boolean; error?: string };
    try {
      deps.db.prepare('SELECT 1').get();
      db = { ok: true };
    } catch (e) {
      db = { ok: false, error: (e as Error).message };
    }
    let extra: Record<string, unknown> = {};
    try { extra = deps.health?.() ?? {}; } catch (e) { extra = { healthError: (e as Error).message }; }
    const body = { ...extra, ok: db.ok, version: VERSION, db };
    return db.ok ? c.json(body, 200) : c.json(body, 503);
  });
  return app;
}
