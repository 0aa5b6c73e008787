import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { Sip2AccountSchema } from './sip2/account.js';

/**
 * One configuration: defaults that run the demo, then `shelfsense.config.json` (or the file named by
 * SHELFSENSE_CONFIG), then environment variables. See docs/configuration.md.
 */
export const ConfigSchema = z.object({
  dataDir: z.string().default('var'),
  site: z.string().regex(/^[a-z0-9-]+$/).default('demo'),
  http: z.object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** Set when served over HTTPS so session cookies get the Secure flag. */
    secureCookies: z.boolean().default(false),
    sessionHours: z.number().positive().default(12),
  }).default({ host: '127.0.0.1', port: 8080, secureCookies: false, sessionHours: 12 }),
  mqtt: z.object({
    /** Start the embedded aedes broker; when false, `url` names an external MQTT 3.1.1 broker. */
    embedded: z.boolean().default(true),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(1883),
    wsPort: z.number().int().min(0).max(65535).default(8883),
    url: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
  }).default({ embedded: true, host: '127.0.0.1', port: 1883, wsPort: 8883 }),
  sip2: z.object({
    enabled: z.boolean().default(true),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(6001),
    tlsKeyFile: z.string().optional(),
    tlsCertFile: z.string().optional(),
    maxLineBytes: z.number().int().min(256).default(65536),
    maxConnections: z.number().int().min(1).default(200),
    idleTimeoutMs: z.number().int().min(1000).default(600_000),
    statusBeforeLogin: z.boolean().default(false),
    /** Empty with the demo on: the demo library's SIP2 logins (printed at start) are used. */
    accounts: z.array(Sip2AccountSchema).default([]),
  }).default({ enabled: true, host: '127.0.0.1', port: 6001, maxLineBytes: 65536, maxConnections: 200, idleTimeoutMs: 600_000, statusBeforeLogin: false, accounts: [] }),
  /** Outgoing e-mail (kiosk receipts, care campaigns). Without smtpUrl, nothing is e-mailed. */
  mail: z.object({
    smtpUrl: z.string().optional(),
    from: z.string().default('Shelfsense <library@localhost>'),
  }).default({ from: 'Shelfsense <library@localhost>' }),
  /** Care campaigns and surveys (docs/crm-outreach.md). */
  outreach: z.object({
    /** Key of the signed survey and opt-out links; default: random, kept in <dataDir>/outreach.secret. */
    secret: z.string().min(32).optional(),
    /** Where patrons reach this server, for links in messages; default http://<http.host>:<http.port>. */
    publicUrl: z.string().url().optional(),
    /** Local time of the daily automatic campaigns (birthday, holidays, welcome, win-back). */
    dailyAt: z.string().regex(/^[0-2]\d:[0-5]\d$/).default('09:00'),
    /** At most maxMessages care messages per patron per perDays days. */
    throttle: z.object({ maxMessages: z.number().int().min(1).default(1), perDays: z.number().int().min(1).default(7) }).default({ maxMessages: 1, perDays: 7 }),
    emailRatePerSecond: z.number().positive().default(5),
    surveyLinkDays: z.number().int().min(1).default(30),
  }).default({ dailyAt: '09:00', throttle: { maxMessages: 1, perDays: 7 }, emailRatePerSecond: 5, surveyLinkDays: 30 }),
  crm: z.object({
    /** Hour of the day (UTC) of the scheduled CRM recompute. */
    recomputeHourUtc: z.number().int().min(0).max(23).default(3),
  }).default({ recomputeHourUtc: 3 }),
  rfid: z.object({
    /** A kiosk session ends after this idle time (ms). */
    kioskIdleMs: z.number().int().min(1000).default(60_000),
  }).default({ kioskIdleMs: 60_000 }),
  db: z.object({ synchronous: z.enum(['normal', 'full']).default('normal') }).default({ synchronous: 'normal' }),
  demo: z.object({
    /** Seed the demo library when the data directory is empty. */
    seed: z.boolean().default(true),
    /** Start the gateway and simulators in the same process tree. */
    devices: z.boolean().default(true),
    seedNumber: z.number().int().default(20261124),
  }).default({ seed: true, devices: true, seedNumber: 20261124 }),
});
export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

