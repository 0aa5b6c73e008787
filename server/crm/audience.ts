import { z } from 'zod';
import type { Db } from '../store/db.js';
import { DomainError } from '../errors.js';
import { compileFilter, FILTER_FROM, FilterSchema, type Filter } from './filters.js';

/**
 * Who a campaign, a survey or a service policy is for: a segment, a filter, or both (AND).
 * Segments: 'key' (key patrons), 'tier:<tier>', 'cluster:<label>', 'saved:<id>' (a saved rule-based
 * segment), 'all'. Tier and cluster come from the reading profile, so they hold only patrons who allow
 * profiling.
 */
export const SegmentRef = z.string().regex(/^(all|key|tier:.+|cluster:.+|saved:\d+)$/, "'all', 'key', 'tier:<tier>', 'cluster:<label>' or 'saved:<id>'");
export const AudienceSpec = z.strictObject({ segment: SegmentRef.optional(), filter: FilterSchema.optional() });
export type AudienceSpec = { segment?: string; filter?: Record<string, unknown> };

function segmentSql(db: Db, segment: string, now: Date): { sql: string; args: unknown[] } {
  if (segment === 'all') return { sql: '1', args: [] };
  if (segment === 'key') return { sql: 'EXISTS (SELECT 1 FROM key_patron k WHERE k.patron_id = p.id)', args: [] };
  const [kind, value] = [segment.slice(0, segment.indexOf(':')), segment.slice(segment.indexOf(':') + 1)];
  if (kind === 'tier') return { sql: "(pp.tier = ? AND coalesce(pc.profiling, 0) = 1)", args: [value] };
  if (kind === 'cluster') return { sql: "(pp.cluster = ? AND coalesce(pc.profiling, 0) = 1)", args: [value] };
  if (kind === 'saved') {
    const row = db.prepare('SELECT filter FROM saved_segment WHERE id = ?').get(Number(value)) as { filter: string } | undefined;
    if (!row) throw new DomainError('SEGMENT_NOT_FOUND', `saved segment ${value} not found`, 404);
    return compileFilter(JSON.parse(row.filter) as Filter, now);
  }
  throw new DomainError('SEGMENT_UNKNOWN', `unknown segment "${segment}"`, 422);
}

/** The patron ids of an audience, ascending. Consent for the purpose is the caller's to check. */
export function resolveAudience(db: Db, spec: AudienceSpec, now: Date): number[] {
  const v = AudienceSpec.parse(spec);
  if (!v.segment && !v.filter) throw new DomainError('AUDIENCE_EMPTY', 'an audience needs a segment, a filter or both', 422);
  const parts = [v.segment ? segmentSql(db, v.segment, now) : null, v.filter ? compileFilter(v.filter, now) : null].filter((x) => x !== null);
  const sql = parts.map((x) => x.sql).join(' AND ');
  return db.prepare(`SELECT p.id FROM ${FILTER_FROM} WHERE ${sql} ORDER BY p.id`).pluck().all(...parts.flatMap((x) => x.args)) as number[];
}
