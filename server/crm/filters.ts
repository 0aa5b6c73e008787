import { z } from 'zod';
import { CLC_CLASSES } from '../catalogue/classification.js';
import { DomainError } from '../errors.js';

/**
 * Rule-based segments: a filter over profile fields that librarians write and save. A filter is
 * `{ all: [conditions] }` or `{ any: [conditions] }`, a condition or one nested group in each place; a condition is
 * `{ field, op, value }`. It compiles to one parameterised SQL expression over the patron (p), its
 * profile (pp) and its consent (pc): no field name or value reaches SQL as text.
 */

type Kind = 'text' | 'number';
interface FieldDef { sql: (nowIso: string) => string; kind: Kind; needsProfiling?: boolean; description: string }

const days = (col: string) => (nowIso: string) => `CAST(julianday('${nowIso}') - julianday(${col}) AS INTEGER)`;

/** Every field a filter may name. Fields from the reading profile match only patrons who allow profiling. */
export const FILTER_FIELDS: Record<string, FieldDef> = {
  category: { sql: () => 'p.category', kind: 'text', description: 'patron category' },
  department: { sql: () => 'p.department', kind: 'text', description: 'department or major' },
  homeBranch: { sql: () => 'p.home_branch', kind: 'text', description: 'home branch id' },
  ageYears: { sql: (n) => `CAST((julianday('${n}') - julianday(p.birth_date)) / 365.25 AS INTEGER)`, kind: 'number', description: 'age in years' },
  registeredDays: { sql: days('p.created_at'), kind: 'number', description: 'days since registration' },
  loansTotal: { sql: () => 'pp.loans_total', kind: 'number', description: 'loans ever (kept history)' },
  loans365d: { sql: () => 'pp.loans_365d', kind: 'number', description: 'loans in the last 365 days' },
  visits90d: { sql: () => 'pp.visits_90d', kind: 'number', description: 'entrance-gate visits in the last 90 days' },
  daysSinceLoan: { sql: days('pp.last_loan_at'), kind: 'number', description: 'days since the last loan' },
  daysSinceVisit: { sql: days('pp.last_visit_at'), kind: 'number', description: 'days since the last visit' },
  tenureDays: { sql: () => 'pp.tenure_days', kind: 'number', description: 'days since the first loan or registration' },
  churnRisk: { sql: () => 'pp.churn_risk', kind: 'number', description: 'churn risk, 0 to 1' },
  keyScore: { sql: () => 'pp.key_score', kind: 'number', description: 'key-patron score, 0 to 1' },
  isKey: { sql: () => '(SELECT count(*) FROM key_patron k WHERE k.patron_id = p.id)', kind: 'number', description: '1 if a key patron' },
  breadth: { sql: () => 'pp.breadth', kind: 'number', needsProfiling: true, description: 'distinct classes borrowed' },
  tier: { sql: () => 'pp.tier', kind: 'text', needsProfiling: true, description: 'engagement tier' },
  cluster: { sql: () => 'pp.cluster', kind: 'text', needsProfiling: true, description: 'subject-interest cluster' },
  ...Object.fromEntries(CLC_CLASSES.map((c) => [`share.${c}`, {
    sql: () => `coalesce(json_extract(pp.class_shares, '$.${c}'), 0)`, kind: 'number' as const, needsProfiling: true,
    description: `share of loans in class ${c}, 0 to 1`,
  }])),
};

const OPS = ['=', '!=', '<', '<=', '>', '>=', 'in', 'not_in', 'is_null', 'not_null'] as const;
const Scalar = z.union([z.string().max(200), z.number().finite()]);
const Condition = z.strictObject({
  field: z.string().refine((f) => f in FILTER_FIELDS, { message: `unknown field (fields: ${Object.keys(FILTER_FIELDS).join(', ')})` }),
  op: z.enum(OPS),
  value: z.union([Scalar, z.array(Scalar).min(1).max(100)]).optional(),
});
/** One level of nesting is enough for librarians' rules ("faculty, or undergraduates with ≥ 10 loans"). */
const Group = z.union([
  z.strictObject({ all: z.array(Condition).min(1).max(50) }),
  z.strictObject({ any: z.array(Condition).min(1).max(50) }),
]);
export const FilterSchema = z.union([
  z.strictObject({ all: z.array(z.union([Condition, Group])).min(1).max(50) }),
  z.strictObject({ any: z.array(z.union([Condition, Group])).min(1).max(50) }),
]);
export type Filter = z.infer<typeof FilterSchema>;
type FilterNode = z.infer<typeof Condition> | z.infer<typeof Group> | Filter;

/** Compiles a filter to a WHERE expression and its arguments; a mistyped value is a 422 naming the field. */
export function compileFilter(filter: Filter, now: Date): { sql: string; args: unknown[] } {
  const nowIso = now.toISOString();
  const args: unknown[] = [];
  let needsProfiling = false;
  const node = (n: FilterNode): string => {
    if ('all' in n) return `(${n.all.map(node).join(' AND ')})`;
    if ('any' in n) return `(${n.any.map(node).join(' OR ')})`;
    const def = FILTER_FIELDS[n.field]!;
    if (def.needsProfiling) needsProfiling = true;
    const col = def.sql(nowIso);
    if (n.op === 'is_null') return `${col} IS NULL`;
    if (n.op === 'not_null') return `${col} IS NOT NULL`;
    const values = Array.isArray(n.value) ? n.value : n.value === undefined ? [] : [n.value];
    if (!values.length) throw new DomainError('FILTER_VALUE_REQUIRED', `"${n.field} ${n.op}" needs a value`, 422, { field: n.field });
    for (const v of values) {
      if (typeof v !== (def.kind === 'number' ? 'number' : 'string')) {
        throw new DomainError('FILTER_VALUE_TYPE', `"${n.field}" takes ${def.kind === 'number' ? 'numbers' : 'text'}, got ${JSON.stringify(v)}`, 422, { field: n.field });
      }
    }
    if (n.op === 'in' || n.op === 'not_in') {
      args.push(...values);
      return `${col} ${n.op === 'in' ? 'IN' : 'NOT IN'} (${values.map(() => '?').join(', ')})`;
    }
    if (values.length > 1) throw new DomainError('FILTER_VALUE_TYPE', `"${n.field} ${n.op}" takes one value`, 422, { field: n.field });
    args.push(values[0]);
    return `${col} ${n.op} ?`;
  };
  const sql = node(FilterSchema.parse(filter));
  return { sql: needsProfiling ? `(${sql} AND coalesce(pc.profiling, 0) = 1)` : sql, args };
}

/** The FROM clause every filter runs against. */
export const FILTER_FROM = `patron p LEFT JOIN patron_profile pp ON pp.patron_id = p.id LEFT JOIN patron_consent pc ON pc.patron_id = p.id`;
