import { topics, type CommandResponse, type ReadingValues } from '../../../contract/mqtt.js';
import { topicMatches } from '../../../contract/topic-match.js';
import { EnvironmentFeature, type EnvironmentDeps } from '../../../server/environment/environment.js';
import { authenticate } from '../../../server/http/auth.js';
import { router } from '../../../server/http/env.js';
import { notFoundProblem, onProblem } from '../../../server/http/problem.js';
import { environmentRoutes } from '../../../server/http/routes/environment.js';
import type { Api, CallOptions } from '../http/helpers.js';

/** The gateway side of the MQTT link: records commands, answers them, delivers messages to subscribers. */
export function fakeLink() {
  const subs: { filter: string; handler: (t: string, b: Record<string, unknown> | null, p: Buffer) => void }[] = [];
  const calls: { gatewayId: string; name: string; params: Record<string, unknown> | undefined }[] = [];
  const link = {
    site: 'demo', calls,
    answer: (_params: Record<string, unknown> | undefined): CommandResponse => ({ transaction: 't', status: 'ok', data: {}, ts: new Date().toISOString() }),
    subscribe(filter: string, handler: (typeof subs)[number]['handler']) { const s = { filter, handler }; subs.push(s); return () => { subs.splice(subs.indexOf(s), 1); }; },
    async command(gatewayId: string, name: string, params?: Record<string, unknown>) { calls.push({ gatewayId, name, params }); return link.answer(params); },
    deliver(topic: string, body: Record<string, unknown>) { for (const s of subs) if (topicMatches(s.filter, topic)) s.handler(topic, body, Buffer.from(JSON.stringify(body))); },
    /** The zigbee.set payloads sent to one device, in order. */
    sent: (deviceId: string) => calls.filter((c) => c.params?.deviceId === deviceId).map((c) => c.params?.payload),
  };
  return link;
}

/**
 * The environment feature on the test API's database and clock, started, with `read` (one reading
 * through the link, stored and handed on at once) and `call` (the environment routes through
 * `app.request`, signed in as the given session).
 */
export function startEnvironment(api: Api, deps: Partial<EnvironmentDeps> = {}) {
  const link = fakeLink();
  const env = new EnvironmentFeature({ db: api.db, clock: api.clock, link, flushMs: 5, ...deps });
  env.start();
  let serial = 0;
  const read = (deviceId: string, values: ReadingValues, id = `evt-${++serial}`) => {
    link.deliver(topics.envReading('demo'), { id, ts: api.clock.now().toISOString(), gatewayId: 'gw-main', deviceId, source: 'zigbee2mqtt', values });
    env.flush();
    return env.settled();
  };
  const app = router();
  app.onError(onProblem);
  app.notFound(notFoundProblem);
  app.use('/api/v1/*', authenticate(api));
  app.route('/api/v1', environmentRoutes({ ...api, environment: env }));
  const call = (path: string, o: CallOptions = {}) => Promise.resolve(app.request(`/api/v1${path}`, {
    method: o.method ?? (o.body !== undefined ? 'POST' : 'GET'),
    headers: { ...(o.body !== undefined && { 'Content-Type': 'application/json' }), ...(o.as && { Cookie: o.as.cookie, 'X-CSRF-Token': o.as.csrfToken }) },
    ...(o.body !== undefined && { body: JSON.stringify(o.body) }),
  }));
  return { env, link, read, call };
}
