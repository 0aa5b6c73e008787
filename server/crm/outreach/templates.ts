import { DomainError } from '../../errors.js';

/**
 * Campaign texts are plain text with `{{placeholders}}`. Two kinds of placeholder:
 * - general ones, filled from the patron record and the occasion, allowed in every text;
 * - profile ones, filled from the reading profile: only in the personalised variant, which only
 *   patrons who allow profiling (and did not ask for non-personalised messages) get.
 * Links are not placeholders: the footer with them is added to every message (footer()).
 */
export const GENERAL_FIELDS = ['name', 'holiday', 'event', 'eventDate', 'surveyUrl'] as const;
export const PROFILE_FIELDS = ['interest', 'tier', 'recommendations'] as const;
export type TemplateField = (typeof GENERAL_FIELDS)[number] | (typeof PROFILE_FIELDS)[number];
export type TemplateValues = Partial<Record<TemplateField, string | null>>;

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;
const isProfileField = (f: string) => (PROFILE_FIELDS as readonly string[]).includes(f);
const isKnown = (f: string) => isProfileField(f) || (GENERAL_FIELDS as readonly string[]).includes(f);

export function placeholdersOf(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

export interface CampaignTexts { subject: string; body: string; genericSubject?: string | null; genericBody?: string | null }

/**
 * Checks a campaign's texts: known placeholders only; the generic variant (given, or the main text
 * when none is given) uses no profile field; a generic variant is given whole or not at all.
 */
export function checkTexts(t: CampaignTexts): void {
  const unknown = [t.subject, t.body, t.genericSubject ?? '', t.genericBody ?? ''].flatMap(placeholdersOf).filter((f) => !isKnown(f));
  if (unknown.length) {
    throw new DomainError('TEMPLATE_UNKNOWN_PLACEHOLDER', `unknown placeholder(s) ${unknown.map((f) => `{{${f}}}`).join(', ')}; known: ${[...GENERAL_FIELDS, ...PROFILE_FIELDS].join(', ')}`, 422);
  }
  if ((t.genericSubject == null) !== (t.genericBody == null)) {
    throw new DomainError('GENERIC_VARIANT_INCOMPLETE', 'give both genericSubject and genericBody, or neither', 422);
  }
  const generic = t.genericBody != null ? [t.genericSubject!, t.genericBody] : [t.subject, t.body];
  const profiled = generic.flatMap(placeholdersOf).filter(isProfileField);
  if (profiled.length) {
    throw new DomainError(t.genericBody != null ? 'GENERIC_VARIANT_PERSONALISED' : 'GENERIC_VARIANT_REQUIRED',
      `${profiled.map((f) => `{{${f}}}`).join(', ')} come(s) from the reading profile: ${t.genericBody != null ? 'the generic variant may not use them' : 'give a generic variant (genericSubject, genericBody) for patrons without profiling'}`, 422);
  }
}

/** Whether the personalised variant can be filled for these values (every profile field it uses has one). */
export function canPersonalise(t: CampaignTexts, values: TemplateValues): boolean {
  const fields = [t.subject, t.body].flatMap(placeholdersOf).filter(isProfileField) as TemplateField[];
  return fields.every((f) => values[f] != null && values[f] !== '');
}

export function render(text: string, values: TemplateValues): string {
  return text.replace(PLACEHOLDER, (_m, f: string) => values[f as TemplateField] ?? '');
}

export interface FooterLinks { optOutKind: string; optOutAll: string; nonPersonalised: string | null }

/** The footer every campaign message ends with, in Chinese and English. */
export function footer(links: FooterLinks): string {
  const lines = [
    '—',
    `不再接收此类消息 Stop messages like this: ${links.optOutKind}`,
    `退订全部图书馆推广消息 Unsubscribe from all library messages: ${links.optOutAll}`,
  ];
  if (links.nonPersonalised) lines.push(`改为接收非个性化消息 Switch to non-personalised messages: ${links.nonPersonalised}`);
  return lines.join('\n');
}
