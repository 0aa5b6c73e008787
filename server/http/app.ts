import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import type { Db } from '../store/db.js';
import type { Circulation } from '../circulation/circulation.js';
import type { EventBus } from '../bus.js';
import type { Config } from '../config.js';
import type { Clock } from '../clock.js';
import { VERSION } from '../version.js';
import { authenticate } from './auth.js';
import { router } from './env.js';
import { HttpProblem, notFoundProblem, onProblem } from './problem.js';
import { sessionCookieName } from './sessions.js';
import { API_BASE, CSRF_HEADER } from './types.js';
import { authRoutes } from './routes/auth.js';
import { healthRoutes } from './routes/health.js';
import { recordRoutes } from './routes/records.js';
import { itemRoutes } from './routes/items.js';
import { patronRoutes } from './routes/patrons.js';
import { circulationRoutes } from './routes/circulation.js';
import { branchRoutes } from './routes/branches.js';
import { policyRoutes } from './routes/policies.js';
import { meRoutes } from './routes/me.js';
import { adminRoutes } from './routes/admin.js';
import { eventRoutes } from './routes/events.js';
import { ioRoutes } from './routes/io.js';
import { rfidRoutes } from './routes/rfid.js';
import type { RfidFeature } from '../rfid/rfid.js';
import { environmentRoutes } from './routes/environment.js';
import type { EnvironmentFeature } from '../environment/environment.js';
import { crmRoutes } from './routes/crm.js';
import { crmSegmentRoutes } from './routes/crm-segments.js';
import type { CrmFeature } from '../crm/crm.js';
import { outreachRoutes } from './routes/outreach.js';
import type { OutreachFeature } from '../crm/outreach/outreach.js';

export interface AppDeps {
  db: Db;
  circulation: Circulation;
  bus: EventBus;
  config: Config;
  clock?: Clock;
  /** The RFID feature, when the server runs one (kiosk sessions, gates, intake, inventory). */
  rfid?: RfidFeature;
  /** The environment and safety feature (zones, controllers, alarms, intrusion). */
  environment?: EnvironmentFeature;
  /** The patron CRM's schedule (recompute in a worker); without it a recompute runs in-process. */
  crm?: CrmFeature;
  /** Care campaigns, channels and surveys; without it their send and answer routes answer 503. */
  outreach?: OutreachFeature;
  /** Extra health facts (MQTT link state, …) merged into GET /api/v1/health. */
  health?: () => Record<string, unknown>;
}

const MAX_BODY_BYTES = 1024 * 1024;

/** Every resource of the API, mounted under /api/v1; each file is one resource and its routes. */
const RESOURCES = [
  healthRoutes, authRoutes, recordRoutes, itemRoutes, patronRoutes, circulationRoutes, branchRoutes, policyRoutes, meRoutes,
  adminRoutes, eventRoutes, ioRoutes, rfidRoutes, environmentRoutes, crmRoutes, crmSegmentRoutes, outreachRoutes,
];

/**
 * The HTTP API: JSON under /api/v1, errors as RFC 9457 problem+json, inputs validated by the same zod
 * schemas that generate the OpenAPI 3.1 document at /api/v1/openapi.json, live events over SSE.
 */
export function createApp(deps: AppDeps) {
  const app = router();
  app.onError(onProblem);
  app.notFound(notFoundProblem);

  app.use(`${API_BASE}/*`, secureHeaders({ crossOriginResourcePolicy: 'same-origin' }));
  app.use(`${API_BASE}/*`, async function noStore(c, next) {
    await next();
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  });
  app.use(`${API_BASE}/*`, bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => { throw new HttpProblem(413, 'CONTENT_TOO_LARGE', `request bodies are limited to ${MAX_BODY_BYTES} bytes`); },
  }));
  app.use(`${API_BASE}/*`, authenticate(deps));

  for (const resource of RESOURCES) app.route(API_BASE, resource(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey', in: 'cookie', name: sessionCookieName(deps.config),
    description: `staff or patron session from POST /auth/staff/login or /auth/patron/login; state-changing requests also need the ${CSRF_HEADER} header`,
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'device', {
    type: 'http', scheme: 'bearer', description: 'kiosk or gateway device token (POST /devices)',
  });
  app.doc31(`${API_BASE}/openapi.json`, {
    openapi: '3.1.0',
    info: {
      title: 'Shelfsense HTTP API', version: VERSION,
      description: 'Library circulation, catalogue, patrons and live events. Errors are application/problem+json (RFC 9457) with a stable `code`.',
    },
    servers: [{ url: '/' }],
  });
  return app;
}
