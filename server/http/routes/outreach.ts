import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { systemClock } from '../../clock.js';
import { getSetting } from '../../store/db.js';
import { MIN_GROUP } from '../../crm/analytics.js';
import { addHoliday, deleteHoliday, listHolidays } from '../../crm/outreach/automatic.js';
import {
  CAMPAIGN_KINDS, CAMPAIGN_STATUSES, CampaignInput, CampaignPatch, createCampaign, deleteCampaign, getCampaign, listCampaigns, listRuns,
  MESSAGE_STATUSES, messageLog, updateCampaign,
} from '../../crm/outreach/campaigns.js';
import { CHANNELS } from '../../crm/outreach/channel.js';
import { SKIP_REASONS } from '../../crm/outreach/consent.js';
import { listInAppMessages, markInAppMessage } from '../../crm/outreach/in-app.js';
import type { OutreachFeature } from '../../crm/outreach/outreach.js';
import { surveyResults } from '../../crm/outreach/survey-results.js';
import {
  AnswerInput, createSurvey, deleteSurvey, getSurvey, hasAnswered, invitedSurvey, listSurveys, QUESTION_KINDS, SURVEY_STATUSES, SurveyInput,
  SurveyPatch, SurveySendInput, surveysOf, updateSurvey, type Survey,
} from '../../crm/outreach/surveys.js';
import type { AppDeps } from '../app.js';
import { audit, auditPatronReads, patronTarget } from '../audit.js';
import { ADMIN_SESSION, PATRON_SESSION, STAFF_SESSION } from '../auth.js';
import { actorOf, router } from '../env.js';
import { HttpProblem, problems } from '../problem.js';
import { IdParam, json, ok, Paging } from '../schemas/common.js';
import { API_BASE } from '../types.js';

// ---- schemas -----------------------------------------------------------------------------------

/**
 * A domain schema, named in the OpenAPI document. Zod 4 gives a schema `.openapi()` when it is built,
 * once @hono/zod-openapi is loaded; a domain module (plain zod) may have been loaded first, so the
 * route documents a copy (`extend({})`) made here.
 */
const named = <S extends z.ZodObject>(schema: S, name: string): S => schema.extend({}).openapi(name) as unknown as S;

export const CampaignCreateBody = named(CampaignInput, 'CampaignCreate');
export const CampaignPatchBody = named(CampaignPatch, 'CampaignPatch');
export const CampaignSchema = z.object({
  id: z.number().int(), name: z.string(), kind: z.enum(CAMPAIGN_KINDS), channel: z.enum(CHANNELS), status: z.enum(CAMPAIGN_STATUSES),
  automatic: z.boolean().openapi({ description: 'sent by the daily run while active' }),
  audience: z.record(z.string(), z.unknown()).nullable(), subject: z.string(), body: z.string(),
  genericSubject: z.string().nullable(), genericBody: z.string().nullable(), params: z.record(z.string(), z.unknown()),
  createdBy: z.string(), createdAt: z.string(), updatedAt: z.string(),
}).openapi('Campaign');
const SkipCounts = z.partialRecord(z.enum(SKIP_REASONS), z.number().int());
export const RunSummarySchema = z.object({
  runId: z.number().int().nullable(), audience: z.number().int(), queued: z.number().int(), skipped: SkipCounts,
  unchanged: z.number().int().openapi({ description: 'already on record for the occasion (automatic campaigns), left alone' }),
}).openapi('CampaignRunSummary');
export const PreviewSchema = z.object({ audience: z.number().int(), eligible: z.number().int(), skipped: SkipCounts }).openapi('CampaignPreview');
const StatusCounts = z.object(Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, z.number().int()])) as Record<(typeof MESSAGE_STATUSES)[number], z.ZodNumber>);
export const CampaignMessageSchema = z.object({
  id: z.number().int(), campaignId: z.number().int(), runId: z.number().int().nullable(), patronId: z.number().int(), occasion: z.string(),
  channel: z.enum(CHANNELS), status: z.enum(MESSAGE_STATUSES), reason: z.string().nullable(), error: z.string().nullable(),
  variant: z.enum(['personalised', 'generic']).nullable(), recipient: z.string().nullable(), subject: z.string().nullable(), attempts: z.number().int(),
  nextAttemptAt: z.string().nullable(), createdAt: z.string(), updatedAt: z.string(), sentAt: z.string().nullable(),
}).openapi('CampaignMessage');
export const MessageLogSchema = z.object({ total: z.number().int(), counts: StatusCounts, messages: z.array(CampaignMessageSchema) }).openapi('CampaignMessageLog');
export const MessageLogQuery = z.object({
  status: z.enum(MESSAGE_STATUSES).optional(), runId: z.coerce.number().int().positive().optional(), patronId: z.coerce.number().int().positive().optional(), ...Paging,
});
export const RunSchema = z.object({
  id: z.number().int(), campaignId: z.number().int(), trigger: z.enum(['manual', 'automatic']), actor: z.string(), at: z.string(), audience: z.number().int(), status: StatusCounts,
}).openapi('CampaignRun');
export const HolidayBody = z.strictObject({
  name: z.string().trim().min(1).max(200), nameZh: z.string().trim().min(1).max(200).nullable().optional(),
  date: z.string().openapi({ description: "'MM-DD' every year, or 'YYYY-MM-DD' once (lunar holidays)", example: '10-01' }),
}).openapi('HolidayCreate');
export const HolidaySchema = z.object({ id: z.number().int(), name: z.string(), nameZh: z.string().nullable(), date: z.string() }).openapi('Holiday');

