import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { DomainError, notFound } from '../../errors.js';
import { statement, type Db } from '../../store/db.js';
import { AudienceSpec } from '../audience.js';
import { CHANNELS, type ChannelName, type ChannelRegistry, type Recipient } from './channel.js';
import { consentRefusal, recentMessages, throttleWindowStart, type SkipReason, type ThrottlePolicy } from './consent.js';
import { checkTexts, type TemplateValues } from './templates.js';

/**
 * Care campaigns: definitions, and the planning of a send. Planning resolves the audience, checks
 * consent, opt-outs, channel, address and the per-patron cap for each patron, and writes one
 * campaign_message per patron, queued or skipped with its reason, in one transaction. Delivery
 * (delivery.ts) then hands the queued ones to their channel.
 */

export const CAMPAIGN_KINDS = ['announcement', 'birthday', 'holiday', 'welcome', 'win_back', 'event_invitation', 'survey'] as const;
export type CampaignKind = (typeof CAMPAIGN_KINDS)[number];
/** Kinds the daily run sends by itself while the campaign is active (automatic.ts). */
export const AUTOMATIC_KINDS: readonly CampaignKind[] = ['birthday', 'holiday', 'welcome', 'win_back', 'event_invitation'];
/** Of those, the ones whose patrons only the day picks (a birthday, a welcome step): never sent by hand. */
const DAILY_ONLY_KINDS: readonly CampaignKind[] = ['birthday', 'holiday', 'welcome', 'win_back'];
export const CAMPAIGN_STATUSES = ['draft', 'active', 'archived'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];
export const MESSAGE_STATUSES = ['queued', 'sent', 'failed', 'skipped'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

const Id = z.number().int().positive();
/** What each kind's params hold; the defaults are the ones documented in docs/crm-outreach.md. */
export const KIND_PARAMS = {
  announcement: z.strictObject({}),
  birthday: z.strictObject({}),
  holiday: z.strictObject({ holidayIds: z.array(Id).min(1).max(100).optional() }),
  welcome: z.strictObject({ afterDays: z.number().int().min(0).max(365) }),
  win_back: z.strictObject({ inactiveDays: z.number().int().min(7).max(3650).default(90), minChurnRisk: z.number().min(0).max(1).default(0.6) }),
  event_invitation: z.strictObject({ eventId: Id, daysBefore: z.number().int().min(0).max(365).default(14) }),
  survey: z.strictObject({ surveyId: Id }),
} satisfies Record<CampaignKind, z.ZodType>;
export type KindParams = { [K in CampaignKind]: z.output<(typeof KIND_PARAMS)[K]> };

const Text = { subject: z.string().trim().min(1).max(300), body: z.string().trim().min(1).max(10_000) };
export const CampaignInput = z.strictObject({
  name: z.string().trim().min(1).max(200),
  kind: z.enum(CAMPAIGN_KINDS),
  channel: z.enum(CHANNELS),
  status: z.enum(CAMPAIGN_STATUSES).default('draft'),
  audience: AudienceSpec.nullable().optional(),
  ...Text,
  genericSubject: Text.subject.nullable().optional(),
  genericBody: Text.body.nullable().optional(),
  params: z.record(z.string(), z.unknown()).default({}),
});
export type CampaignInput = z.input<typeof CampaignInput>;
export const CampaignPatch = CampaignInput.omit({ kind: true }).partial().strict();
export type CampaignPatch = z.input<typeof CampaignPatch>;

export interface Campaign {
  id: number; name: string; kind: CampaignKind; channel: ChannelName; status: CampaignStatus; automatic: boolean;
  audience: AudienceSpec | null; subject: string; body: string; genericSubject: string | null; genericBody: string | null;
  params: Record<string, unknown>; createdBy: string; createdAt: string; updatedAt: string;
}
interface CampaignRow {
  id: number; name: string; kind: CampaignKind; channel: ChannelName; status: CampaignStatus; audience: string | null; subject: string; body: string;
  generic_subject: string | null; generic_body: string | null; params: string; created_by: string; created_at: string; updated_at: string;
}
const toCampaign = (r: CampaignRow): Campaign => ({
  id: r.id, name: r.name, kind: r.kind, channel: r.channel, status: r.status, automatic: AUTOMATIC_KINDS.includes(r.kind),
  audience: r.audience ? JSON.parse(r.audience) : null, subject: r.subject, body: r.body, genericSubject: r.generic_subject,
  genericBody: r.generic_body, params: JSON.parse(r.params), createdBy: r.created_by, createdAt: r.created_at, updatedAt: r.updated_at,
});

/** Checks a kind's params and that what they name exists; returns them with their defaults. */
function checkParams(db: Db, kind: CampaignKind, params: unknown): Record<string, unknown> {
  const parsed = KIND_PARAMS[kind].safeParse(params);
  if (!parsed.success) {
    throw new DomainError('CAMPAIGN_PARAMS_INVALID', `params of a ${kind} campaign: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ')}`, 422);
  }
  const p = parsed.data as Record<string, unknown>;
  if (kind === 'event_invitation' && !db.prepare('SELECT 1 FROM library_event WHERE id = ?').get(p.eventId)) throw notFound('event', p.eventId as number);
  if (kind === 'survey' && !db.prepare('SELECT 1 FROM survey WHERE id = ?').get(p.surveyId)) throw notFound('survey', p.surveyId as number);
  for (const id of (p.holidayIds as number[] | undefined) ?? []) if (!db.prepare('SELECT 1 FROM outreach_holiday WHERE id = ?').get(id)) throw notFound('holiday', id);
  return p;
}

export function createCampaign(db: Db, input: CampaignInput, actor: string, now: Date): Campaign {
  const v = CampaignInput.parse(input);
  checkTexts(v);
  const params = checkParams(db, v.kind, v.params);
  const ts = now.toISOString();
  const id = Number(db.prepare(`INSERT INTO campaign (name, kind, channel, status, audience, subject, body, generic_subject, generic_body, params,
      created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(v.name, v.kind, v.channel, v.status, v.audience ? JSON.stringify(v.audience) : null, v.subject, v.body, v.genericSubject ?? null,
      v.genericBody ?? null, JSON.stringify(params), actor, ts, ts).lastInsertRowid);
  return getCampaign(db, id);
}

export function getCampaign(db: Db, id: number): Campaign {
  const row = statement(db, 'SELECT * FROM campaign WHERE id = ?').get(id) as CampaignRow | undefined;
  if (!row) throw notFound('campaign', id);
  return toCampaign(row);
}

export function listCampaigns(db: Db, q: { kind?: CampaignKind; status?: CampaignStatus } = {}): Campaign[] {
  const rows = db.prepare(`SELECT * FROM campaign WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR status = ?) ORDER BY id DESC`)
    .all(q.kind ?? null, q.kind ?? null, q.status ?? null, q.status ?? null) as CampaignRow[];
  return rows.map(toCampaign);
}

export function updateCampaign(db: Db, id: number, patch: CampaignPatch, now: Date): Campaign {
  const current = getCampaign(db, id);
  const p = CampaignPatch.parse(patch);
  const next = { ...current, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) } as Campaign;
  checkTexts(next);
  const params = checkParams(db, current.kind, next.params);
  db.prepare(`UPDATE campaign SET name = ?, channel = ?, status = ?, audience = ?, subject = ?, body = ?, generic_subject = ?, generic_body = ?,
      params = ?, updated_at = ? WHERE id = ?`)
    .run(next.name, next.channel, next.status, next.audience ? JSON.stringify(next.audience) : null, next.subject, next.body,
      next.genericSubject ?? null, next.genericBody ?? null, JSON.stringify(params), now.toISOString(), id);
  return getCampaign(db, id);
}

/** Deletes a campaign that never sent anything; one with a delivery log is archived instead. */
export function deleteCampaign(db: Db, id: number): void {
  getCampaign(db, id);
  if (db.prepare('SELECT 1 FROM campaign_message WHERE campaign_id = ? LIMIT 1').get(id)) {
    throw new DomainError('CAMPAIGN_HAS_MESSAGES', `campaign ${id} has a delivery log; archive it (status "archived") instead`, 409);
  }
  db.prepare('DELETE FROM campaign WHERE id = ?').run(id);
}

// ---- planning a send -----------------------------------------------------------------------------

export type AudienceResolver = (spec: AudienceSpec, now: Date) => number[];

/** What a kind adds to planning and delivery: whether it may be sent at all, its own reasons to skip, its placeholders, what a sent message does. */
export interface KindRules {
  /** Refuses a send altogether (a DomainError): an event that has started, a survey that is not open. */
  check?(db: Db, campaign: Campaign, now: Date): void;
  skip?(db: Db, campaign: Campaign, patronId: number, now: Date): SkipReason | null;
  values?(db: Db, campaign: Campaign, occasion: string, patronId: number, now: Date): TemplateValues;
  onSent?(db: Db, campaign: Campaign, message: { id: number; patronId: number; channel: ChannelName }, now: Date): void;
}

export interface OutreachContext {
  db: Db; clock: Clock; timeZone: string; channels: ChannelRegistry; resolveAudience: AudienceResolver; throttle: ThrottlePolicy;
  rules: Partial<Record<CampaignKind, KindRules>>;
}

/** One patron on one occasion. Manual sends have none: their occasion is the run ('manual:<runId>'). */
export interface Target { patronId: number; occasion?: string }

export interface RunSummary {
  runId: number | null;
  /** Patrons the audience (and the kind's selection) gave. */
  audience: number;
  queued: number;
  skipped: Partial<Record<SkipReason, number>>;
  /** Already sent, queued or failed on this occasion (an automatic campaign's earlier run): left as they are. */
  unchanged: number;
}

export function recipientOf(db: Db, patronId: number): Recipient | null {
  const r = statement(db, 'SELECT id, name, email, phone FROM patron WHERE id = ?').get(patronId) as { id: number; name: string; email: string | null; phone: string | null } | undefined;
  return r ? { patronId: r.id, name: r.name, email: r.email, phone: r.phone } : null;
}

/** Why a patron is not sent this campaign now, or null. */
function refusal(ctx: OutreachContext, campaign: Campaign, patronId: number, windowStart: string, now: Date): SkipReason | null {
  const { db } = ctx;
  const consent = consentRefusal(db, patronId, campaign.kind, campaign.channel);
  if (consent) return consent;
  const kind = ctx.rules[campaign.kind]?.skip?.(db, campaign, patronId, now);
  if (kind) return kind;
  const channel = ctx.channels.get(campaign.channel);
  if (!channel) return 'NO_CHANNEL';
  const recipient = recipientOf(db, patronId);
  if (!recipient || !channel.address(recipient)) return 'NO_ADDRESS';
  if (recentMessages(db, patronId, windowStart) >= ctx.throttle.maxMessages) return 'THROTTLED';
  return null;
}

/** The audience of a campaign: its spec resolved, or every patron when it has none. */
export function audienceOf(ctx: OutreachContext, campaign: Campaign, now: Date): number[] {
  return ctx.resolveAudience(campaign.audience ?? { segment: 'all' }, now);
}

/** What a send would do now, without writing anything. */
export function previewCampaign(ctx: OutreachContext, campaign: Campaign, targets: Target[] = audienceOf(ctx, campaign, ctx.clock.now()).map((patronId) => ({ patronId }))):
  { audience: number; eligible: number; skipped: Partial<Record<SkipReason, number>> } {
  const now = ctx.clock.now();
  const windowStart = throttleWindowStart(ctx.throttle, now, ctx.timeZone);
  const skipped: Partial<Record<SkipReason, number>> = {};
  let eligible = 0;
  for (const t of targets) {
    const why = campaign.status === 'archived' ? 'CAMPAIGN_ARCHIVED' : refusal(ctx, campaign, t.patronId, windowStart, now);
    if (why) skipped[why] = (skipped[why] ?? 0) + 1; else eligible++;
  }
  return { audience: targets.length, eligible, skipped };
}

/**
 * Writes one run of a campaign: a campaign_message per target, queued or skipped with its reason.
 * A target already on record for its occasion is left alone unless it was skipped: then it is checked
 * again (a patron who gave consent since, a cap that has passed) and may become queued. No run row is
 * written when nothing new came of it.
 */
export function planRun(ctx: OutreachContext, campaign: Campaign, targets: Target[], trigger: 'manual' | 'automatic', actor: string): RunSummary {
  const { db } = ctx;
  if (campaign.status === 'archived') throw new DomainError('CAMPAIGN_ARCHIVED', `campaign ${campaign.id} is archived`, 409);
  const now = ctx.clock.now();
  ctx.rules[campaign.kind]?.check?.(db, campaign, now);
  const ts = now.toISOString();
  const windowStart = throttleWindowStart(ctx.throttle, now, ctx.timeZone);
  const existing = db.prepare('SELECT id, status FROM campaign_message WHERE campaign_id = ? AND patron_id = ? AND occasion = ?');
  const insert = db.prepare(`INSERT INTO campaign_message (campaign_id, run_id, patron_id, occasion, channel, status, reason, next_attempt_at, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const revive = db.prepare(`UPDATE campaign_message SET run_id = ?, status = ?, reason = ?, next_attempt_at = ?, channel = ?, created_at = ?, updated_at = ? WHERE id = ?`);
  return db.transaction((): RunSummary => {
    const runId = Number(db.prepare(`INSERT INTO campaign_run (campaign_id, trigger, actor, at, audience) VALUES (?, ?, ?, ?, ?)`)
      .run(campaign.id, trigger, actor, ts, targets.length).lastInsertRowid);
    const summary: RunSummary = { runId, audience: targets.length, queued: 0, skipped: {}, unchanged: 0 };
    for (const t of targets) {
      const occasion = t.occasion ?? `manual:${runId}`;
      const before = existing.get(campaign.id, t.patronId, occasion) as { id: number; status: MessageStatus } | undefined;
      if (before && before.status !== 'skipped') { summary.unchanged++; continue; }
      const why = refusal(ctx, campaign, t.patronId, windowStart, now);
      if (why && before) { summary.unchanged++; continue; } // still skipped: its row says so already
      if (before) revive.run(runId, 'queued', null, ts, campaign.channel, ts, ts, before.id);
      else insert.run(campaign.id, runId, t.patronId, occasion, campaign.channel, why ? 'skipped' : 'queued', why, why ? null : ts, ts, ts);
      if (why) summary.skipped[why] = (summary.skipped[why] ?? 0) + 1; else summary.queued++;
    }
    if (summary.queued === 0 && Object.keys(summary.skipped).length === 0) {
      db.prepare('DELETE FROM campaign_run WHERE id = ?').run(runId); // it wrote nothing
      return { ...summary, runId: null };
    }
    return summary;
  }).immediate();
}

/** A manual send to the campaign's audience now. */
export function sendCampaign(ctx: OutreachContext, campaignId: number, actor: string): RunSummary {
  const campaign = getCampaign(ctx.db, campaignId);
  if (DAILY_ONLY_KINDS.includes(campaign.kind)) {
    throw new DomainError('CAMPAIGN_AUTOMATIC', `a ${campaign.kind} campaign is sent by the daily run to the patrons of the day; activate it instead`, 409);
  }
  const targets = audienceOf(ctx, campaign, ctx.clock.now()).map((patronId) => ({ patronId }));
  return planRun(ctx, campaign, targets, 'manual', actor);
}

// ---- the delivery log ----------------------------------------------------------------------------

export interface CampaignMessage {
  id: number; campaignId: number; runId: number | null; patronId: number; occasion: string; channel: ChannelName; status: MessageStatus;
  reason: string | null; error: string | null; variant: 'personalised' | 'generic' | null; recipient: string | null; subject: string | null;
  attempts: number; nextAttemptAt: string | null; createdAt: string; updatedAt: string; sentAt: string | null;
}
export const toMessage = (r: Record<string, any>): CampaignMessage => ({
  id: r.id, campaignId: r.campaign_id, runId: r.run_id, patronId: r.patron_id, occasion: r.occasion, channel: r.channel, status: r.status,
  reason: r.reason, error: r.error, variant: r.variant, recipient: r.recipient, subject: r.subject, attempts: r.attempts,
  nextAttemptAt: r.status === 'queued' ? r.next_attempt_at : null, createdAt: r.created_at, updatedAt: r.updated_at, sentAt: r.sent_at,
});

export function messageLog(db: Db, campaignId: number, q: { status?: MessageStatus; runId?: number; patronId?: number; limit: number; offset: number }):
  { total: number; counts: Record<MessageStatus, number>; messages: CampaignMessage[] } {
  getCampaign(db, campaignId);
  const where = 'campaign_id = ? AND (? IS NULL OR status = ?) AND (? IS NULL OR run_id = ?) AND (? IS NULL OR patron_id = ?)';
  const args = [campaignId, q.status ?? null, q.status ?? null, q.runId ?? null, q.runId ?? null, q.patronId ?? null, q.patronId ?? null];
  const total = (db.prepare(`SELECT count(*) AS n FROM campaign_message WHERE ${where}`).get(...args) as { n: number }).n;
  const rows = db.prepare(`SELECT * FROM campaign_message WHERE ${where} ORDER BY id LIMIT ? OFFSET ?`).all(...args, q.limit, q.offset) as Record<string, any>[];
  return { total, counts: statusCounts(db, 'campaign_id = ?', campaignId), messages: rows.map(toMessage) };
}

function statusCounts(db: Db, where: string, arg: number): Record<MessageStatus, number> {
  const counts = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Record<MessageStatus, number>;
  for (const r of db.prepare(`SELECT status, count(*) AS n FROM campaign_message WHERE ${where} GROUP BY status`).all(arg) as { status: MessageStatus; n: number }[]) counts[r.status] = r.n;
  return counts;
}

export interface CampaignRun { id: number; campaignId: number; trigger: 'manual' | 'automatic'; actor: string; at: string; audience: number; status: Record<MessageStatus, number> }

/** A campaign's runs, newest first, each with where its messages stand now. */
export function listRuns(db: Db, campaignId: number): CampaignRun[] {
  getCampaign(db, campaignId);
  const rows = db.prepare('SELECT id, trigger, actor, at, audience FROM campaign_run WHERE campaign_id = ? ORDER BY id DESC').all(campaignId) as
    { id: number; trigger: 'manual' | 'automatic'; actor: string; at: string; audience: number }[];
  return rows.map((r) => ({ ...r, campaignId, status: statusCounts(db, 'run_id = ?', r.id) }));
}
