import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { COMPLAINT_KEYWORDS_EN, COMPLAINT_KEYWORDS_ZH, complaintWords, DEFAULT_COMPLAINT_RULES } from '../../../../server/crm/outreach/complaints.js';
import { surveyResults } from '../../../../server/crm/outreach/survey-results.js';
import { answerSurvey, createSurvey, type SurveyInput } from '../../../../server/crm/outreach/surveys.js';
import { loadOrCreateSecret, TokenSigner } from '../../../../server/crm/outreach/tokens.js';
import { expectProblem, ok, PIN, type Session } from '../../http/helpers.js';
import { openOutreach, SECRET, type Outreach } from './helpers.js';

let lib: Outreach;
afterEach(async () => { await lib?.close(); });

const DAY = 86_400_000;
const QUESTIONS: SurveyInput['questions'] = [
  { kind: 'rating', text: '您对图书馆满意吗？How satisfied are you with the library?' },
  { kind: 'nps', text: '您会向朋友推荐图书馆吗？Would you recommend the library to a friend?' },
  { kind: 'choice', text: 'What should we improve first?', options: ['quiet', 'wifi', 'seats'], required: false },
  { kind: 'text', text: '还有什么想说的？Anything else?', required: false },
];
const survey = (over: Partial<SurveyInput> = {}) => createSurvey(lib.db, { title: 'Spring 2026', status: 'open', questions: QUESTIONS, ...over }, 'staff:alice', lib.clock.now());
/** Answers to the four questions, in order. */
const answers = (ids: number[], rating: number, nps: number, text?: string) => ({
  answers: [{ questionId: ids[0]!, score: rating }, { questionId: ids[1]!, score: nps }, ...(text ? [{ questionId: ids[3]!, text }] : [])],
});
const linkIn = (text: string) => /https:\/\/library\.example\.edu\/opac\/#\/survey\/(\S+)/.exec(text)?.[1];