const QuestionSchema = z.object({
  id: z.number().int(), position: z.number().int(), kind: z.enum(QUESTION_KINDS), text: z.string(), options: z.array(z.string()).nullable(), required: z.boolean(),
}).openapi('SurveyQuestion');
export const SurveySchema = z.object({
  id: z.number().int(), title: z.string(), intro: z.string().nullable(), status: z.enum(SURVEY_STATUSES), closesAt: z.string().nullable(),
  questions: z.array(QuestionSchema), invited: z.number().int(), responses: z.number().int(), createdBy: z.string(), createdAt: z.string(), updatedAt: z.string(),
}).openapi('Survey');
/** What a patron sees of a survey: no counts, no author. */
export const PatronSurveySchema = z.object({
  id: z.number().int(), title: z.string(), intro: z.string().nullable(), closesAt: z.string().nullable(), questions: z.array(QuestionSchema), answered: z.boolean(),
}).openapi('PatronSurvey');
export const SurveyCreateBody = named(SurveyInput, 'SurveyCreate');
export const SurveyPatchBody = named(SurveyPatch, 'SurveyPatch');
export const SurveySendBody = named(SurveySendInput, 'SurveySend');
export const SurveyAnswerBody = named(AnswerInput, 'SurveyAnswer');
export const SurveyAnswerResultSchema = z.object({
  responseId: z.number().int(), followUp: z.boolean().openapi({ description: 'true when a librarian will follow up (a complaint case was opened)' }),
}).openapi('SurveyAnswerResult');
export const SurveyResultsSchema = z.record(z.string(), z.unknown()).openapi('SurveyResults', { description: 'see server/crm/outreach/survey-results.ts SurveyResults' });
export const SurveyResultsQuery = z.object({
  segment: z.string().regex(/^(all|key|tier:.+|cluster:.+|saved:\d+)$/).optional().openapi({ description: 'only respondents in this segment as it is now (withheld under 10 responses)' }),
});
export const InAppMessageSchema = z.object({ id: z.number().int(), subject: z.string(), body: z.string(), createdAt: z.string(), readAt: z.string().nullable() }).openapi('InAppMessage');
export const InAppMessageListSchema = z.object({ total: z.number().int(), unread: z.number().int(), messages: z.array(InAppMessageSchema) }).openapi('InAppMessageList');
export const MessagesQuery = z.object({ unread: z.enum(['true', 'false']).transform((s) => s === 'true').optional(), ...Paging });
export const OptOutSchema = z.object({
  scope: z.string(), done: z.boolean(), message: z.object({ en: z.string(), zh: z.string() }),
}).openapi('OptOut');
const TokenParam = z.object({ token: z.string().min(1).max(300).openapi({ param: { name: 'token', in: 'path' } }) });

