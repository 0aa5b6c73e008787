import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { CampaignInput } from '../../../../server/crm/outreach/campaigns.js';
import { OutreachFeature, type OutreachOptions } from '../../../../server/crm/outreach/outreach.js';
import { openApi, type CallOptions } from '../../http/helpers.js';

export const SECRET = 'test-secret-of-at-least-thirty-two-bytes!';
export const PUBLIC_URL = 'https://library.example.edu';

export interface ConsentFlags { marketing?: 0 | 1; profiling?: 0 | 1; email?: 0 | 1; sms?: 0 | 1; inApp?: 0 | 1 }

/**
 * A library (the HTTP suite's: branches main and east, a fixed clock at Monday 2 March 2026 10:00 in
 * Asia/Shanghai, a real SQLite file) whose app runs the outreach feature.
 */
export function openOutreach(options: Partial<OutreachOptions> = {}) {
  let outreach!: OutreachFeature;
  const api = openApi({}, undefined, ({ db, clock }) => {
    outreach = new OutreachFeature({ db, clock, secret: SECRET, publicUrl: PUBLIC_URL, sleep: async () => {}, ...options });
    return { outreach };
  });

  const lib = {
    ...api, outreach,

    /** One request through the library's app, which mounts the outreach routes as production does. */
    request(path: string, o: CallOptions = {}): Promise<Response> { return api.call(path, o); },

    /** Sets a patron's consent row (unset flags: the migration's defaults, marketing off). */
    consent(patronId: number, f: ConsentFlags) {
      api.db.prepare(`INSERT INTO patron_consent (patron_id, profiling, marketing, channel_email, channel_sms, channel_in_app, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(patron_id) DO UPDATE SET profiling = excluded.profiling, marketing = excluded.marketing,
          channel_email = excluded.channel_email, channel_sms = excluded.channel_sms, channel_in_app = excluded.channel_in_app`)
        .run(patronId, f.profiling ?? 0, f.marketing ?? 0, f.email ?? 1, f.sms ?? 0, f.inApp ?? 1, api.clock.now().toISOString());
    },

    /** A patron who agreed to marketing on every channel. */
    async reader(over: Parameters<typeof api.patron>[0] = {}, flags: ConsentFlags = {}, pin: string | null = null) {
      const p = await api.patron(over, pin);
      lib.consent(p.id, { marketing: 1, email: 1, sms: 1, inApp: 1, ...flags });
      return p;
    },

    profile(patronId: number, p: { tier?: string | null; cluster?: string | null; churnRisk?: number | null; lastLoanAt?: string | null; lastVisitAt?: string | null }) {
      api.db.prepare(`INSERT INTO patron_profile (patron_id, computed_at, loans_total, loans_365d, last_loan_at, visits_90d, last_visit_at, tenure_days, tier, cluster, churn_risk)
          VALUES (?, ?, 0, 0, ?, 0, ?, 0, ?, ?, ?)`)
        .run(patronId, api.clock.now().toISOString(), p.lastLoanAt ?? null, p.lastVisitAt ?? null, p.tier ?? null, p.cluster ?? null, p.churnRisk ?? null);
    },

    messages(campaignId?: number) {
      return api.db.prepare(`SELECT id, patron_id AS patronId, occasion, channel, status, reason, error, variant, recipient, subject, body, attempts
          FROM campaign_message ${campaignId ? 'WHERE campaign_id = ?' : ''} ORDER BY id`).all(...(campaignId ? [campaignId] : [])) as
        { id: number; patronId: number; occasion: string; channel: string; status: string; reason: string | null; error: string | null; variant: string | null;
          recipient: string | null; subject: string | null; body: string | null; attempts: number }[];
    },

    async close() {
      await outreach.stop();
      api.close();
    },
  };
  return lib;
}
export type Outreach = ReturnType<typeof openOutreach>;

/** Just enough of a campaign definition. */
export const campaign = (over: Partial<CampaignInput> = {}): CampaignInput => ({
  name: 'Spring reading week', kind: 'announcement', channel: 'email', audience: { segment: 'all' },
  subject: '春季读书周 Spring reading week', body: '{{name}}，您好！Dear {{name}}, the spring reading week starts on Monday.', ...over,
});

export interface ReceivedMail { from: string; to: string[]; headers: Record<string, string>; subject: string; text: string; raw: string }

/** RFC 2047 encoded words (=?UTF-8?B?…?= and =?UTF-8?Q?…?=), as nodemailer writes them. */
function decodeWords(s: string): string {
  return s.replace(/=\?UTF-8\?([BQ])\?([^?]*)\?=\s*/gi, (_m, enc: string, data: string) => (enc.toUpperCase() === 'B'
    ? Buffer.from(data, 'base64').toString('utf8')
    : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8')));
}

/** A single-part text/plain message, base64 body (email.ts sends them so). */
export function parseMail(raw: string, envelope: { from: string; to: string[] }): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = raw.slice(split + 4);
  const text = /base64/i.test(headers['content-transfer-encoding'] ?? '') ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8') : body;
  return { ...envelope, headers, subject: decodeWords(headers.subject ?? ''), text, raw };
}

/**
 * A real SMTP server on port 0 that keeps what it receives. Recipients starting with "bad" are
 * refused with 550 (permanent), with "busy" with 451 (transient) as long as `busy` is true.
 */
export async function startSmtp() {
  const received: ReceivedMail[] = [];
  const state = { busy: true };
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onRcptTo(address, _session, callback) {
      const refuse = (code: number, text: string) => callback(Object.assign(new Error(text), { responseCode: code }));
      if (address.address.startsWith('bad')) return refuse(550, 'mailbox unavailable');
      if (address.address.startsWith('busy') && state.busy) return refuse(451, 'try again later');
      callback();
    },
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('end', () => {
        received.push(parseMail(Buffer.concat(chunks).toString('utf8'), {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address),
        }));
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    received, state, url: `smtp://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
export type Smtp = Awaited<ReturnType<typeof startSmtp>>;
