import type { Db } from '../store/db.js';
import { CLC_CLASSES } from '../catalogue/classification.js';
import { FeatureBuilder } from './segmentation/features.js';
import { segmentPatrons, type SubjectCluster } from './segmentation/segment.js';
import { engagementTiers } from './segmentation/engagement.js';
import { trainRecommender } from './recs/model.js';
import { recommendAll } from './recs/recommend.js';
import { churnRisk, keyScores, keySettings, topShare, type KeyWeights } from './scores.js';
import { applyServices } from './services.js';

/**
 * The CRM recompute: reading profiles, engagement tiers and subject clusters, churn risk, key-patron
 * scores and flags, recommendations, then the differentiated services that follow from them. Reads
 * circulation through one pass over the linked loans into typed arrays; writes in chunked transactions
 * so the circulation writer is never held up for long.
 *
 * Consent: only patrons who allow profiling get class shares, a tier, a cluster and recommendations,
 * and only their loans train the recommender. Every patron gets the counts a librarian needs to serve
 * them (loans, visits, churn risk) and a key-patron score from what is not reading content.
 */
export interface RecomputeOptions {
  trigger?: 'schedule' | 'manual' | 'startup';
  /** Top share of active patrons flagged as key patrons (default 0.05, setting crm_key_share). */
  keyShare?: number;
  weights?: KeyWeights;
  /** The library's priority subjects, CLC classes (setting crm_priority_classes). */
  priorityClasses?: string[];
  recommendations?: number;
  seed?: number;
  /** Patrons per write transaction. */
  chunk?: number;
  log?: (line: string) => void;
}

export interface RecomputeSummary {
  runId: number; at: string; patrons: number; profiled: number; loans: number; k: number | null;
  silhouette: number | null; treeFidelity: number | null; keyPatrons: number; recommended: number;
  clusters: { label: string; size: number }[];
  services: { opened: number; closed: number; withExtras: number };
  durationMs: number; timings: Record<string, number>;
}

const DAY = 86_400_000;
const CLASS_COUNT = CLC_CLASSES.length + 1; // + unclassified
const CLASS_INDEX = new Map<string, number>(CLC_CLASSES.map((c, i) => [c, i]));
const UNCLASSIFIED = CLC_CLASSES.length;
/** Fewest loans for a subject cluster, and fewest such patrons for clustering at all. */
const MIN_CLUSTER_LOANS = 5;
const MIN_CLUSTERED_PATRONS = 20;

