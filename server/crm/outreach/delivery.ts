import { statement, type Db } from '../../store/db.js';
import { getCampaign, recipientOf, type Campaign, type OutreachContext } from './campaigns.js';
import type { Channel, ChannelName, Delivery } from './channel.js';
import { consentRefusal, mayPersonalise, type SkipReason } from './consent.js';
import { canPersonalise, footer, render, type TemplateValues } from './templates.js';
import type { TokenSigner } from './tokens.js';

/**
 * The outbox: hands queued campaign messages to their channel, one at a time, at each channel's
 * rate. Consent is checked again just before sending (it may have been withdrawn since planning).
 * Accepted → `sent`, with a line in the patron's communication log; a permanent failure, or the last
 * attempt, → `failed` with the error; a transient failure stays `queued` until its next attempt.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Wait before attempt 2, 3, …; the last value repeats. */
  backoffMs: number[];
}
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, backoffMs: [5 * 60_000, 30 * 60_000] };

/** Where the links in messages lead. */
export interface OutreachLinks {
  /** GET shows the opt-out page, POST (RFC 8058 one-click) applies it. */
  optOut(token: string): string;
  /** The online catalogue's page that answers a survey through GET/POST /survey-links/{token}. */
  survey(token: string): string;
}
export function defaultLinks(publicUrl: string): OutreachLinks {
  const base = publicUrl.replace(/\/+$/, '');
  return { optOut: (t) => `${base}/api/v1/opt-out/${t}`, survey: (t) => `${base}/opac/#/survey/${t}` };
}

export interface DeliveryDeps {
  ctx: OutreachContext;
  signer: TokenSigner;
  links: OutreachLinks;
  retry?: RetryPolicy;
  /** How long opt-out links work; default 365 days. */
  optOutDays?: number;
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
}

const COMMUNICATION_CHANNEL: Record<ChannelName, string> = { email: 'email', sms: 'sms', in_app: 'in_app', messaging_app: 'messaging_app' };
const DAY_MS = 86_400_000;

interface QueuedRow { id: number; campaign_id: number; run_id: number | null; patron_id: number; occasion: string; channel: ChannelName; attempts: number }

/** Messages delivered between two yields to the event loop. */
const YIELD_EVERY = 50;

export class Deliverer {
  private loop: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly lastSend = new Map<ChannelName, number>();

  constructor(private readonly deps: DeliveryDeps) {}

  /** Starts delivering what is due, unless that is already going on (then it looks again when done). */
  kick(): void {
    if (this.stopped) return;
    if (this.loop) { this.again = true; return; }
    this.loop = this.drain().catch((e) => this.deps.log?.(`outreach: delivery failed: ${e instanceof Error ? e.stack : e}`)).finally(() => {
      this.loop = null;
      if (this.again) { this.again = false; this.kick(); }
    });
  }

