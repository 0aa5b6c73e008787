/**
 * When a survey response is a complaint (docs/crm-outreach.md, "Complaint detection"): a low score, or
 * free text with a complaint word that is not negated. One case per response, with every trigger.
 */

export interface ComplaintRules {
  /** A rating (1–5) at or below this opens a case; default 2. */
  maxRating: number;
  /** A recommendation score (0–10) at or below this opens a case; default 4 (NPS detractors are 0–6: only the clearly unhappy ones). */
  maxNps: number;
  /** Words that mark a complaint, Chinese and English; English ones match at a word start ("complain" finds "complained"). */
  keywords: string[];
}

export const COMPLAINT_KEYWORDS_ZH = [
  '投诉', '不满', '太吵', '很吵', '吵闹', '太脏', '很脏', '脏乱', '不干净', '坏了', '损坏', '态度差', '态度不好', '服务差', '很差', '太差', '失望', '不礼貌', '粗鲁',
];
export const COMPLAINT_KEYWORDS_EN = [
  'complain', 'rude', 'broken', 'dirty', 'filthy', 'noisy', 'terrible', 'awful', 'unacceptable', 'disappointed', 'unfriendly',
];
export const DEFAULT_COMPLAINT_RULES: ComplaintRules = { maxRating: 2, maxNps: 4, keywords: [...COMPLAINT_KEYWORDS_ZH, ...COMPLAINT_KEYWORDS_EN] };

/** English words that, one or two words before a keyword, negate it ("no complaints", "not dirty at all"). */
const NEGATION_EN = /\b(no|not|never|nothing|without|hardly|\w+n't)\s+(\w+\s+)?$/i;
/** Chinese negators right before a keyword ("没有不满", "不太吵"). */
const NEGATION_ZH = /(没有|没|无|不|并不|从不)$/;
const HAN = /\p{Script=Han}/u;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The keywords found in a text, each once, in the order of the list; negated mentions do not count. */
export function complaintWords(text: string, keywords: string[]): string[] {
  const found: string[] = [];
  for (const kw of keywords) {
    const han = HAN.test(kw);
    const pattern = han ? new RegExp(escape(kw), 'gu') : new RegExp(`\\b${escape(kw)}`, 'giu');
    for (const m of text.matchAll(pattern)) {
      const before = text.slice(Math.max(0, m.index - 30), m.index);
      if (!(han ? NEGATION_ZH : NEGATION_EN).test(before)) { found.push(kw); break; }
    }
  }
  return found;
}

export interface ScoredAnswer { questionId: number; question: string; kind: 'rating' | 'nps' | 'choice' | 'text'; score: number | null; text: string | null }
export type ComplaintTrigger =
  | { kind: 'low_rating' | 'low_nps'; questionId: number; question: string; score: number }
  | { kind: 'keyword'; questionId: number; question: string; words: string[] };

export function complaintTriggers(answers: ScoredAnswer[], rules: ComplaintRules): ComplaintTrigger[] {
  const triggers: ComplaintTrigger[] = [];
  for (const a of answers) {
    if (a.kind === 'rating' && a.score !== null && a.score <= rules.maxRating) triggers.push({ kind: 'low_rating', questionId: a.questionId, question: a.question, score: a.score });
    if (a.kind === 'nps' && a.score !== null && a.score <= rules.maxNps) triggers.push({ kind: 'low_nps', questionId: a.questionId, question: a.question, score: a.score });
    if (a.text) {
      const words = complaintWords(a.text, rules.keywords);
      if (words.length) triggers.push({ kind: 'keyword', questionId: a.questionId, question: a.question, words });
    }
  }
  return triggers;
}

/** The case's subject and detail: what triggered it, and the patron's own words. */
export function describeComplaint(surveyTitle: string, triggers: ComplaintTrigger[], answers: ScoredAnswer[]): { subject: string; detail: string } {
  const why = triggers.map((t) => (t.kind === 'keyword' ? `"${t.words.join('", "')}"` : `${t.kind === 'low_nps' ? 'recommendation' : 'rating'} ${t.score}`));
  const lines = triggers.map((t) => (t.kind === 'keyword'
    ? `complaint words ${t.words.map((w) => `"${w}"`).join(', ')} in "${t.question}"`
    : `${t.kind === 'low_nps' ? 'recommendation score' : 'rating'} ${t.score} for "${t.question}"`));
  const texts = answers.filter((a) => a.text).map((a) => `${a.question}: ${a.text}`);
  return {
    subject: `Survey "${surveyTitle}": ${why.join(', ')}`.slice(0, 300),
    detail: [...lines, ...(texts.length ? ['', ...texts] : [])].join('\n'),
  };
}
