/**
 * The CRM's outreach feature: care campaigns (manual and daily automatic), their delivery through
 * channels, in-app messages, opt-outs and satisfaction surveys. Rules: docs/crm-outreach.md.
 */
import { addDays, localDate, zonedTimeToUtc } from '../../circulation/calendar.js';
import type { Clock } from '../../clock.js';
import { getSetting, setSetting, type Db } from '../../store/db.js';
import { resolveAudience } from '../audience.js';
import { automaticTargets, eventRules, holidayRules, runAutomatic, type AutomaticResult } from './automatic.js';
import { getCampaign, previewCampaign, sendCampaign, type AudienceResolver, type OutreachContext, type RunSummary } from './campaigns.js';
import { ChannelRegistry, type Channel } from './channel.js';
import { DEFAULT_COMPLAINT_RULES, type ComplaintRules } from './complaints.js';
import { applyOptOut, DEFAULT_THROTTLE, optedOut, type OptOutVia, type ThrottlePolicy } from './consent.js';
import { defaultLinks, Deliverer, type OutreachLinks, type RetryPolicy } from './delivery.js';
import { emailChannel } from './email.js';
import { inAppChannel } from './in-app.js';
import { answerSurvey, getSurvey, sendSurvey, surveyRules, type AnswerInput, type AnswerResult, type Survey, type SurveySendInput } from './surveys.js';
import { TokenSigner, type TokenClaims } from './tokens.js';

export interface OutreachOptions {
  db: Db;
  clock: Clock;
  /** Key of the signed links (config outreach.secret; at least 32 bytes). */
  secret: string;
  /** Where patrons reach this server, e.g. https://library.example.edu (config outreach.publicUrl). */
  publicUrl: string;
  /** Where the links lead; default defaultLinks(publicUrl). */
  links?: OutreachLinks;
  /** Campaign e-mail; without smtpUrl there is no e-mail channel (messages skipped NO_CHANNEL). */
  mail?: { smtpUrl?: string; from: string; ratePerSecond?: number };
  /** More channels (SMS, messaging-app providers), or replacements for the built-in ones. */
  channels?: Channel[];
  /** Default: server/crm/audience.ts resolveAudience over this db. */
  resolveAudience?: AudienceResolver;
  throttle?: Partial<ThrottlePolicy>;
  retry?: RetryPolicy;
  complaints?: Partial<ComplaintRules>;
  /** Local time of the daily automatic run, 'HH:MM' (default '09:00'). */
  dailyAt?: string;
  /** How long a survey link works at most (default 30 days; never past the survey's closing). */
  surveyLinkDays?: number;
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
}

const LAST_RUN_SETTING = 'outreach_automatic_last_run';
const RETRY_TICK_MS = 60_000;

export class OutreachFeature {
  readonly channels: ChannelRegistry;
  readonly ctx: OutreachContext;
  readonly signer: TokenSigner;
  readonly complaintRules: ComplaintRules;
  readonly timeZone: string;
  private readonly deliverer: Deliverer;
  private readonly dailyAt: string;
  private dailyTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The local date of the last daily run this process tried, so a failing one is not retried in a loop. */
  private attempted: string | null = null;

