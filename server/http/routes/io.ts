import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../app.js';
import { ADMIN_SESSION } from '../auth.js';
import { audit } from '../audit.js';
import { actorOf } from '../env.js';
import { HttpProblem, problems } from '../problem.js';
import { ok } from '../schemas/common.js';
import { router } from '../env.js';
import { exportData, importData, ImportError, KIND_NAMES } from '../../io/index.js';
import { systemClock } from '../../clock.js';

const KindParam = z.object({ kind: z.enum(KIND_NAMES) });
const FormatQuery = z.object({ format: z.enum(['csv', 'json']).default('json') });
const ImportQuery = FormatQuery.extend({ skipBad: z.enum(['true', 'false']).default('false') });
const RowProblemSchema = z.object({ line: z.number().int(), field: z.string().nullable(), reason: z.string() }).openapi('RowProblem');
const ImportReportSchema = z.object({
  kind: z.enum(KIND_NAMES), format: z.enum(['csv', 'json']), rows: z.number().int(), imported: z.number().int(), skipped: z.array(RowProblemSchema),
}).openapi('ImportReport');

/** Import and export of the kinds in docs/formats.md, for admins; the body is the file itself. */
export function ioRoutes(deps: AppDeps) {
  const { db, circulation } = deps;
  const clock = deps.clock ?? systemClock;
  const app = router();
  const admin = { tags: ['import-export'], ...ADMIN_SESSION };

  app.openapi(createRoute({
    method: 'post', path: '/import/{kind}', summary: 'Import a CSV or JSON file (all or nothing, unless skipBad=true)', ...admin,
    request: {
      params: KindParam, query: ImportQuery,
      body: { content: { 'text/csv': { schema: z.string() }, 'application/json': { schema: z.array(z.record(z.string(), z.unknown())) } } },
    },
    responses: { 200: ok(ImportReportSchema, 'what was imported and which rows were skipped'), ...problems(400, 401, 403, 413, 422) },
  }), async (c) => {
    const { kind } = c.req.valid('param');
    const { format, skipBad } = c.req.valid('query');
    const text = await c.req.text();
    try {
      const report = await importData(db, { kind, format, text, skipBad: skipBad === 'true', now: clock.now() });
      if (kind === 'policies' || kind === 'calendars') circulation.reload();
      audit(db, clock.now(), actorOf(c.get('principal')), `import.${kind}`, null, { format, imported: report.imported, skipped: report.skipped.length });
      return c.json(report, 200);
    } catch (e) {
      if (!(e instanceof ImportError)) throw e;
      throw new HttpProblem(422, 'IMPORT_REJECTED', `${e.problems.length} bad row(s); nothing was imported`, {
        errors: e.problems.map((p) => ({ in: 'body' as const, field: p.field ? `line ${p.line}: ${p.field}` : `line ${p.line}`, message: p.reason, code: 'bad_row' })),
      });
    }
  });

  app.openapi(createRoute({
    method: 'get', path: '/export/{kind}', summary: 'Export as CSV or JSON (patrons never with PINs)', ...admin,
    request: { params: KindParam, query: FormatQuery },
    responses: { 200: { description: 'the file', content: { 'text/csv': { schema: z.string() }, 'application/json': { schema: z.array(z.record(z.string(), z.unknown())) } } }, ...problems(400, 401, 403) },
  }), (c) => {
    const { kind } = c.req.valid('param');
    const { format } = c.req.valid('query');
    if (kind === 'patrons') audit(db, clock.now(), actorOf(c.get('principal')), 'patron.export', null, { format });
    return c.body(exportData(db, { kind, format }), 200, {
      'Content-Type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json',
      'Content-Disposition': `attachment; filename="${kind}.${format}"`,
    });
  });

  return app;
}