  /** Resolves once nothing due is left to deliver. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private async drain(): Promise<void> {
    const { db, clock } = this.deps.ctx;
    let sinceYield = 0;
    for (;;) {
      const due = db.prepare(`SELECT id, campaign_id, run_id, patron_id, occasion, channel, attempts FROM campaign_message
          WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT 100`).all(clock.now().toISOString()) as QueuedRow[];
      if (!due.length) return;
      for (const m of due) {
        if (this.stopped) return;
        // The in-app channel answers without awaiting anything: yield every few messages, so a large send
        // never holds HTTP, SIP2 and the kiosks up for its whole length.
        if (++sinceYield >= YIELD_EVERY) {
          sinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (this.stopped) return;
        }
        try { await this.deliver(m); } catch (e) {
          // A bug, not a channel's refusal: recorded, so one bad message cannot stall the outbox.
          this.finish(m.id, 'failed', 'INTERNAL_ERROR', { error: e instanceof Error ? e.message : String(e) });
          this.deps.log?.(`outreach: message ${m.id} failed: ${e instanceof Error ? e.stack : e}`);
        }
      }
    }
  }

  private async deliver(m: QueuedRow): Promise<void> {
    const { ctx, signer, links } = this.deps;
    const { db, clock } = ctx;
    const campaign = getCampaign(db, m.campaign_id);
    if (campaign.status === 'archived') return this.skip(m.id, 'CAMPAIGN_ARCHIVED');
    const refused = consentRefusal(db, m.patron_id, campaign.kind, m.channel);
    if (refused) return this.skip(m.id, refused);
    const channel = ctx.channels.get(m.channel);
    if (!channel) return this.skip(m.id, 'NO_CHANNEL');
    const recipient = recipientOf(db, m.patron_id);
    const to = recipient && channel.address(recipient);
    if (!recipient || !to) return this.skip(m.id, 'NO_ADDRESS');

    const now = clock.now();
    const values: TemplateValues = { name: recipient.name, ...profileValues(db, m.patron_id), ...ctx.rules[campaign.kind]?.values?.(db, campaign, m.occasion, m.patron_id, now) };
    // Without a generic variant the text uses no profile field (templates.ts checkTexts): it is generic already.
    const personalised = campaign.genericBody != null && mayPersonalise(db, m.patron_id) && canPersonalise(campaign, values);
    const [subjectTemplate, bodyTemplate] = personalised || campaign.genericBody == null
      ? [campaign.subject, campaign.body] : [campaign.genericSubject!, campaign.genericBody];
    const optOut = (scope: string) => links.optOut(signer.sign({ purpose: 'o', patronId: m.patron_id, subject: scope, expiresAt: new Date(now.getTime() + (this.deps.optOutDays ?? 365) * DAY_MS) }));
    const unsubscribeUrl = optOut('marketing');
    const subject = render(subjectTemplate, values);
    const text = `${render(bodyTemplate, values)}\n\n${footer({ optOutKind: optOut(campaign.kind), optOutAll: unsubscribeUrl, nonPersonalised: personalised ? optOut('personalisation') : null })}\n`;
    statement(db, `UPDATE campaign_message SET variant = ?, recipient = ?, subject = ?, body = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?`)
      .run(personalised ? 'personalised' : 'generic', to, subject, text, now.toISOString(), m.id);

    await this.pace(channel);
    let delivery: Delivery;
    try { delivery = await channel.send({ messageId: m.id, recipient, to, subject, text, unsubscribeUrl }); }
    catch (e) { delivery = { accepted: false, permanent: false, error: e instanceof Error ? e.message : String(e) }; }
    this.record(m, campaign, delivery, subject);
  }

  /** Waits until the channel may take the next message (1 / ratePerSecond after the last one). */
  private async pace(channel: Channel): Promise<void> {
    if (!channel.ratePerSecond) return;
    const gap = 1000 / channel.ratePerSecond;
    const wait = (this.lastSend.get(channel.name) ?? -Infinity) + gap - Date.now();
    if (wait > 0) await (this.deps.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms))))(wait);
    this.lastSend.set(channel.name, Date.now());
  }

  private record(m: QueuedRow, campaign: Campaign, delivery: Delivery, subject: string): void {
    const { db, clock } = this.deps.ctx;
    const now = clock.now();
    const ts = now.toISOString();
    if (delivery.accepted) {
      db.transaction(() => {
        this.finish(m.id, 'sent', null, { ref: delivery.ref, sentAt: ts });
        const run = m.run_id === null ? undefined
          : statement(db, 'SELECT trigger, actor FROM campaign_run WHERE id = ?').get(m.run_id) as { trigger: string; actor: string } | undefined;
        const staff = run?.trigger === 'manual' && run.actor.startsWith('staff:') ? run.actor.slice('staff:'.length) : null;
        statement(db, `INSERT INTO communication (patron_id, at, channel, direction, staff, summary, ref) VALUES (?, ?, ?, 'out', ?, ?, ?)`)
          .run(m.patron_id, ts, COMMUNICATION_CHANNEL[m.channel], staff, `${campaign.name}: ${subject}`.slice(0, 500), `campaign-message:${m.id}`);
        this.deps.ctx.rules[campaign.kind]?.onSent?.(db, campaign, { id: m.id, patronId: m.patron_id, channel: m.channel }, now);
      })();
      return;
    }
    const retry = this.deps.retry ?? DEFAULT_RETRY;
    const attempts = m.attempts + 1;
    if (delivery.permanent || attempts >= retry.maxAttempts) {
      this.finish(m.id, 'failed', 'SEND_FAILED', { error: delivery.error });
    } else {
      const wait = retry.backoffMs[Math.min(attempts - 1, retry.backoffMs.length - 1)] ?? 60_000;
      statement(db, 'UPDATE campaign_message SET error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?')
        .run(delivery.error, new Date(now.getTime() + wait).toISOString(), ts, m.id);
    }
  }

  private skip(id: number, reason: SkipReason): void {
    this.finish(id, 'skipped', reason, {});
  }

  private finish(id: number, status: 'sent' | 'failed' | 'skipped', reason: string | null, o: { error?: string; ref?: string | null; sentAt?: string }): void {
    const { db, clock } = this.deps.ctx;
    statement(db, `UPDATE campaign_message SET status = ?, reason = ?, error = ?, provider_ref = ?, sent_at = ?, next_attempt_at = NULL, updated_at = ? WHERE id = ?`)
      .run(status, reason, o.error ?? null, o.ref ?? null, o.sentAt ?? null, clock.now().toISOString(), id);
  }
}

/** The profile placeholders (templates.ts PROFILE_FIELDS); used only in the personalised variant. */
function profileValues(db: Db, patronId: number): TemplateValues {
  const profile = statement(db, 'SELECT tier, cluster FROM patron_profile WHERE patron_id = ?').get(patronId) as { tier: string | null; cluster: string | null } | undefined;
  const titles = (statement(db, `SELECT r.title FROM patron_recommendation pr JOIN record r ON r.id = pr.record_id WHERE pr.patron_id = ? ORDER BY pr.rank LIMIT 3`)
    .pluck().all(patronId) as string[]);
  return { interest: profile?.cluster ?? null, tier: profile?.tier ?? null, recommendations: titles.length ? titles.map((t) => `《${t}》`).join(' ') : null };
}