describe('answering a survey', () => {
  it('in the online catalogue, once, by a patron it was sent to', async () => {
    lib = openOutreach();
    const librarian = await lib.librarian();
    const invited = await lib.reader({}, {}, PIN);
    const notInvited = await lib.patron({}, PIN); // no marketing consent: not sent the survey
    const created = await ok(await lib.request('/crm/surveys', { as: librarian, body: { title: 'Spring 2026', status: 'open', questions: QUESTIONS } }), 201);
    const ids = created.questions.map((q: { id: number }) => q.id);
    expect(await ok(await lib.request(`/crm/surveys/${created.id}/send`, { as: librarian, body: { channel: 'in_app', audience: { segment: 'all' } } }), 202))
      .toMatchObject({ campaignId: expect.any(Number), audience: 2, queued: 1, skipped: { NO_MARKETING_CONSENT: 1 } });
    await lib.outreach.idle();

    const s: Session = await lib.patronSession(invited.cardNumber);
    const listed = await ok(await lib.request('/me/surveys', { as: s }));
    expect(listed.surveys).toEqual([expect.objectContaining({ id: created.id, title: 'Spring 2026', answered: false, questions: expect.any(Array) })]);
    await expectProblem(await lib.request(`/me/surveys/${created.id}`, { as: s, body: { answers: [{ questionId: ids[0], score: 6 }] } }), 422, 'SURVEY_ANSWER_INVALID');
    const first = await ok(await lib.request(`/me/surveys/${created.id}`, { as: s, body: { answers: [...answers(ids, 4, 9).answers, { questionId: ids[2], choice: 'wifi' }] } }), 201);
    expect(first).toEqual({ responseId: expect.any(Number), followUp: false });
    await expectProblem(await lib.request(`/me/surveys/${created.id}`, { as: s, body: answers(ids, 5, 10) }), 409, 'SURVEY_ALREADY_ANSWERED');
    expect((await ok(await lib.request(`/me/surveys/${created.id}`, { as: s }))).answered).toBe(true);
    expect(lib.db.prepare('SELECT via, patron_id FROM survey_response').all()).toEqual([{ via: 'opac', patron_id: invited.id }]);
    expect(lib.db.prepare("SELECT channel, direction, ref FROM communication WHERE direction = 'in'").all())
      .toEqual([{ channel: 'in_app', direction: 'in', ref: `survey-response:${first.responseId}` }]);

    const t = await lib.patronSession(notInvited.cardNumber);
    await expectProblem(await lib.request(`/me/surveys/${created.id}`, { as: t, body: answers(ids, 5, 10) }), 404, 'SURVEY_NOT_FOUND');
    expect(lib.count('survey_response')).toBe(1);
  });

  it('through the signed link in the message: single use; a tampered, malformed or expired link is refused and stores nothing', async () => {
    lib = openOutreach();
    const p = await lib.reader();
    const other = await lib.reader();
    const sv = survey();
    const ids = sv.questions.map((q) => q.id);
    lib.outreach.sendSurvey(sv.id, { channel: 'in_app', audience: { segment: 'all' } }, 'staff:alice');
    await lib.outreach.idle();
    const body = (lib.db.prepare('SELECT body FROM in_app_message WHERE patron_id = ?').get(p.id) as { body: string }).body;
    const token = linkIn(body)!;
    expect(token).toMatch(new RegExp(`^s\\.${p.id}\\.${sv.id}\\.\\d+\\.[\\w-]{22}$`));

    const shown = await ok(await lib.request(`/survey-links/${token}`));
    expect(shown).toMatchObject({ id: sv.id, title: 'Spring 2026', answered: false });
    expect(shown.questions.map((q: { kind: string }) => q.kind)).toEqual(['rating', 'nps', 'choice', 'text']);

    const [, , survey_, exp, mac] = token.split('.');
    const tampered = [
      `s.${other.id}.${survey_}.${exp}.${mac}`, // another patron
      `s.${p.id}.${survey_}.${Number(exp) + 86_400 * 365}.${mac}`, // a later expiry
      `o.${p.id}.${survey_}.${exp}.${mac}`, // an opt-out token
      `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, // the signature
      new TokenSigner('another-secret-that-is-32-bytes-long!').sign({ purpose: 's', patronId: p.id, subject: String(sv.id), expiresAt: new Date(lib.clock.now().getTime() + DAY) }),
    ];
    for (const t of tampered) {
      await expectProblem(await lib.request(`/survey-links/${t}`, { body: answers(ids, 1, 0, '投诉') }), 403, 'TOKEN_INVALID');
    }
    await expectProblem(await lib.request('/survey-links/s.1.2.3', { body: answers(ids, 1, 0) }), 400, 'TOKEN_MALFORMED');
    expect(lib.count('survey_response') + lib.count('survey_answer') + lib.count('crm_case')).toBe(0);

    expect(await ok(await lib.request(`/survey-links/${token}`, { body: answers(ids, 5, 10) }), 201)).toEqual({ responseId: expect.any(Number), followUp: false });
    await expectProblem(await lib.request(`/survey-links/${token}`, { body: answers(ids, 1, 0) }), 409, 'SURVEY_ALREADY_ANSWERED');
    expect(lib.db.prepare('SELECT patron_id, via FROM survey_response').all()).toEqual([{ patron_id: p.id, via: 'link' }]);

    const otherToken = linkIn((lib.db.prepare('SELECT body FROM in_app_message WHERE patron_id = ?').get(other.id) as { body: string }).body)!;
    lib.clock.advance(30 * DAY + 1000);
    await expectProblem(await lib.request(`/survey-links/${otherToken}`, { body: answers(ids, 5, 10) }), 403, 'TOKEN_EXPIRED');
    expect(lib.count('survey_response')).toBe(1);
  });

  it('refuses answers to a closed survey and does not send it', async () => {
    lib = openOutreach();
    const p = await lib.reader();
    const sv = survey({ closesAt: new Date(lib.clock.now().getTime() + DAY).toISOString() });
    lib.outreach.sendSurvey(sv.id, { channel: 'in_app', audience: { segment: 'all' } }, 'staff:alice');
    await lib.outreach.idle();
    lib.clock.advance(DAY);
    expect(() => lib.outreach.answer(sv.id, p.id, 'opac', answers(sv.questions.map((q) => q.id), 5, 10))).toThrowError(expect.objectContaining({ code: 'SURVEY_CLOSED' }));
    expect(() => lib.outreach.sendSurvey(sv.id, { channel: 'in_app', audience: { segment: 'all' } }, 'staff:alice')).toThrowError(expect.objectContaining({ code: 'SURVEY_CLOSED' }));
    const draft = survey({ status: 'draft' });
    expect(() => lib.outreach.sendSurvey(draft.id, { channel: 'in_app', audience: { segment: 'all' } }, 'staff:alice')).toThrowError(expect.objectContaining({ code: 'SURVEY_NOT_OPEN' }));
  });
});

describe('complaints from surveys', () => {
  it('opens a complaint case for a low recommendation score, and for "投诉" in the free text; not for a happy answer', async () => {
    lib = openOutreach();
    const [unhappy, complaining, happy, polite] = [await lib.reader(), await lib.reader(), await lib.reader(), await lib.reader()];
    const sv = survey();
    const ids = sv.questions.map((q) => q.id);
    const answer = (patronId: number, a: ReturnType<typeof answers>) => answerSurvey(lib.db, { surveyId: sv.id, patronId, via: 'opac', input: a }, DEFAULT_COMPLAINT_RULES, lib.clock.now());

    const low = answer(unhappy.id, answers(ids, 3, 2));
    const words = answer(complaining.id, answers(ids, 4, 8, '我要投诉：阅览室晚上太吵了'));
    expect(answer(happy.id, answers(ids, 5, 10, 'Lovely staff, no complaints at all')).caseId).toBeNull();
    expect(answer(polite.id, answers(ids, 3, 5, '没有不满，谢谢')).caseId).toBeNull(); // 5 is above the NPS threshold, 不满 negated

    const cases = lib.db.prepare('SELECT id, patron_id, kind, source, ref, status, subject, detail FROM crm_case ORDER BY id').all() as Record<string, unknown>[];
    expect(cases).toEqual([
      { id: low.caseId, patron_id: unhappy.id, kind: 'complaint', source: 'survey', ref: `survey-response:${low.responseId}`, status: 'open',
        subject: 'Survey "Spring 2026": recommendation 2', detail: `recommendation score 2 for "${QUESTIONS[1]!.text}"` },
      { id: words.caseId, patron_id: complaining.id, kind: 'complaint', source: 'survey', ref: `survey-response:${words.responseId}`, status: 'open',
        subject: 'Survey "Spring 2026": "投诉", "太吵"', detail: expect.stringContaining('阅览室晚上太吵了') },
    ]);
    expect(lib.db.prepare('SELECT case_id FROM survey_response ORDER BY id').pluck().all()).toEqual([low.caseId, words.caseId, null, null]);
  });

  it('finds complaint words in Chinese and English, but not negated ones', () => {
    const kw = [...COMPLAINT_KEYWORDS_ZH, ...COMPLAINT_KEYWORDS_EN];
    expect(complaintWords('I want to complain: the toilets were dirty', kw)).toEqual(['complain', 'dirty']);
    expect(complaintWords('The librarian was RUDE and the printer is broken.', kw)).toEqual(['rude', 'broken']);
    expect(complaintWords('I complained twice', kw)).toEqual(['complain']);
    expect(complaintWords('对服务很不满，自习室太吵', kw)).toEqual(['不满', '太吵']);
    expect(complaintWords('Nothing broken, not dirty, no complaints.', kw)).toEqual([]);
    expect(complaintWords('环境不太吵，没有不满', kw)).toEqual([]);
    expect(complaintWords('A prude would like it', kw)).toEqual([]); // at a word start only
  });
});

describe('survey results', () => {
  /**
   * Five responses: p1, p2 (tier active) and p3 (tier occasional) in March; p4 (occasional) just
   * after midnight on 1 April in Shanghai (still 31 March in UTC); p5, who does not allow
   * profiling (their stale profile says active), in April.
   */
  async function knownSet() {
    lib = openOutreach();
    const sv = survey();
    const ids = sv.questions.map((q) => q.id);
    const rows: [string, number | null, string, number, number][] = [
      ['active', 1, '2026-03-05T02:00:00.000Z', 5, 10],
      ['active', 1, '2026-03-20T02:00:00.000Z', 4, 9],
      ['occasional', 1, '2026-03-25T02:00:00.000Z', 2, 3],
      ['occasional', 1, '2026-03-31T16:30:00.000Z', 3, 7],
      ['active', 0, '2026-04-10T02:00:00.000Z', 5, 8],
    ];
    for (const [tier, profiling, at, rating, nps] of rows) {
      const p = await lib.reader({}, { profiling: profiling as 0 | 1 });
      lib.profile(p.id, { tier, cluster: tier === 'active' ? 'history' : 'fiction' });
      lib.clock.set(at);
      lib.outreach.answer(sv.id, p.id, 'opac', answers(ids, rating, nps));
    }
    return sv;
  }

  it('gives CSAT and NPS overall, per segment and per month, exactly', async () => {
    const sv = await knownSet();
    const r = surveyResults(lib.db, sv.id, 'Asia/Shanghai', { minGroup: 1 });
    // ratings 5 4 2 3 5: 3 of 5 satisfied; nps 10 9 3 7 8: 2 promoters, 1 detractor, 2 passives
    expect(r.overall).toEqual({ responses: 5, csat: { score: 60, satisfied: 3, answers: 5 }, nps: { score: 20, promoters: 2, passives: 2, detractors: 1, answers: 5 } });
    expect(r.bySegment).toEqual([
      { segment: 'tier:active', suppressed: false, responses: 2, csat: { score: 100, satisfied: 2, answers: 2 }, nps: { score: 100, promoters: 2, passives: 0, detractors: 0, answers: 2 } },
      { segment: 'tier:occasional', suppressed: false, responses: 2, csat: { score: 0, satisfied: 0, answers: 2 }, nps: { score: -50, promoters: 0, passives: 1, detractors: 1, answers: 2 } },
      { segment: 'cluster:fiction', suppressed: false, responses: 2, csat: { score: 0, satisfied: 0, answers: 2 }, nps: { score: -50, promoters: 0, passives: 1, detractors: 1, answers: 2 } },
      { segment: 'cluster:history', suppressed: false, responses: 2, csat: { score: 100, satisfied: 2, answers: 2 }, nps: { score: 100, promoters: 2, passives: 0, detractors: 0, answers: 2 } },
      { segment: 'unsegmented', suppressed: false, responses: 1, csat: { score: 100, satisfied: 1, answers: 1 }, nps: { score: 0, promoters: 0, passives: 1, detractors: 0, answers: 1 } },
    ]);
    expect(r.byMonth).toEqual([
      // March: ratings 5 4 2 → 2 of 3; nps 10 9 3 → (2 − 1) / 3
      { month: '2026-03', responses: 3, csat: { score: 66.7, satisfied: 2, answers: 3 }, nps: { score: 33.3, promoters: 2, passives: 0, detractors: 1, answers: 3 } },
      // April: ratings 3 5 → 1 of 2; nps 7 8 → all passive
      { month: '2026-04', responses: 2, csat: { score: 50, satisfied: 1, answers: 2 }, nps: { score: 0, promoters: 0, passives: 2, detractors: 0, answers: 2 } },
    ]);
    expect(r.questions[0]).toMatchObject({ kind: 'rating', answers: 5, distribution: { 1: 0, 2: 1, 3: 1, 4: 1, 5: 2 }, average: 3.8 });
    expect(r.questions[1]).toMatchObject({ kind: 'nps', answers: 5, average: 7.4 });
  });

  it('withholds segments under ten responses over HTTP, and refuses a segment filter that small', async () => {
    const sv = await knownSet();
    const librarian = await lib.librarian();
    const r = await ok(await lib.request(`/crm/surveys/${sv.id}/results`, { as: librarian }));
    expect(r.overall.csat.score).toBe(60);
    expect(r.bySegment.every((s: { suppressed: boolean; csat?: unknown }) => s.suppressed && s.csat === undefined)).toBe(true);
    await expectProblem(await lib.request(`/crm/surveys/${sv.id}/results?segment=all`, { as: librarian }), 409, 'GROUP_TOO_SMALL');
  });

  it('stops counting a response in its segment once the patron withdraws profiling', async () => {
    const sv = await knownSet();
    const first = lib.db.prepare('SELECT patron_id FROM survey_response ORDER BY id LIMIT 1').pluck().get() as number;
    lib.consent(first, { marketing: 1, profiling: 0 });
    const r = surveyResults(lib.db, sv.id, 'Asia/Shanghai', { minGroup: 1 });
    expect(r.bySegment.find((s) => s.segment === 'tier:active')).toMatchObject({ responses: 1 });
    expect(r.bySegment.find((s) => s.segment === 'unsegmented')).toMatchObject({ responses: 2 });
  });
});

describe('signed tokens', () => {
  it('carry patron, subject and expiry, and verify only with the same key, purpose and before expiry', () => {
    const signer = new TokenSigner(SECRET);
    const now = new Date('2026-03-02T02:00:00.000Z');
    const token = signer.sign({ purpose: 's', patronId: 42, subject: '7', expiresAt: new Date(now.getTime() + DAY) });
    expect(token).toMatch(/^s\.42\.7\.1772503200\.[A-Za-z0-9_-]{22}$/);
    expect(signer.verify(token, 's', now)).toEqual({ purpose: 's', patronId: 42, subject: '7', expiresAt: new Date(now.getTime() + DAY) });
    const code = (f: () => unknown) => { try { f(); return null; } catch (e) { return (e as { code: string }).code; } };
    expect(code(() => signer.verify(token, 'o', now))).toBe('TOKEN_INVALID');
    expect(code(() => signer.verify(token, 's', new Date(now.getTime() + DAY)))).toBe('TOKEN_EXPIRED');
    expect(code(() => signer.verify(`${token}x`, 's', now))).toBe('TOKEN_MALFORMED');
    expect(() => new TokenSigner('short')).toThrow(/32 bytes/);
  });

  it('keep their secret in a file made once, readable by the owner only', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'shelfsense-secret-')), 'outreach.secret');
    const secret = loadOrCreateSecret(file);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadOrCreateSecret(file)).toBe(secret);
    rmSync(dirname(file), { recursive: true });
  });
});