  constructor(private readonly opts: OutreachOptions) {
    const { db, clock } = opts;
    this.timeZone = getSetting(db, 'time_zone', 'UTC');
    this.dailyAt = opts.dailyAt ?? '09:00';
    if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(this.dailyAt)) throw new Error(`outreach dailyAt "${this.dailyAt}" is not HH:MM`);
    this.signer = new TokenSigner(opts.secret);
    const links = opts.links ?? defaultLinks(opts.publicUrl);
    this.channels = new ChannelRegistry([
      inAppChannel(db, clock),
      ...(opts.mail?.smtpUrl ? [emailChannel({ smtpUrl: opts.mail.smtpUrl, from: opts.mail.from, ratePerSecond: opts.mail.ratePerSecond })] : []),
      ...(opts.channels ?? []),
    ]);
    this.complaintRules = { ...DEFAULT_COMPLAINT_RULES, ...opts.complaints };
    this.ctx = {
      db, clock, timeZone: this.timeZone, channels: this.channels,
      resolveAudience: opts.resolveAudience ?? ((spec, now) => resolveAudience(db, spec, now)),
      throttle: { ...DEFAULT_THROTTLE, ...opts.throttle },
      rules: { holiday: holidayRules, event_invitation: eventRules(this.timeZone), survey: surveyRules(this.signer, links, opts.surveyLinkDays) },
    };
    this.deliverer = new Deliverer({ ctx: this.ctx, signer: this.signer, links, retry: opts.retry, sleep: opts.sleep, log: opts.log });
  }

  /** Schedules the daily run (catching up today's if it is past its time), the retries, and delivers what was left queued. */
  start(): void {
    this.scheduleDaily();
    (this.retryTimer = setInterval(() => this.deliverer.kick(), RETRY_TICK_MS)).unref();
    this.deliverer.kick();
  }

  async stop(): Promise<void> {
    clearTimeout(this.dailyTimer);
    clearInterval(this.retryTimer);
    await this.deliverer.stop();
    await this.channels.close();
  }

  /** Resolves when no message that is due is waiting for delivery. */
  idle(): Promise<void> {
    return this.deliverer.idle();
  }

  /** Delivers what is due now (the retry timer does this every minute), and waits for it. */
  deliver(): Promise<void> {
    this.deliverer.kick();
    return this.deliverer.idle();
  }

  /** A manual send of a campaign: planned now, delivered in the background. */
  send(campaignId: number, actor: string): RunSummary {
    const summary = sendCampaign(this.ctx, campaignId, actor);
    this.deliverer.kick();
    return summary;
  }

  /** What a send would do now: an automatic campaign's patrons of today, another's audience. */
  preview(campaignId: number) {
    const campaign = getCampaign(this.ctx.db, campaignId);
    return previewCampaign(this.ctx, campaign, campaign.automatic ? automaticTargets(this.ctx, campaign, this.opts.clock.now()) : undefined);
  }

  sendSurvey(surveyId: number, input: SurveySendInput, actor: string): RunSummary & { campaignId: number } {
    const summary = sendSurvey(this.ctx, surveyId, input, actor);
    this.deliverer.kick();
    return summary;
  }

  /** The daily automatic campaigns, now; the timer calls this once a day. */
  runAutomatic(): AutomaticResult[] {
    const results = runAutomatic(this.ctx, this.opts.clock.now(), this.opts.log);
    this.deliverer.kick();
    return results;
  }

  answer(surveyId: number, patronId: number, via: 'opac' | 'link', input: AnswerInput): AnswerResult {
    return answerSurvey(this.ctx.db, { surveyId, patronId, via, input }, this.complaintRules, this.opts.clock.now());
  }

  /** The survey a signed link is for, and whether its patron answered it; a bad link is a TokenError. */
  surveyLink(token: string): { claims: TokenClaims; survey: Survey } {
    const claims = this.signer.verify(token, 's', this.opts.clock.now());
    return { claims, survey: getSurvey(this.ctx.db, Number(claims.subject)) };
  }

  /** What an opt-out link does, and whether it has been done. */
  optOutLink(token: string): { claims: TokenClaims; done: boolean } {
    const claims = this.signer.verify(token, 'o', this.opts.clock.now());
    return { claims, done: optedOut(this.ctx.db, claims.patronId, claims.subject) };
  }

  optOut(patronId: number, scope: string, via: OptOutVia): boolean {
    return applyOptOut(this.ctx.db, patronId, scope, via, this.opts.clock.now());
  }

  private scheduleDaily(): void {
    const now = this.opts.clock.now();
    const today = localDate(now, this.timeZone);
    const todayAt = zonedTimeToUtc(today, this.dailyAt, this.timeZone);
    const doneToday = this.attempted === today || getSetting<string | null>(this.ctx.db, LAST_RUN_SETTING, null) === today;
    const next = now < todayAt ? todayAt : doneToday ? zonedTimeToUtc(addDays(today, 1), this.dailyAt, this.timeZone) : now;
    this.dailyTimer = setTimeout(() => {
      this.dailyTimer = undefined;
      this.dailyRun();
      this.scheduleDaily();
    }, Math.max(0, next.getTime() - now.getTime()));
    this.dailyTimer.unref();
  }

  private dailyRun(): void {
    const now = this.opts.clock.now();
    const today = localDate(now, this.timeZone);
    if (now < zonedTimeToUtc(today, this.dailyAt, this.timeZone)) return;
    if (this.attempted === today || getSetting<string | null>(this.ctx.db, LAST_RUN_SETTING, null) === today) return;
    this.attempted = today;
    try {
      setSetting(this.ctx.db, LAST_RUN_SETTING, today);
      const results = this.runAutomatic();
      const sent = results.reduce((n, r) => n + (r.summary?.queued ?? 0), 0);
      this.opts.log?.(`outreach: daily run ${today}: ${results.length} automatic campaign(s), ${sent} message(s) queued`);
    } catch (e) {
      this.opts.log?.(`outreach: daily run ${today} failed: ${e instanceof Error ? e.stack : e}`);
    }
  }
}