const patronView = (s: Survey, answered: boolean) => ({ id: s.id, title: s.title, intro: s.intro, closesAt: s.closesAt, questions: s.questions, answered });

/** What an opt-out scope stops, in both languages. */
function optOutWords(scope: string, done: boolean): { en: string; zh: string } {
  const what = scope === 'marketing' ? { en: 'all messages from the library other than service notices', zh: '除服务通知外的全部图书馆消息' }
    : scope === 'personalisation' ? { en: 'personalised messages (you will get the general version)', zh: '个性化消息（今后收到通用版本）' }
    : { en: `"${scope}" messages`, zh: `“${scope}”类消息` };
  return done ? { en: `Done: you will no longer receive ${what.en}.`, zh: `已完成：您将不再收到${what.zh}。` }
    : { en: `Stop receiving ${what.en}?`, zh: `不再接收${what.zh}？` };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const wantsHtml = (c: Context) => (c.req.header('Accept') ?? '').includes('text/html');

/** The opt-out page for a browser: the question and one button (a POST: link scanners that GET change nothing). */
function optOutPage(scope: string, done: boolean): string {
  const m = optOutWords(scope, done);
  const form = done ? '' : '<form method="post"><button type="submit" style="font-size:1.2em;padding:.5em 1em">确认 Confirm</button></form>';
  return `<!doctype html><html lang="zh"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>退订 Unsubscribe</title></head><body style="font-family:sans-serif;max-width:32em;margin:2em auto;padding:0 1em">
<p lang="zh">${escapeHtml(m.zh)}</p><p lang="en">${escapeHtml(m.en)}</p>${form}</body></html>`;
}

// ---- routes ------------------------------------------------------------------------------------

/**
 * CRM outreach. Staff: care campaigns (CRUD, audience preview, send, runs, delivery log), holidays,
 * the automatic run, surveys (CRUD, send, results). Patrons in the online catalogue: their in-app
 * messages and surveys. Anyone holding a signed link: a survey answer, an opt-out (RFC 8058
 * one-click POST). Rules: docs/crm-outreach.md.
 */
export function outreachRoutes(deps: AppDeps & { outreach?: OutreachFeature }) {
  const { db } = deps;
  const clock = deps.clock ?? systemClock;
  const app = router();
  const tags = ['crm-outreach'];
  const feature = () => {
    if (!deps.outreach) throw new HttpProblem(503, 'OUTREACH_UNAVAILABLE', 'the outreach feature is not running');
    return deps.outreach;
  };

  // ---- campaigns -------------------------------------------------------------------------------

  app.openapi(createRoute({
    method: 'get', path: '/crm/campaigns', tags, summary: 'Care campaigns, newest first', ...STAFF_SESSION,
    request: { query: z.object({ kind: z.enum(CAMPAIGN_KINDS).optional(), status: z.enum(CAMPAIGN_STATUSES).optional() }) },
    responses: { 200: ok(z.object({ campaigns: z.array(CampaignSchema) }).openapi('CampaignList'), 'campaigns'), ...problems(400, 401, 403) },
  }), (c) => c.json({ campaigns: listCampaigns(db, c.req.valid('query')) }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/crm/campaigns', tags, summary: 'Define a campaign (texts checked: a generic variant for profile placeholders)', ...STAFF_SESSION,
    request: { body: json(CampaignCreateBody) },
    responses: { 201: ok(CampaignSchema, 'the campaign'), ...problems(400, 401, 403, 404, 422) },
  }), (c) => {
    const now = clock.now();
    const actor = actorOf(c.get('principal'));
    const created = createCampaign(db, c.req.valid('json'), actor, now);
    audit(db, now, actor, 'campaign.create', `campaign:${created.id}`);
    c.header('Location', `${API_BASE}/crm/campaigns/${created.id}`);
    return c.json(created, 201);
  });

  app.openapi(createRoute({
    method: 'get', path: '/crm/campaigns/{id}', tags, summary: 'One campaign', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(CampaignSchema, 'the campaign'), ...problems(400, 401, 403, 404) },
  }), (c) => c.json(getCampaign(db, c.req.valid('param').id), 200));

  app.openapi(createRoute({
    method: 'patch', path: '/crm/campaigns/{id}', tags, summary: 'Change a campaign (status "active" lets the daily run send an automatic one)', ...STAFF_SESSION,
    request: { params: IdParam, body: json(CampaignPatchBody) },
    responses: { 200: ok(CampaignSchema, 'the campaign'), ...problems(400, 401, 403, 404, 422) },
  }), (c) => {
    const now = clock.now();
    const changed = updateCampaign(db, c.req.valid('param').id, c.req.valid('json'), now);
    audit(db, now, actorOf(c.get('principal')), 'campaign.update', `campaign:${changed.id}`, { fields: Object.keys(c.req.valid('json')) });
    return c.json(changed, 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/crm/campaigns/{id}', tags, summary: 'Delete a campaign that never sent (else archive it)', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 204: { description: 'deleted' }, ...problems(400, 401, 403, 404, 409) },
  }), (c) => {
    const { id } = c.req.valid('param');
    deleteCampaign(db, id);
    audit(db, clock.now(), actorOf(c.get('principal')), 'campaign.delete', `campaign:${id}`);
    return c.body(null, 204);
  });

  app.openapi(createRoute({
    method: 'get', path: '/crm/campaigns/{id}/preview', tags, summary: "How many patrons a send would reach now (an automatic campaign: today's), and why the others would be skipped", ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(PreviewSchema, 'audience size and skip reasons'), ...problems(400, 401, 403, 404, 422, 503) },
  }), (c) => c.json(feature().preview(c.req.valid('param').id), 200));

  app.openapi(createRoute({
    method: 'post', path: '/crm/campaigns/{id}/send', tags, summary: 'Send a campaign to its audience now (delivery continues in the background)', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 202: ok(RunSummarySchema, 'planned: queued and skipped, by reason'), ...problems(400, 401, 403, 404, 409, 422, 503) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const actor = actorOf(c.get('principal'));
    const summary = feature().send(id, actor);
    audit(db, clock.now(), actor, 'campaign.send', `campaign:${id}`, { runId: summary.runId, queued: summary.queued });
    return c.json(summary, 202);
  });

  app.openapi(createRoute({
    method: 'get', path: '/crm/campaigns/{id}/runs', tags, summary: "A campaign's runs, each with where its messages stand", ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(z.object({ runs: z.array(RunSchema) }).openapi('CampaignRunList'), 'runs'), ...problems(400, 401, 403, 404) },
  }), (c) => c.json({ runs: listRuns(db, c.req.valid('param').id) }, 200));

  app.openapi(createRoute({
    method: 'get', path: '/crm/campaigns/{id}/messages', tags, summary: 'The delivery log: every message with its status and reason (audited)', ...STAFF_SESSION,
    request: { params: IdParam, query: MessageLogQuery },
    responses: { 200: ok(MessageLogSchema, 'messages'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const log = messageLog(db, id, c.req.valid('query'));
    auditPatronReads(db, clock.now(), actorOf(c.get('principal')), 'campaign.messages.read', [...new Set(log.messages.map((m) => m.patronId))], { campaignId: id });
    return c.json(log, 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/crm/campaigns/automatic/run', tags, summary: 'Run the daily automatic campaigns now (admin)', ...ADMIN_SESSION,
    responses: { 200: ok(z.object({ results: z.array(z.object({ campaignId: z.number().int(), kind: z.string(), summary: RunSummarySchema.optional(), error: z.string().optional() })) }).openapi('AutomaticRun'), 'each active automatic campaign'), ...problems(401, 403, 503) },
  }), (c) => {
    const results = feature().runAutomatic();
    audit(db, clock.now(), actorOf(c.get('principal')), 'campaign.automatic.run', null, { campaigns: results.length });
    return c.json({ results }, 200);
  });

  // ---- holidays --------------------------------------------------------------------------------

  app.openapi(createRoute({
    method: 'get', path: '/crm/holidays', tags, summary: 'The holidays holiday campaigns greet on', ...STAFF_SESSION,
    responses: { 200: ok(z.object({ holidays: z.array(HolidaySchema) }).openapi('HolidayList'), 'holidays'), ...problems(401, 403) },
  }), (c) => c.json({ holidays: listHolidays(db) }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/crm/holidays', tags, summary: 'Add a holiday (MM-DD every year, or YYYY-MM-DD once)', ...STAFF_SESSION,
    request: { body: json(HolidayBody) },
    responses: { 201: ok(HolidaySchema, 'the holiday'), ...problems(400, 401, 403, 409, 422) },
  }), (c) => c.json(addHoliday(db, c.req.valid('json')), 201));

  app.openapi(createRoute({
    method: 'delete', path: '/crm/holidays/{id}', tags, summary: 'Remove a holiday', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 204: { description: 'removed' }, ...problems(400, 401, 403, 404) },
  }), (c) => { deleteHoliday(db, c.req.valid('param').id); return c.body(null, 204); });

  // ---- surveys ---------------------------------------------------------------------------------

  app.openapi(createRoute({
    method: 'get', path: '/crm/surveys', tags, summary: 'Satisfaction surveys, newest first', ...STAFF_SESSION,
    responses: { 200: ok(z.object({ surveys: z.array(SurveySchema) }).openapi('SurveyList'), 'surveys'), ...problems(401, 403) },
  }), (c) => c.json({ surveys: listSurveys(db) }, 200));

  app.openapi(createRoute({
    method: 'post', path: '/crm/surveys', tags, summary: 'Define a survey: rating (1–5), nps (0–10), choice and text questions', ...STAFF_SESSION,
    request: { body: json(SurveyCreateBody) },
    responses: { 201: ok(SurveySchema, 'the survey'), ...problems(400, 401, 403, 422) },
  }), (c) => {
    const now = clock.now();
    const actor = actorOf(c.get('principal'));
    const created = createSurvey(db, c.req.valid('json'), actor, now);
    audit(db, now, actor, 'survey.create', `survey:${created.id}`);
    c.header('Location', `${API_BASE}/crm/surveys/${created.id}`);
    return c.json(created, 201);
  });

  app.openapi(createRoute({
    method: 'get', path: '/crm/surveys/{id}', tags, summary: 'One survey', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(SurveySchema, 'the survey'), ...problems(400, 401, 403, 404) },
  }), (c) => c.json(getSurvey(db, c.req.valid('param').id), 200));

  app.openapi(createRoute({
    method: 'patch', path: '/crm/surveys/{id}', tags, summary: 'Change a survey: open or close it; questions only while a draft', ...STAFF_SESSION,
    request: { params: IdParam, body: json(SurveyPatchBody) },
    responses: { 200: ok(SurveySchema, 'the survey'), ...problems(400, 401, 403, 404, 409, 422) },
  }), (c) => {
    const now = clock.now();
    const changed = updateSurvey(db, c.req.valid('param').id, c.req.valid('json'), now);
    audit(db, now, actorOf(c.get('principal')), 'survey.update', `survey:${changed.id}`, { fields: Object.keys(c.req.valid('json')) });
    return c.json(changed, 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/crm/surveys/{id}', tags, summary: 'Delete a draft survey nobody was sent', ...STAFF_SESSION,
    request: { params: IdParam },
    responses: { 204: { description: 'deleted' }, ...problems(400, 401, 403, 404, 409) },
  }), (c) => { deleteSurvey(db, c.req.valid('param').id); return c.body(null, 204); });

  app.openapi(createRoute({
    method: 'post', path: '/crm/surveys/{id}/send', tags, summary: 'Send an open survey to an audience (a campaign of kind "survey" with a signed link)', ...STAFF_SESSION,
    request: { params: IdParam, body: json(SurveySendBody) },
    responses: { 202: ok(RunSummarySchema.extend({ campaignId: z.number().int() }).openapi('SurveySendSummary'), 'planned'), ...problems(400, 401, 403, 404, 409, 422, 503) },
  }), (c) => {
    const { id } = c.req.valid('param');
    const actor = actorOf(c.get('principal'));
    const summary = feature().sendSurvey(id, c.req.valid('json'), actor);
    audit(db, clock.now(), actor, 'survey.send', `survey:${id}`, { campaignId: summary.campaignId, queued: summary.queued });
    return c.json(summary, 202);
  });

  app.openapi(createRoute({
    method: 'get', path: '/crm/surveys/{id}/results', tags, summary: 'CSAT and NPS overall, per segment (withheld under 10) and per month; each question', ...STAFF_SESSION,
    request: { params: IdParam, query: SurveyResultsQuery },
    responses: { 200: ok(SurveyResultsSchema, 'results'), ...problems(400, 401, 403, 404, 409, 422, 503) },
  }), (c) => {
    const { id } = c.req.valid('param');
    getSurvey(db, id);
    const { segment } = c.req.valid('query');
    const respondents = segment ? new Set(feature().ctx.resolveAudience({ segment }, clock.now())) : undefined;
    return c.json(surveyResults(db, id, getSetting(db, 'time_zone', 'UTC'), { respondents, minGroup: MIN_GROUP }) as unknown as Record<string, unknown>, 200);
  });

  // ---- the patron's side (online catalogue) --------------------------------------------------

  app.openapi(createRoute({
    method: 'get', path: '/me/messages', tags: ['me'], summary: 'My messages from the library, newest first, with the unread count', ...PATRON_SESSION,
    request: { query: MessagesQuery },
    responses: { 200: ok(InAppMessageListSchema, 'my messages'), ...problems(400, 401, 403) },
  }), (c) => c.json(listInAppMessages(db, c.get('principal').patronId, c.req.valid('query')), 200));

  app.openapi(createRoute({
    method: 'post', path: '/me/messages/{id}/read', tags: ['me'], summary: 'Mark one of my messages read', ...PATRON_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(InAppMessageSchema, 'the message'), ...problems(400, 401, 403, 404) },
  }), (c) => c.json(markInAppMessage(db, c.get('principal').patronId, c.req.valid('param').id, true, clock.now()), 200));

  app.openapi(createRoute({
    method: 'delete', path: '/me/messages/{id}/read', tags: ['me'], summary: 'Mark one of my messages unread', ...PATRON_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(InAppMessageSchema, 'the message'), ...problems(400, 401, 403, 404) },
  }), (c) => c.json(markInAppMessage(db, c.get('principal').patronId, c.req.valid('param').id, false, clock.now()), 200));

  app.openapi(createRoute({
    method: 'get', path: '/me/surveys', tags: ['me'], summary: 'Open surveys I was invited to, and whether I answered', ...PATRON_SESSION,
    responses: { 200: ok(z.object({ surveys: z.array(PatronSurveySchema) }).openapi('PatronSurveyList'), 'my surveys'), ...problems(401, 403) },
  }), (c) => c.json({ surveys: surveysOf(db, c.get('principal').patronId, clock.now()).map((s) => patronView(s, s.answered)) }, 200));

  app.openapi(createRoute({
    method: 'get', path: '/me/surveys/{id}', tags: ['me'], summary: 'A survey I was invited to, with its questions', ...PATRON_SESSION,
    request: { params: IdParam },
    responses: { 200: ok(PatronSurveySchema, 'the survey'), ...problems(400, 401, 403, 404) },
  }), (c) => {
    const { patronId } = c.get('principal');
    const s = invitedSurvey(db, c.req.valid('param').id, patronId);
    return c.json(patronView(s, hasAnswered(db, s.id, patronId)), 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/me/surveys/{id}', tags: ['me'], summary: 'Answer a survey I was invited to (once)', ...PATRON_SESSION,
    request: { params: IdParam, body: json(SurveyAnswerBody) },
    responses: { 201: ok(SurveyAnswerResultSchema, 'answered'), ...problems(400, 401, 403, 404, 409, 422, 503) },
  }), (c) => {
    const { patronId } = c.get('principal');
    const s = invitedSurvey(db, c.req.valid('param').id, patronId);
    const result = feature().answer(s.id, patronId, 'opac', c.req.valid('json'));
    return c.json({ responseId: result.responseId, followUp: result.caseId !== null }, 201);
  });

  // ---- signed links: no sign-in, the token is the authority ------------------------------------

  app.openapi(createRoute({
    method: 'get', path: '/survey-links/{token}', tags, summary: 'The survey a signed link is for (TOKEN_MALFORMED 400, TOKEN_INVALID / TOKEN_EXPIRED 403)',
    request: { params: TokenParam },
    responses: { 200: ok(PatronSurveySchema, 'the survey'), ...problems(400, 403, 404, 503) },
  }), (c) => {
    const { claims, survey } = feature().surveyLink(c.req.valid('param').token);
    return c.json(patronView(survey, hasAnswered(db, survey.id, claims.patronId)), 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/survey-links/{token}', tags, summary: 'Answer through a signed link (once per patron; a bad link changes nothing)',
    request: { params: TokenParam, body: json(SurveyAnswerBody) },
    responses: { 201: ok(SurveyAnswerResultSchema, 'answered'), ...problems(400, 403, 404, 409, 422, 503) },
  }), (c) => {
    const { claims, survey } = feature().surveyLink(c.req.valid('param').token);
    const result = feature().answer(survey.id, claims.patronId, 'link', c.req.valid('json'));
    return c.json({ responseId: result.responseId, followUp: result.caseId !== null }, 201);
  });

  const optOutResponses = {
    200: {
      description: 'what the link stops, and whether that is done (text/html for a browser)',
      content: { 'application/json': { schema: OptOutSchema }, 'text/html': { schema: z.string() } },
    },
    ...problems(400, 403, 503),
  };

  app.openapi(createRoute({
    method: 'get', path: '/opt-out/{token}', tags, summary: 'What an opt-out link stops (changes nothing; a browser gets a page with a confirm button)',
    request: { params: TokenParam }, responses: optOutResponses,
  }), (c) => {
    const { claims, done } = feature().optOutLink(c.req.valid('param').token);
    if (wantsHtml(c)) return c.html(optOutPage(claims.subject, done), 200);
    return c.json({ scope: claims.subject, done, message: optOutWords(claims.subject, done) }, 200);
  });

  app.openapi(createRoute({
    method: 'post', path: '/opt-out/{token}', tags,
    summary: 'Opt out (RFC 8058 one-click: any body, e.g. List-Unsubscribe=One-Click). "marketing" sets consent marketing = 0',
    request: { params: TokenParam }, responses: optOutResponses,
  }), (c) => {
    const { claims } = feature().optOutLink(c.req.valid('param').token);
    const changed = feature().optOut(claims.patronId, claims.subject, 'link');
    if (changed) audit(db, clock.now(), `patron:${claims.patronId}`, 'patron.opt_out', patronTarget(claims.patronId), { scope: claims.subject, via: 'link' });
    if (wantsHtml(c)) return c.html(optOutPage(claims.subject, true), 200);
    return c.json({ scope: claims.subject, done: true, message: optOutWords(claims.subject, true) }, 200);
  });

  return app;
}
