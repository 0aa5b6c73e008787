import { z } from 'zod';
import { DomainError, notFound } from '../../errors.js';
import type { Db } from '../../store/db.js';
import { AudienceSpec } from '../audience.js';
import { openCase } from '../cases.js';
import { createCampaign, planRun, type KindRules, type OutreachContext, type RunSummary } from './campaigns.js';
import { CHANNELS, type ChannelName } from './channel.js';
import { complaintTriggers, describeComplaint, type ComplaintRules, type ScoredAnswer } from './complaints.js';
import type { OutreachLinks } from './delivery.js';
import type { TokenSigner } from './tokens.js';

/**
 * Satisfaction surveys: definitions, sending (a campaign of kind 'survey' carrying a signed link),
 * and answers, from a signed-in patron in the online catalogue or through the signed link. One
 * response per patron and survey; a low score or a complaint in free text opens a complaint case.
 */

export const QUESTION_KINDS = ['rating', 'nps', 'choice', 'text'] as const;
export type QuestionKind = (typeof QUESTION_KINDS)[number];
export const SURVEY_STATUSES = ['draft', 'open', 'closed'] as const;
export type SurveyStatus = (typeof SURVEY_STATUSES)[number];

export const QuestionInput = z.strictObject({
  kind: z.enum(QUESTION_KINDS),
  text: z.string().trim().min(1).max(500),
  options: z.array(z.string().trim().min(1).max(200)).min(2).max(20).optional().describe('choice questions only: the options'),
  required: z.boolean().default(true),
}).refine((q) => (q.kind === 'choice') === (q.options !== undefined), { message: 'choice questions need options; other kinds take none', path: ['options'] })
  .refine((q) => !q.options || new Set(q.options).size === q.options.length, { message: 'options must differ', path: ['options'] });
export const SurveyInput = z.strictObject({
  title: z.string().trim().min(1).max(200),
  intro: z.string().trim().max(2000).nullable().optional(),
  status: z.enum(SURVEY_STATUSES).default('draft'),
  closesAt: z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString()).nullable().optional(),
  questions: z.array(QuestionInput).min(1).max(50),
});
export type SurveyInput = z.input<typeof SurveyInput>;
export const SurveyPatch = SurveyInput.partial().strict();
export type SurveyPatch = z.input<typeof SurveyPatch>;

export const AnswerInput = z.strictObject({
  answers: z.array(z.strictObject({
    questionId: z.number().int().positive(),
    score: z.number().int().optional().describe('rating: 1–5; nps: 0–10'),
    choice: z.string().max(200).optional(),
    text: z.string().trim().max(4000).optional(),
  })).max(50),
});
export type AnswerInput = z.input<typeof AnswerInput>;

export interface SurveyQuestion { id: number; position: number; kind: QuestionKind; text: string; options: string[] | null; required: boolean }
export interface Survey {
  id: number; title: string; intro: string | null; status: SurveyStatus; closesAt: string | null; questions: SurveyQuestion[];
  invited: number; responses: number; createdBy: string; createdAt: string; updatedAt: string;
}

