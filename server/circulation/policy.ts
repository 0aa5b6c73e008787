import { z } from 'zod';
import type { Db } from '../store/db.js';
import { DomainError } from '../errors.js';

export interface Policy {
  loanDays: number; maxLoans: number; renewals: number; renewalDays: number; holdsAllowed: boolean; maxHolds: number;
  finePerDayCents: number; maxFineCents: number; graceDays: number; inLibraryOnly: boolean;
  blockOverdueItems: number; blockFinesCents: number; lostFeeCents: number;
}
export type PolicyField = keyof Policy;

const COLUMNS: Record<PolicyField, string> = {
  loanDays: 'loan_days', maxLoans: 'max_loans', renewals: 'renewals', renewalDays: 'renewal_days', holdsAllowed: 'holds_allowed',
  maxHolds: 'max_holds', finePerDayCents: 'fine_per_day_cents', maxFineCents: 'max_fine_cents', graceDays: 'grace_days',
  inLibraryOnly: 'in_library_only', blockOverdueItems: 'block_overdue_items', blockFinesCents: 'block_fines_cents',
  lostFeeCents: 'lost_fee_cents',
};
const FIELDS = Object.keys(COLUMNS) as PolicyField[];
const BOOLEAN_FIELDS = new Set<PolicyField>(['holdsAllowed', 'inLibraryOnly']);

const count = z.number().int().min(0).max(100_000);
export const PolicyRuleInput = z.object({
  branchId: z.string().min(1).default('*'),
  patronCategory: z.string().min(1).default('*'),
  itemType: z.string().min(1).default('*'),
  loanDays: count.max(3650).nullish(), maxLoans: count.nullish(), renewals: count.max(100).nullish(),
  renewalDays: count.max(3650).nullish(), holdsAllowed: z.boolean().nullish(), maxHolds: count.nullish(),
  finePerDayCents: count.nullish(), maxFineCents: count.max(10_000_000).nullish(), graceDays: count.max(365).nullish(),
  inLibraryOnly: z.boolean().nullish(), blockOverdueItems: z.number().int().min(1).max(10_000).nullish(),
  blockFinesCents: count.max(10_000_000).nullish(), lostFeeCents: count.max(10_000_000).nullish(),
});
export type PolicyRuleInput = z.input<typeof PolicyRuleInput>;
export type PolicyRule = { id: number; branchId: string; patronCategory: string; itemType: string } & { [K in PolicyField]: Policy[K] | null };

function toRule(row: Record<string, unknown>): PolicyRule {
  const rule: Record<string, unknown> = { id: row.id, branchId: row.branch_id, patronCategory: row.patron_category, itemType: row.item_type };
  for (const f of FIELDS) {
    const v = row[COLUMNS[f]];
    rule[f] = v === null ? null : BOOLEAN_FIELDS.has(f) ? v === 1 : v;
  }
  return rule as PolicyRule;
}

export function listPolicyRules(db: Db): PolicyRule[] {
  return (db.prepare('SELECT * FROM policy ORDER BY branch_id, patron_category, item_type').all() as Record<string, unknown>[]).map(toRule);
}

/** Creates or replaces the rule for one branch × category × item type key. */
export function upsertPolicyRule(db: Db, input: PolicyRuleInput): PolicyRule {
  const v = PolicyRuleInput.parse(input);
  const isDefault = v.branchId === '*' && v.patronCategory === '*' && v.itemType === '*';
  if (isDefault) {
    const missing = FIELDS.filter((f) => v[f] === undefined || v[f] === null);
    if (missing.length) throw new DomainError('DEFAULT_POLICY_INCOMPLETE', `the default rule must set every field; missing: ${missing.join(', ')}`, 422);
  }
  if (v.branchId !== '*' && !db.prepare('SELECT 1 FROM branch WHERE id = ?').get(v.branchId)) {
    throw new DomainError('BRANCH_NOT_FOUND', `branch ${v.branchId} not found`, 404);
  }
  const values = FIELDS.map((f) => { const x = v[f]; return x === undefined || x === null ? null : typeof x === 'boolean' ? (x ? 1 : 0) : x; });
  db.prepare(`INSERT INTO policy (branch_id, patron_category, item_type, ${FIELDS.map((f) => COLUMNS[f]).join(', ')})
      VALUES (?, ?, ?, ${FIELDS.map(() => '?').join(', ')})
      ON CONFLICT(branch_id, patron_category, item_type) DO UPDATE SET ${FIELDS.map((f) => `${COLUMNS[f]} = excluded.${COLUMNS[f]}`).join(', ')}`)
    .run(v.branchId, v.patronCategory, v.itemType, ...values);
  return toRule(db.prepare('SELECT * FROM policy WHERE branch_id = ? AND patron_category = ? AND item_type = ?')
    .get(v.branchId, v.patronCategory, v.itemType) as Record<string, unknown>);
}

export function deletePolicyRule(db: Db, id: number): void {
  const row = db.prepare('SELECT * FROM policy WHERE id = ?').get(id) as Record<string, unknown> | undefined;
  if (!row) throw new DomainError('POLICY_NOT_FOUND', `policy rule ${id} not found`, 404);
  if (row.branch_id === '*' && row.patron_category === '*' && row.item_type === '*') {
    throw new DomainError('DEFAULT_POLICY_REQUIRED', 'the default rule cannot be deleted', 409);
  }
  db.prepare('DELETE FROM policy WHERE id = ?').run(id);
}

/**
 * Resolves each field separately from the most specific rule that sets it. Specificity follows Koha's
 * circulation rules: branch first, then patron category, then item type (weights 4, 2, 1), so
 * branch × category × type beats branch × category × *, which beats branch × * × type, …, down to * × * × *.
 */
export class PolicyBook {
  private readonly cache = new Map<string, Policy>();
  constructor(private readonly rules: PolicyRule[]) {}

  static load(db: Db) { return new PolicyBook(listPolicyRules(db)); }

  resolve(branchId: string, category: string, itemType: string): Policy {
    const key = `${branchId}\u0000${category}\u0000${itemType}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const matching = this.rules
      .filter((r) => (r.branchId === '*' || r.branchId === branchId) && (r.patronCategory === '*' || r.patronCategory === category)
        && (r.itemType === '*' || r.itemType === itemType))
      .map((r) => ({ r, w: (r.branchId !== '*' ? 4 : 0) + (r.patronCategory !== '*' ? 2 : 0) + (r.itemType !== '*' ? 1 : 0) }))
      .sort((a, b) => b.w - a.w);
    const policy = {} as Record<PolicyField, unknown>;
    for (const f of FIELDS) {
      const from = matching.find(({ r }) => r[f] !== null);
      if (!from) throw new DomainError('DEFAULT_POLICY_REQUIRED', `no policy rule sets ${f}`, 409);
      policy[f] = from.r[f];
    }
    this.cache.set(key, policy as unknown as Policy);
    return policy as unknown as Policy;
  }
}