export function recomputeCrm(db: Db, now: Date, opts: RecomputeOptions = {}): RecomputeSummary {
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  let mark = t0;
  const lap = (name: string) => { const t = performance.now(); timings[name] = Math.round(t - mark); mark = t; opts.log?.(`${name}: ${timings[name]} ms`); };
  const today = Math.floor(now.getTime() / DAY);
  const nowIso = now.toISOString();
  const settings = keySettings(db);
  const keyShare = opts.keyShare ?? settings.keyShare;
  const priority = new Set(opts.priorityClasses ?? settings.priorityClasses);
  const weights = opts.weights ?? settings.keyWeights;

  // ---- patrons ------------------------------------------------------------------------------------
  const patronRows = db.prepare(`SELECT p.id, p.created_at, coalesce(c.profiling, 0) FROM patron p
      LEFT JOIN patron_consent c ON c.patron_id = p.id ORDER BY p.id`).raw().all() as [number, string, number][];
  const n = patronRows.length;
  const ids = new Int32Array(n), registeredDay = new Int32Array(n), profiling = new Uint8Array(n);
  const maxId = n ? patronRows[n - 1]![0] : 0;
  const indexOf = new Int32Array(maxId + 1).fill(-1);
  patronRows.forEach(([id, created, prof], i) => { ids[i] = id; indexOf[id] = i; registeredDay[i] = Math.floor(Date.parse(created) / DAY); profiling[i] = prof; });
  lap('patrons');

  // ---- catalogue: item → record (dense), record → class ------------------------------------------
  const records = db.prepare('SELECT id, top_class FROM record ORDER BY id').raw().all() as [number, string | null][];
  const recordIds = Int32Array.from(records, (r) => r[0]);
  const recordIndex = new Map<number, number>();
  records.forEach(([id], i) => recordIndex.set(id, i));
  const recordClass = Uint16Array.from(records, (r) => CLASS_INDEX.get(r[1] ?? '') ?? UNCLASSIFIED);
  const maxItem = (db.prepare('SELECT coalesce(max(id), 0) FROM item').pluck().get() as number);
  const recordOfItem = new Int32Array(maxItem + 1).fill(-1);
  for (const [itemId, recordId] of db.prepare('SELECT id, record_id FROM item').raw().iterate() as Iterable<[number, number]>) {
    recordOfItem[itemId] = recordIndex.get(recordId) ?? -1;
  }
  lap('catalogue');

  // ---- loans: one pass -------------------------------------------------------------------------
  const loansTotal = new Int32Array(n), loans365 = new Int32Array(n), lastLoanDay = new Int32Array(n).fill(-1), firstLoanDay = new Int32Array(n).fill(2 ** 31 - 1);
  const priorityLoans = new Int32Array(n);
  const features = new FeatureBuilder();
  let cap = 1 << 16, count = 0;
  let trainPatron = new Int32Array(cap), trainItem = new Int32Array(cap), trainDay = new Int32Array(cap);
  let loans = 0;
  // Read in rowid ranges, as two single-column reads of the same rows inside one read transaction (the
  // same snapshot): a number per row crosses from SQLite to JavaScript several times cheaper than a row
  // array. The first packs the patron and the day (days since 1970, < 2^16 until 2149).
  const PACK = 65536;
  const maxLoan = (db.prepare('SELECT coalesce(max(id), 0) FROM loan').pluck().get() as number);
  const packedRead = db.prepare(`SELECT patron_id * ${PACK} + CAST(julianday(substr(checked_out_at, 1, 10)) - 2440587.5 AS INTEGER)
      FROM loan WHERE id > ? AND id <= ? AND patron_id IS NOT NULL`).pluck();
  const itemRead = db.prepare('SELECT item_id FROM loan WHERE id > ? AND id <= ? AND patron_id IS NOT NULL').pluck();
  const readRange = db.transaction((a: number, b: number) => [packedRead.all(a, b) as number[], itemRead.all(a, b) as number[]] as const);
  const RANGE = 500_000;
  for (let from = 0; from < maxLoan; from += RANGE) {
    const [packed, itemIds] = readRange(from, from + RANGE);
    for (let r = 0; r < packed.length; r++) {
    const patronId = Math.floor(packed[r]! / PACK), day = packed[r]! - patronId * PACK, itemId = itemIds[r]!;
    const p = indexOf[patronId] ?? -1;
    if (p < 0) continue;
    loans++;
    loansTotal[p]!++;
    if (day > today - 365) loans365[p]!++;
    if (day > lastLoanDay[p]!) lastLoanDay[p] = day;
    if (day < firstLoanDay[p]!) firstLoanDay[p] = day;
    if (!profiling[p]) continue;
    const rec = recordOfItem[itemId] ?? -1;
    const cls = rec >= 0 ? recordClass[rec]! : UNCLASSIFIED;
    features.add(String(p), cls < UNCLASSIFIED ? CLC_CLASSES[cls]! : '', day);
    if (cls < UNCLASSIFIED && priority.has(CLC_CLASSES[cls]!)) priorityLoans[p]!++;
    if (rec < 0) continue;
    if (count === cap) {
      cap *= 2;
      const grow = (a: Int32Array) => { const b = new Int32Array(cap); b.set(a); return b; };
      trainPatron = grow(trainPatron); trainItem = grow(trainItem); trainDay = grow(trainDay);
    }
    trainPatron[count] = p; trainItem[count] = rec; trainDay[count] = day; count++;
    }
  }
  lap('loans');

  // ---- visits and participation --------------------------------------------------------------
  const visits90 = new Int32Array(n), visits365 = new Int32Array(n), lastVisitDay = new Int32Array(n).fill(-1);
  const lastVisitAt: (string | null)[] = new Array(n).fill(null);
  for (const [patronId, v90, v365, last] of db.prepare(`SELECT patron_id, count(*) FILTER (WHERE at >= ?), count(*) FILTER (WHERE at >= ?), max(at)
      FROM visit WHERE patron_id IS NOT NULL AND allowed = 1 GROUP BY patron_id`).raw().iterate(iso(now, 90), iso(now, 365)) as Iterable<[number, number, number, string]>) {
    const p = indexOf[patronId] ?? -1;
    if (p < 0) continue;
    visits90[p] = v90; visits365[p] = v365; lastVisitAt[p] = last; lastVisitDay[p] = Math.floor(Date.parse(last) / DAY);
  }
  const participation = new Int32Array(n);
  const since = iso(now, 365);
  const participationSql = [
    "SELECT patron_id, count(*) FROM event_attendance WHERE status = 'attended' AND at >= @since GROUP BY patron_id",
    'SELECT patron_id, count(*) FROM patron_feedback WHERE at >= @since GROUP BY patron_id',
    'SELECT patron_id, count(*) FROM survey_response WHERE submitted_at >= @since GROUP BY patron_id',
  ];
  for (const sql of participationSql) {
    for (const [patronId, c] of db.prepare(sql).raw().iterate({ since }) as Iterable<[number, number]>) {
      const p = indexOf[patronId] ?? -1;
      if (p >= 0) participation[p]! += c;
    }
  }
  lap('visits');

  // ---- segmentation (profiled patrons with loans) ---------------------------------------------
  const f = features.build(today, 365);
  // Subject clusters need enough patrons with enough loans to say anything; a small library gets tiers only (k 0).
  const seg = f.patrons.length ? segmentPatrons(f, { seed: opts.seed ?? 1, minClusterLoans: MIN_CLUSTER_LOANS, minClusteredPatrons: MIN_CLUSTERED_PATRONS }) : null;
  const tiersOnly = seg ? null : engagementTiers(f).tiers;
  const tier: (string | null)[] = new Array(n).fill(null);
  const cluster: (string | null)[] = new Array(n).fill(null);
  const breadth = new Int32Array(n).fill(-1);
  const shares: (Record<string, number> | null)[] = new Array(n).fill(null);
  const clusterLabel = (c: SubjectCluster) => c.en;
  {
    f.patrons.forEach((key, row) => {
      const p = Number(key);
      tier[p] = seg ? seg.tiers[row]! : tiersOnly![row]!;
      const c = seg ? seg.clusterOf[row]! : -1;
      cluster[p] = c >= 0 ? clusterLabel(seg!.clusters[c]!) : null;
      breadth[p] = f.breadth[row]!;
      const s: Record<string, number> = {};
      for (let j = 0; j < CLC_CLASSES.length; j++) {
        const v = f.shares.data[row * CLC_CLASSES.length + j]!;
        if (v > 0) s[CLC_CLASSES[j]!] = Math.round(v * 1000) / 1000;
      }
      shares[p] = s;
    });
  }
  // Profiled patrons without any loan: cold start, by registration.
  for (let p = 0; p < n; p++) if (profiling[p] && tier[p] === null) { tier[p] = today - registeredDay[p]! < 90 ? 'new' : 'dormant'; breadth[p] = 0; }
  lap('segments');

  // ---- churn risk and key patrons ----------------------------------------------------------
  const risk = new Float64Array(n), tenure = new Int32Array(n), priorityShare = new Float64Array(n).fill(-1), active = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    // A patron is a member from registration, or from the first loan if the records say earlier (imports).
    const since = Math.min(registeredDay[p]!, firstLoanDay[p]!);
    const lastActive = Math.max(lastLoanDay[p]!, lastVisitDay[p]!, since);
    risk[p] = churnRisk(today - lastActive, loans365[p]! + visits365[p]!);
    tenure[p] = Math.max(0, today - since);
    if (profiling[p]) priorityShare[p] = priority.size && loansTotal[p]! ? priorityLoans[p]! / loansTotal[p]! : 0;
    active[p] = loans365[p]! + visits365[p]! + participation[p]! > 0 ? 1 : 0;
  }
  const key = keyScores({ loans365, breadth, tenureDays: tenure, participation, priorityShare }, weights);
  const flagged = topShare(key.score, active, keyShare);
  const pins = new Map((db.prepare('SELECT patron_id, pinned, reason, pinned_by FROM key_patron_pin').raw().all() as [number, number, string, string][])
    .map(([id, pinned, reason, by]) => [id, { pinned: pinned === 1, reason, by }]));
  const components = (p: number) => Object.fromEntries(key.names.map((name, c) => [name, Math.round(key.components[c]![p]! * 1000) / 1000]));
  lap('scores');

  // ---- recommendations -------------------------------------------------------------------
  const recsPer = opts.recommendations ?? 10;
  let recTable: ReturnType<typeof recommendAll> | null = null;
  if (count > 0) {
    const model = trainRecommender({
      loans: { patron: trainPatron.subarray(0, count), item: trainItem.subarray(0, count), day: trainDay.subarray(0, count) },
      patronCount: n, itemCount: records.length, itemClass: recordClass, classCount: CLASS_COUNT, asOfDay: today + 1,
    });
    lap('recs-train');
    recTable = recommendAll(model, recsPer);
    lap('recs-score');
  }

  // ---- write -----------------------------------------------------------------------------
  const previous = new Map((db.prepare('SELECT patron_id, tier, cluster FROM patron_profile').raw().all() as [number, string | null, string | null][])
    .map(([id, t, c]) => [id, `${t}\u0000${c}`]));
  const previousKeys = new Map((db.prepare('SELECT patron_id, since FROM key_patron').raw().all() as [number, string][]));
  const detail = {
    clusters: seg?.clusters.map((c) => ({ label: clusterLabel(c), zh: c.zh, classes: c.classes, size: c.size, share: c.share, centroid: c.centroid, rules: c.rules })) ?? [],
    tiers: countBy(tier.filter((t) => t !== null) as string[]),
    candidates: seg?.quality.candidates ?? [],
    parameters: { keyShare, weights, priorityClasses: [...priority] },
  };
  const runId = Number(db.prepare(`INSERT INTO segment_run (at, trigger, patrons, profiled, k, silhouette, stability, fidelity, duration_ms, detail)
      VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 0, ?)`).run(nowIso, opts.trigger ?? 'manual', n, profiling.reduce((s, v) => s + v, 0), seg?.k || null,
    (seg?.k ? seg.quality.silhouette : null), (seg?.k ? seg.quality.treeFidelity : null), JSON.stringify(detail)).lastInsertRowid);

  const upsert = db.prepare(`INSERT INTO patron_profile (patron_id, computed_at, loans_total, loans_365d, last_loan_at, visits_90d, last_visit_at,
      tenure_days, breadth, class_shares, tier, cluster, churn_risk, key_score, key_components) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(patron_id) DO UPDATE SET computed_at = excluded.computed_at, loans_total = excluded.loans_total, loans_365d = excluded.loans_365d,
      last_loan_at = excluded.last_loan_at, visits_90d = excluded.visits_90d, last_visit_at = excluded.last_visit_at, tenure_days = excluded.tenure_days,
      breadth = excluded.breadth, class_shares = excluded.class_shares, tier = excluded.tier, cluster = excluded.cluster, churn_risk = excluded.churn_risk,
      key_score = excluded.key_score, key_components = excluded.key_components`);
  const history = db.prepare('INSERT INTO patron_segment_history (patron_id, run_id, tier, cluster) VALUES (?, ?, ?, ?)');
  const clearRecs = db.prepare('DELETE FROM patron_recommendation WHERE patron_id = ?');
  const insertRec = db.prepare('INSERT INTO patron_recommendation (patron_id, rank, record_id, score, because) VALUES (?, ?, ?, ?, ?)');
  const keyRows: [number, string, number, string][] = [];
  let recommended = 0;
  const chunk = opts.chunk ?? 5000;
  const writeChunk = db.transaction((from: number, to: number) => {
    for (let p = from; p < to; p++) {
      const id = ids[p]!;
      const lastLoan = lastLoanDay[p]! >= 0 ? new Date(lastLoanDay[p]! * DAY).toISOString().slice(0, 10) : null;
      upsert.run(id, nowIso, loansTotal[p]!, loans365[p]!, lastLoan, visits90[p]!, lastVisitAt[p], tenure[p]!,
        profiling[p] ? breadth[p]! : null, shares[p] ? JSON.stringify(shares[p]) : null, tier[p], cluster[p],
        Math.round(risk[p]! * 1000) / 1000, Math.round(key.score[p]! * 1000) / 1000, JSON.stringify(components(p)));
      const seg = `${tier[p]}\u0000${cluster[p]}`;
      if (previous.get(id) !== seg && (tier[p] !== null || previous.has(id))) history.run(id, runId, tier[p], cluster[p]);
      clearRecs.run(id);
      if (recTable && profiling[p]) {
        for (let r = 0; r < recsPer; r++) {
          const at = p * recsPer + r;
          const rec = recTable.item[at]!;
          if (rec < 0) break;
          insertRec.run(id, r + 1, recordIds[rec]!, Math.round(recTable.score[at]! * 10000) / 10000, JSON.stringify(because(recTable, at, recordIds)));
          recommended++;
        }
      }
      const pin = pins.get(id);
      const isKey = pin ? pin.pinned : flagged.has(p);
      if (isKey) {
        const reasons = pin?.pinned ? { pinned: true, reason: pin.reason, by: pin.by, components: components(p) } : { components: components(p), topShare: keyShare };
        keyRows.push([id, previousKeys.get(id) ?? nowIso, Math.round(key.score[p]! * 1000) / 1000, JSON.stringify(reasons)]);
      }
    }
  });
  // Immediate: the worker's connection takes the write lock before it reads, so a commit by the server in
  // between cannot turn the transaction stale (SQLITE_BUSY_SNAPSHOT); it waits its turn instead.
  for (let from = 0; from < n; from += chunk) writeChunk.immediate(from, Math.min(n, from + chunk));
  db.transaction(() => {
    db.prepare('DELETE FROM key_patron').run();
    const ins = db.prepare('INSERT INTO key_patron (patron_id, since, score, reasons) VALUES (?, ?, ?, ?)');
    for (const r of keyRows) ins.run(...r);
  }).immediate();
  lap('write');
  const services = applyServices(db, now);
  lap('services');
  const durationMs = Math.round(performance.now() - t0);
  db.prepare('UPDATE segment_run SET duration_ms = ? WHERE id = ?').run(durationMs, runId);
  return {
    runId, at: nowIso, patrons: n, profiled: profiling.reduce((s, v) => s + v, 0), loans, k: seg?.k || null,
    silhouette: (seg?.k ? seg.quality.silhouette : null), treeFidelity: (seg?.k ? seg.quality.treeFidelity : null), keyPatrons: keyRows.length, recommended,
    clusters: detail.clusters.map((c) => ({ label: c.label, size: c.size })), services, durationMs, timings,
  };
}

/** The explanation as stored: co-borrowed (record ids), subject (a class), popular. */
function because(t: NonNullable<ReturnType<typeof recommendAll>>, at: number, recordIds: Int32Array) {
  const kind = t.kind[at]!;
  const E = t.explainItems;
  if (kind === 0) {
    const recs: number[] = [];
    for (let e = 0; e < E; e++) { const r = t.because[at * E + e]!; if (r >= 0) recs.push(recordIds[r]!); }
    return { kind: 'co-borrowed', recordIds: recs };
  }
  if (kind === 1) return { kind: 'subject', class: CLC_CLASSES[t.because[at * E]!] ?? null };
  return { kind: 'popular' };
}

const iso = (now: Date, daysBack: number) => new Date(now.getTime() - daysBack * DAY).toISOString();
function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