export function getSurvey(db: Db, id: number): Survey {
  const s = db.prepare('SELECT * FROM survey WHERE id = ?').get(id) as Record<string, any> | undefined;
  if (!s) throw notFound('survey', id);
  const questions = (db.prepare('SELECT * FROM survey_question WHERE survey_id = ? ORDER BY position').all(id) as Record<string, any>[]).map((q) => ({
    id: q.id, position: q.position, kind: q.kind, text: q.text, options: q.options ? JSON.parse(q.options) : null, required: q.required === 1,
  }));
  const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE survey_id = ?`).get(id) as { n: number }).n;
  return {
    id: s.id, title: s.title, intro: s.intro, status: s.status, closesAt: s.closes_at, questions, invited: count('survey_invitation'),
    responses: count('survey_response'), createdBy: s.created_by, createdAt: s.created_at, updatedAt: s.updated_at,
  };
}

export function listSurveys(db: Db): Survey[] {
  return (db.prepare('SELECT id FROM survey ORDER BY id DESC').pluck().all() as number[]).map((id) => getSurvey(db, id));
}

function writeQuestions(db: Db, surveyId: number, questions: z.output<typeof QuestionInput>[]): void {
  db.prepare('DELETE FROM survey_question WHERE survey_id = ?').run(surveyId);
  const insert = db.prepare('INSERT INTO survey_question (survey_id, position, kind, text, options, required) VALUES (?, ?, ?, ?, ?, ?)');
  questions.forEach((q, i) => insert.run(surveyId, i + 1, q.kind, q.text, q.options ? JSON.stringify(q.options) : null, q.required ? 1 : 0));
}

export function createSurvey(db: Db, input: SurveyInput, actor: string, now: Date): Survey {
  const v = SurveyInput.parse(input);
  const ts = now.toISOString();
  return db.transaction(() => {
    const id = Number(db.prepare('INSERT INTO survey (title, intro, status, closes_at, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(v.title, v.intro ?? null, v.status, v.closesAt ?? null, actor, ts, ts).lastInsertRowid);
    writeQuestions(db, id, v.questions);
    return getSurvey(db, id);
  })();
}

/** Changes a survey. Questions change only while it is a draft; a survey once opened does not go back to draft. */
export function updateSurvey(db: Db, id: number, patch: SurveyPatch, now: Date): Survey {
  const p = SurveyPatch.parse(patch);
  return db.transaction(() => {
    const current = getSurvey(db, id);
    if (p.questions && current.status !== 'draft') throw new DomainError('SURVEY_NOT_DRAFT', `survey ${id} is ${current.status}: its questions are fixed`, 409);
    if (p.status === 'draft' && current.status !== 'draft') throw new DomainError('SURVEY_NOT_DRAFT', `survey ${id} was opened; it cannot become a draft again`, 409);
    db.prepare('UPDATE survey SET title = ?, intro = ?, status = ?, closes_at = ?, updated_at = ? WHERE id = ?').run(
      p.title ?? current.title, p.intro !== undefined ? p.intro : current.intro, p.status ?? current.status,
      p.closesAt !== undefined ? p.closesAt : current.closesAt, now.toISOString(), id);
    if (p.questions) writeQuestions(db, id, p.questions);
    return getSurvey(db, id);
  }).immediate(); // reads then writes: take the write lock first, so no other connection's commit makes it stale
}

/** Deletes a draft that no campaign sends. */
export function deleteSurvey(db: Db, id: number): void {
  const s = getSurvey(db, id);
  const used = db.prepare("SELECT 1 FROM campaign WHERE kind = 'survey' AND json_extract(params, '$.surveyId') = ?").get(id);
  if (s.status !== 'draft' || used) throw new DomainError('SURVEY_IN_USE', `survey ${id} has been opened or sent; close it instead`, 409);
  db.prepare('DELETE FROM survey WHERE id = ?').run(id);
}

/** Why a survey takes no answers now, as a DomainError; nothing when it does. */
function checkOpen(s: Survey, now: Date): void {
  if (s.status === 'draft') throw new DomainError('SURVEY_NOT_OPEN', `survey ${s.id} is not open yet`, 409);
  if (s.status === 'closed' || (s.closesAt && s.closesAt <= now.toISOString())) throw new DomainError('SURVEY_CLOSED', `survey ${s.id} is closed`, 409);
}

// ---- sending ------------------------------------------------------------------------------------

export const SurveySendInput = z.strictObject({
  channel: z.enum(CHANNELS),
  audience: AudienceSpec,
  subject: z.string().trim().min(1).max(300).optional(),
  body: z.string().trim().min(1).max(10_000).optional().describe('must contain {{surveyUrl}}; default: a short invitation in Chinese and English'),
});
export type SurveySendInput = z.input<typeof SurveySendInput>;

/** Sends a survey: a campaign of kind 'survey' to the audience, planned now (delivery follows). */
export function sendSurvey(ctx: OutreachContext, surveyId: number, input: SurveySendInput, actor: string): RunSummary & { campaignId: number } {
  const v = SurveySendInput.parse(input);
  const now = ctx.clock.now();
  const s = getSurvey(ctx.db, surveyId);
  checkOpen(s, now);
  const body = v.body ?? `{{name}}，您好！请花一分钟告诉我们您对图书馆的看法：\nDear {{name}}, please tell us in a minute how the library is doing for you:\n{{surveyUrl}}`;
  if (!body.includes('{{surveyUrl}}')) throw new DomainError('SURVEY_LINK_MISSING', 'the message body must contain {{surveyUrl}}', 422);
  const targets = ctx.resolveAudience(v.audience, now).map((patronId) => ({ patronId }));
  return ctx.db.transaction(() => {
    const campaign = createCampaign(ctx.db, {
      name: `Survey: ${s.title}`.slice(0, 200), kind: 'survey', channel: v.channel, status: 'active', audience: v.audience,
      subject: v.subject ?? `满意度调查 Satisfaction survey: ${s.title}`.slice(0, 300), body, params: { surveyId },
    }, actor, now);
    return { campaignId: campaign.id, ...planRun(ctx, campaign, targets, 'manual', actor) };
  }).immediate(); // planRun's own .immediate() is only a savepoint in here
}

/**
 * Surveys as a campaign kind: refused unless open; not to patrons who answered; {{surveyUrl}} is the
 * patron's signed link, valid until the survey closes or for `linkDays`, whichever is sooner; a sent
 * invitation lets the patron answer in the online catalogue too.
 */
export function surveyRules(signer: TokenSigner, links: OutreachLinks, linkDays = 30): KindRules {
  const surveyIdOf = (params: Record<string, unknown>) => params.surveyId as number;
  return {
    check(db, c, now) { checkOpen(getSurvey(db, surveyIdOf(c.params)), now); },
    skip(db, c, patronId) {
      return db.prepare('SELECT 1 FROM survey_response WHERE survey_id = ? AND patron_id = ?').get(surveyIdOf(c.params), patronId) ? 'ALREADY_ANSWERED' : null;
    },
    values(db, c, _occasion, patronId, now) {
      const s = db.prepare('SELECT closes_at FROM survey WHERE id = ?').get(surveyIdOf(c.params)) as { closes_at: string | null } | undefined;
      const until = Math.min(now.getTime() + linkDays * 86_400_000, s?.closes_at ? Date.parse(s.closes_at) : Infinity);
      return { surveyUrl: links.survey(signer.sign({ purpose: 's', patronId, subject: String(surveyIdOf(c.params)), expiresAt: new Date(until) })) };
    },
    onSent(db, c, m, now) {
      db.prepare('INSERT OR IGNORE INTO survey_invitation (survey_id, patron_id, invited_at, channel) VALUES (?, ?, ?, ?)')
        .run(surveyIdOf(c.params), m.patronId, now.toISOString(), m.channel);
    },
  };
}

// ---- answering ----------------------------------------------------------------------------------

/** The surveys a patron was invited to and may still answer, or has answered, while they are open. */
export function surveysOf(db: Db, patronId: number, now: Date): (Survey & { answered: boolean })[] {
  const ids = db.prepare(`SELECT s.id FROM survey_invitation i JOIN survey s ON s.id = i.survey_id
      WHERE i.patron_id = ? AND s.status = 'open' AND (s.closes_at IS NULL OR s.closes_at > ?) ORDER BY i.invited_at DESC`).pluck().all(patronId, now.toISOString()) as number[];
  return ids.map((id) => ({ ...getSurvey(db, id), answered: hasAnswered(db, id, patronId) }));
}

export const hasAnswered = (db: Db, surveyId: number, patronId: number) =>
  db.prepare('SELECT 1 FROM survey_response WHERE survey_id = ? AND patron_id = ?').get(surveyId, patronId) !== undefined;

/** A signed-in patron may answer only a survey they were invited to; another survey is "not found". */
export function invitedSurvey(db: Db, surveyId: number, patronId: number): Survey {
  if (!db.prepare('SELECT 1 FROM survey_invitation WHERE survey_id = ? AND patron_id = ?').get(surveyId, patronId)) {
    throw new DomainError('SURVEY_NOT_FOUND', `you have no survey ${surveyId}`, 404);
  }
  return getSurvey(db, surveyId);
}

type FieldIssue = { field: string; message: string };

/** Checks answers against the questions; every problem is listed (422 SURVEY_ANSWER_INVALID, detail.errors). */
function checkAnswers(s: Survey, answers: z.output<typeof AnswerInput>['answers']): void {
  const issues: FieldIssue[] = [];
  const byId = new Map(s.questions.map((q) => [q.id, q]));
  const seen = new Set<number>();
  answers.forEach((a, i) => {
    const at = (f: string) => `answers.${i}.${f}`;
    const q = byId.get(a.questionId);
    if (!q) { issues.push({ field: at('questionId'), message: `survey ${s.id} has no question ${a.questionId}` }); return; }
    if (seen.has(q.id)) issues.push({ field: at('questionId'), message: `question ${q.id} is answered twice` });
    seen.add(q.id);
    const extra = (['score', 'choice', 'text'] as const).filter((f) => a[f] !== undefined && f !== fieldOf(q.kind));
    if (extra.length) issues.push({ field: at(extra[0]!), message: `a ${q.kind} question takes only ${fieldOf(q.kind)}` });
    if (q.kind === 'rating' && (a.score === undefined || a.score < 1 || a.score > 5)) issues.push({ field: at('score'), message: 'a rating from 1 to 5' });
    if (q.kind === 'nps' && (a.score === undefined || a.score < 0 || a.score > 10)) issues.push({ field: at('score'), message: 'a score from 0 to 10' });
    if (q.kind === 'choice' && (a.choice === undefined || !q.options!.includes(a.choice))) issues.push({ field: at('choice'), message: `one of: ${q.options!.join(', ')}` });
    if (q.kind === 'text' && !a.text) issues.push({ field: at('text'), message: 'the text, not empty' });
  });
  for (const q of s.questions) if (q.required && !seen.has(q.id)) issues.push({ field: 'answers', message: `question ${q.id} ("${q.text}") needs an answer` });
  if (issues.length) {
    throw new DomainError('SURVEY_ANSWER_INVALID', issues.map((e) => `${e.field}: ${e.message}`).join('; '), 422, { errors: issues });
  }
}
const fieldOf = (kind: QuestionKind) => (kind === 'choice' ? 'choice' : kind === 'text' ? 'text' : 'score');

export interface AnswerResult { responseId: number; caseId: number | null }

/**
 * Stores a patron's response in one transaction: the response (with the patron's segment when they
 * allow profiling), its answers, a line in the communication log, and a complaint case when a score
 * is low or the free text complains. Nothing is stored when anything is refused.
 */
export function answerSurvey(db: Db, a: { surveyId: number; patronId: number; via: 'opac' | 'link'; input: AnswerInput }, rules: ComplaintRules, now: Date): AnswerResult {
  const { answers } = AnswerInput.parse(a.input);
  return db.transaction((): AnswerResult => {
    const s = getSurvey(db, a.surveyId);
    checkOpen(s, now);
    if (!db.prepare('SELECT 1 FROM patron WHERE id = ?').get(a.patronId)) throw notFound('patron', a.patronId);
    if (hasAnswered(db, s.id, a.patronId)) throw new DomainError('SURVEY_ALREADY_ANSWERED', `survey ${s.id} has been answered already`, 409);
    checkAnswers(s, answers);
    const ts = now.toISOString();
    const segment = db.prepare(`SELECT pp.tier, pp.cluster FROM patron_profile pp JOIN patron_consent pc ON pc.patron_id = pp.patron_id
        WHERE pp.patron_id = ? AND pc.profiling = 1`).get(a.patronId) as { tier: string | null; cluster: string | null } | undefined;
    const responseId = Number(db.prepare('INSERT INTO survey_response (survey_id, patron_id, via, submitted_at, tier, cluster) VALUES (?, ?, ?, ?, ?, ?)')
      .run(s.id, a.patronId, a.via, ts, segment?.tier ?? null, segment?.cluster ?? null).lastInsertRowid);
    const insert = db.prepare('INSERT INTO survey_answer (response_id, question_id, score, choice, text) VALUES (?, ?, ?, ?, ?)');
    for (const x of answers) insert.run(responseId, x.questionId, x.score ?? null, x.choice ?? null, x.text ?? null);

    const invitation = db.prepare('SELECT channel FROM survey_invitation WHERE survey_id = ? AND patron_id = ?').get(s.id, a.patronId) as { channel: ChannelName } | undefined;
    const channel = a.via === 'opac' ? 'in_app' : invitation?.channel ?? 'in_app';
    db.prepare(`INSERT INTO communication (patron_id, at, channel, direction, staff, summary, ref) VALUES (?, ?, ?, 'in', NULL, ?, ?)`)
      .run(a.patronId, ts, channel, `Answered the survey "${s.title}"`.slice(0, 500), `survey-response:${responseId}`);

    const scored: ScoredAnswer[] = answers.map((x) => {
      const q = s.questions.find((q) => q.id === x.questionId)!;
      return { questionId: q.id, question: q.text, kind: q.kind, score: x.score ?? null, text: x.text ?? null };
    });
    const triggers = complaintTriggers(scored, rules);
    if (!triggers.length) return { responseId, caseId: null };
    const { subject, detail } = describeComplaint(s.title, triggers, scored);
    const opened = openCase(db, { patronId: a.patronId, kind: 'complaint', subject, detail, source: 'survey', ref: `survey-response:${responseId}` }, 'system:survey', now);
    db.prepare('UPDATE survey_response SET case_id = ? WHERE id = ?').run(opened.id, responseId);
    return { responseId, caseId: opened.id };
  }).immediate();
}