const ENV: Record<string, (c: Record<string, any>, v: string) => void> = {
  SHELFSENSE_DATA_DIR: (c, v) => { c.dataDir = v; },
  SHELFSENSE_SITE: (c, v) => { c.site = v; },
  SHELFSENSE_HTTP_HOST: (c, v) => { (c.http ??= {}).host = v; },
  SHELFSENSE_HTTP_PORT: (c, v) => { (c.http ??= {}).port = Number(v); },
  SHELFSENSE_SECURE_COOKIES: (c, v) => { (c.http ??= {}).secureCookies = v === 'true' || v === '1'; },
  SHELFSENSE_MQTT_URL: (c, v) => { (c.mqtt ??= {}).url = v; c.mqtt.embedded = false; },
  SHELFSENSE_MQTT_USERNAME: (c, v) => { (c.mqtt ??= {}).username = v; },
  SHELFSENSE_MQTT_PASSWORD: (c, v) => { (c.mqtt ??= {}).password = v; },
  SHELFSENSE_MQTT_PORT: (c, v) => { (c.mqtt ??= {}).port = Number(v); },
  SHELFSENSE_MQTT_WS_PORT: (c, v) => { (c.mqtt ??= {}).wsPort = Number(v); },
  SHELFSENSE_SIP2_ENABLED: (c, v) => { (c.sip2 ??= {}).enabled = v === 'true' || v === '1'; },
  SHELFSENSE_SIP2_HOST: (c, v) => { (c.sip2 ??= {}).host = v; },
  SHELFSENSE_SIP2_PORT: (c, v) => { (c.sip2 ??= {}).port = Number(v); },
  SHELFSENSE_SMTP_URL: (c, v) => { (c.mail ??= {}).smtpUrl = v; },
  SHELFSENSE_OUTREACH_SECRET: (c, v) => { (c.outreach ??= {}).secret = v; },
  SHELFSENSE_PUBLIC_URL: (c, v) => { (c.outreach ??= {}).publicUrl = v; },
  SHELFSENSE_DB_SYNCHRONOUS: (c, v) => { (c.db ??= {}).synchronous = v; },
  SHELFSENSE_DEMO_SEED: (c, v) => { (c.demo ??= {}).seed = v === 'true' || v === '1'; },
  SHELFSENSE_DEMO_DEVICES: (c, v) => { (c.demo ??= {}).devices = v === 'true' || v === '1'; },
};

export function loadConfig(overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const file = env.SHELFSENSE_CONFIG ?? resolve(cwd, 'shelfsense.config.json');
  let fromFile: Record<string, any> = {};
  if (existsSync(file)) {
    try { fromFile = JSON.parse(readFileSync(file, 'utf8')); }
    catch (e) { throw new Error(`configuration file ${file} is not valid JSON: ${(e as Error).message}`); }
  } else if (env.SHELFSENSE_CONFIG) {
    throw new Error(`configuration file ${file} (SHELFSENSE_CONFIG) does not exist`);
  }
  const merged: Record<string, any> = deepMerge(fromFile, {});
  for (const [name, apply] of Object.entries(ENV)) if (env[name] !== undefined) apply(merged, env[name]!);
  const parsed = ConfigSchema.safeParse(deepMerge(merged, overrides as Record<string, any>));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${issues}`);
  }
  const config = parsed.data;
  config.dataDir = resolve(cwd, config.dataDir);
  return config;
}

function deepMerge(a: Record<string, any>, b: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? deepMerge(a[k], v) : v;
  }
  return out;
}

export const dbFile = (config: Config) => resolve(config.dataDir, 'shelfsense.db');
