import type { Db } from '../store/db.js';

/**
 * Scenario files name tags by what they are for, not by barcode, so the same file plays on any
 * library: `card:$patron` is a patron who may borrow, `item:$available1` … distinct books on the
 * shelf at the reader's branch, `item:$onLoan1` … books out on loan, `item:$shelf1` … the books of
 * one shelf (home location), `item:$elsewhere1` … books of another shelf. Each name resolves to
 * the same tag everywhere in the file.
 */
export interface ResolvedScenario { scenario: Record<string, unknown>; bindings: Record<string, string>; shelf: string | null }

const REF = /^(card|item):\$([a-zA-Z]+)(\d*)$/;

export function resolveScenarioRefs(db: Db, scenario: { steps?: unknown } & Record<string, unknown>): ResolvedScenario {
  const steps = Array.isArray(scenario.steps) ? (scenario.steps as Record<string, unknown>[]) : [];
  const readerBranch = (reader: unknown) => (db.prepare("SELECT branch_id FROM device WHERE id = ? AND kind = 'reader'").get(String(reader)) as { branch_id: string } | undefined)?.branch_id;
  const bindings: Record<string, string> = {};
  const pools = new Map<string, string[]>();
  let shelf: string | null = null;

  const pool = (kind: string, branch: string): string[] => {
    const key = `${kind}@${branch}`;
    if (pools.has(key)) return pools.get(key)!;
    const noHolds = `NOT EXISTS (SELECT 1 FROM hold h WHERE h.record_id = i.record_id AND h.status IN ('waiting', 'in_transit', 'ready'))`;
    let rows: { v: string }[];
    if (kind === 'patron') {
      rows = db.prepare(`SELECT card_number AS v FROM patron p WHERE card_tag_uid IS NOT NULL AND blocked_reason IS NULL AND card_lost = 0
          AND expiry_date > date('now', '+1 day') AND NOT EXISTS (SELECT 1 FROM fee WHERE patron_id = p.id AND paid_cents < amount_cents)
          AND (SELECT count(*) FROM loan WHERE patron_id = p.id AND closed_at IS NULL) = 0 ORDER BY p.id LIMIT 20`).all() as { v: string }[];
    } else if (kind === 'available') {
      rows = db.prepare(`SELECT min(barcode) AS v FROM item i WHERE status = 'available' AND item_type = 'book' AND home_branch = ? AND tag_uid IS NOT NULL AND ${noHolds}
          GROUP BY record_id ORDER BY record_id LIMIT 50`).all(branch) as { v: string }[];
    } else if (kind === 'onLoan') {
      rows = db.prepare(`SELECT barcode AS v FROM item i WHERE status = 'on_loan' AND tag_uid IS NOT NULL AND home_branch = ? ORDER BY id LIMIT 50`).all(branch) as { v: string }[];
    } else if (kind === 'shelf' || kind === 'elsewhere') {
      shelf ??= (db.prepare(`SELECT location FROM item WHERE home_branch = ? AND status = 'available' AND tag_uid IS NOT NULL AND location IS NOT NULL
          GROUP BY location HAVING count(*) >= 6 ORDER BY location LIMIT 1`).get(branch) as { location: string } | undefined)?.location ?? null;
      if (!shelf) throw new Error(`no shelf at ${branch} has 6 available tagged books`);
      rows = db.prepare(`SELECT barcode AS v FROM item WHERE home_branch = ? AND status = 'available' AND tag_uid IS NOT NULL AND location ${kind === 'shelf' ? '=' : '>'} ?
          ORDER BY ${kind === 'shelf' ? 'barcode' : 'location DESC'} LIMIT 20`).all(branch, shelf) as { v: string }[];
    } else {
      throw new Error(`unknown scenario reference $${kind} (known: $patron, $available, $onLoan, $shelf, $elsewhere)`);
    }
    const values = rows.map((r) => r.v);
    pools.set(key, values);
    return values;
  };

  const resolve = (ref: string, reader: unknown): string => {
    const m = REF.exec(ref);
    if (!m) return ref;
    if (bindings[ref]) return bindings[ref]!;
    const branch = readerBranch(reader);
    if (!branch) throw new Error(`scenario reader ${String(reader)} is not a reader of this library`);
    const [, prefix, kind, n] = m;
    const values = pool(kind!, branch);
    const index = kind === 'patron' ? 0 : Number(n || 1) - 1;
    const value = values[index];
    if (!value) throw new Error(`the library has no ${kind} #${index + 1} for ${ref} at ${branch}`);
    bindings[ref] = `${prefix}:${value}`;
    return bindings[ref]!;
  };

  const resolved = steps.map((step) => {
    const out: Record<string, unknown> = { ...step };
    for (const key of ['place', 'remove', 'pass', 'sweep'] as const) {
      if (Array.isArray(step[key])) out[key] = (step[key] as unknown[]).map((t) => resolve(String(t), step.reader));
    }
    if (typeof step.pullOnWrite === 'string') out.pullOnWrite = resolve(step.pullOnWrite, step.reader);
    return out;
  });
  return { scenario: { ...scenario, steps: resolved }, bindings, shelf };
}
