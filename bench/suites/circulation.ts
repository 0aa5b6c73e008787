import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDb, startCheckpointer, type Db } from '../../server/store/db.js';
import { fixedClock } from '../../server/clock.js';
import { Circulation, type OpContext } from '../../server/circulation/circulation.js';
import { buildLibrary, type BuiltLibrary } from '../lib/library-data.js';
import { median, percentile, rng } from '../lib/stats.js';
import type { BenchSuite } from '../lib/suite.js';
import { env } from '../lib/suite.js';

const SIZE = { records: 40_000, items: 100_000, patrons: 20_000, openLoans: 10_000 };
const START = new Date('2026-03-02T02:00:00.000Z');

interface Round { pairsPerS: number; checkoutMs?: Float64Array }

/**
 * Checkout+checkin pairs through the circulation core on one process, against the bare SQL writes one
 * pair performs (same statements, same transactions, same pragmas), on the same 100k-item database.
 */
const suite: BenchSuite = {
  name: 'circulation',
  summary: 'checkout+checkin pairs through the circulation core vs the bare SQL writes, 100k items / 20k patrons',
  async run(log) {
    const seed = env('BENCH_SEED', 20260302);
    const pairs = env('BENCH_CIRC_PAIRS', 4000);
    const rounds = env('BENCH_ROUNDS', 5);
    const dir = mkdtempSync(join(tmpdir(), 'shelfsense-bench-circ-'));
    // The server's store: WAL, synchronous NORMAL, checkpoints in a worker thread.
    const db = openDb(join(dir, 'library.db'), { autoCheckpoint: false });
    const checkpointer = startCheckpointer(join(dir, 'library.db'), { writer: db });
    try {
      const t0 = performance.now();
      const lib = buildLibrary(db, seed, SIZE, START);
      const buildS = (performance.now() - t0) / 1000;
      log(`built ${SIZE.items} items, ${SIZE.patrons} patrons, ${SIZE.openLoans} open loans in ${buildS.toFixed(2)} s; ${lib.lendable.length} lendable`);

      const clock = fixedClock(START);
      const core = coreRunner(db, lib, clock, seed);
      const sql = sqlRunner(db, lib, clock, seed);
      core(Math.min(pairs, 1000)); // warm-up: JIT, page cache, statement caches
      sql.calibrate();
      sql.run(Math.min(pairs, 1000));

      const coreRounds: Round[] = [];
      const sqlRounds: Round[] = [];
      for (let i = 0; i < rounds; i++) {
        coreRounds.push(core(pairs));
        sqlRounds.push(sql.run(pairs));
        log(`round ${i + 1}/${rounds}: core ${Math.round(coreRounds[i]!.pairsPerS)} pairs/s, bare SQL ${Math.round(sqlRounds[i]!.pairsPerS)} pairs/s`);
      }
      const pairsPerS = median(coreRounds.map((r) => r.pairsPerS));
      const sqlPairsPerS = median(sqlRounds.map((r) => r.pairsPerS));
      const ms = (x: number) => Math.round(x * 1000) / 1000;
      return {
        pairs_per_s: { value: Math.round(pairsPerS), unit: 'pairs/s' },
        checkout_p50_ms: { value: ms(median(coreRounds.map((r) => percentile(Array.from(r.checkoutMs!), 50)))), unit: 'ms' },
        checkout_p99_ms: { value: ms(median(coreRounds.map((r) => percentile(Array.from(r.checkoutMs!), 99)))), unit: 'ms' },
        sql_pairs_per_s: { value: Math.round(sqlPairsPerS), unit: 'pairs/s' },
        ratio_to_sql: { value: Math.round((pairsPerS / sqlPairsPerS) * 100) / 100, unit: 'ratio' },
        build_s: { value: Math.round(buildS * 100) / 100, unit: 's' },
      };
    } finally {
      await checkpointer.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;

/** Pairs through the core as a kiosk sends them: card and barcode, a transaction id on every operation. */
function coreRunner(db: Db, lib: BuiltLibrary, clock: ReturnType<typeof fixedClock>, seed: number) {
  const circ = new Circulation(db, clock);
  const r = rng(seed + 1);
  const kiosk: OpContext = { channel: 'kiosk', branchId: 'main', actor: 'kiosk-main-1' };
  let txn = 0;
  return (n: number): Round => {
    const checkoutMs = new Float64Array(n);
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const item = lib.lendable[Math.floor(r() * lib.lendable.length)]!;
      const patron = lib.patrons[Math.floor(r() * lib.patrons.length)]!;
      txn++;
      const t = performance.now();
      const out = circ.checkout({ cardNumber: patron.card_number }, { barcode: item.barcode }, { ...kiosk, txnId: `co-${txn}` });
      checkoutMs[i] = performance.now() - t;
      if (!out.ok) throw new Error(`checkout of ${item.barcode} by ${patron.card_number} refused: ${out.code}`);
      // Returned at its home branch's returns slot, so it is reshelved and the library stays as it was.
      const back = circ.checkin({ barcode: item.barcode }, { channel: 'kiosk', branchId: item.home_branch, actor: 'returns-1', txnId: `ci-${txn}` });
      if (!back.ok) throw new Error(`checkin of ${item.barcode} refused: ${back.code}`);
      clock.advance(1000);
    }
    return { pairsPerS: n / ((performance.now() - started) / 1000), checkoutMs };
  };
}

/**
 * The writes one pair makes, without the domain logic: checkout = INSERT loan, UPDATE item, INSERT
 * circ_event, INSERT client_txn in one immediate transaction; checkin = UPDATE loan, UPDATE item,
 * INSERT circ_event, INSERT client_txn in another. Payloads as long as the core's own.
 */
function sqlRunner(db: Db, lib: BuiltLibrary, clock: ReturnType<typeof fixedClock>, seed: number) {
  const insertLoan = db.prepare('INSERT INTO loan (item_id, patron_id, branch_id, checked_out_at, due_at, channel) VALUES (?, ?, ?, ?, ?, ?)');
  const closeLoan = db.prepare('UPDATE loan SET closed_at = ?, close_reason = ?, return_branch = ? WHERE id = ?');
  const setItem = db.prepare('UPDATE item SET status = ?, current_branch = ?, transit_to = ?, updated_at = ? WHERE id = ?');
  const insertEvent = db.prepare(`INSERT INTO circ_event (ts, op, outcome, reason, channel, actor, branch_id, patron_id, item_id, loan_id, hold_id, detail)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertTxn = db.prepare('INSERT INTO client_txn (txn_id, op, result, at) VALUES (?, ?, ?, ?)');
  const r = rng(seed + 2);
  const payload = { checkoutResult: '', checkinResult: '', checkoutDetail: '', checkinDetail: '' };
  const filler = (len: number) => `{"x":"${'x'.repeat(Math.max(0, Math.round(len) - 8))}"}`;

  const checkout = db.transaction((itemId: number, patronId: number, ts: string, dueAt: string, txnId: string) => {
    const loanId = Number(insertLoan.run(itemId, patronId, 'main', ts, dueAt, 'kiosk').lastInsertRowid);
    setItem.run('on_loan', 'main', null, ts, itemId);
    insertEvent.run(ts, 'checkout', 'ok', null, 'kiosk', 'kiosk-main-1', 'main', patronId, itemId, loanId, null, payload.checkoutDetail);
    insertTxn.run(txnId, 'checkout', payload.checkoutResult, ts);
    return loanId;
  });
  const checkin = db.transaction((itemId: number, patronId: number, loanId: number, branch: string, ts: string, txnId: string) => {
    closeLoan.run(ts, 'returned', branch, loanId);
    setItem.run('available', branch, null, ts, itemId);
    insertEvent.run(ts, 'checkin', 'ok', null, 'kiosk', 'returns-1', branch, patronId, itemId, loanId, null, payload.checkinDetail);
    insertTxn.run(txnId, 'checkin', payload.checkinResult, ts);
  });
  let txn = 0;
  return {
    /** Takes the payload lengths from what the core stored during its warm-up. */
    calibrate() {
      const avg = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? 0;
      payload.checkoutResult = filler(avg("SELECT avg(length(result)) FROM client_txn WHERE op = 'checkout'"));
      payload.checkinResult = filler(avg("SELECT avg(length(result)) FROM client_txn WHERE op = 'checkin'"));
      payload.checkoutDetail = filler(avg("SELECT avg(length(detail)) FROM circ_event WHERE op = 'checkout'"));
      payload.checkinDetail = filler(avg("SELECT avg(length(detail)) FROM circ_event WHERE op = 'checkin'"));
    },
    run(n: number): Round {
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        const item = lib.lendable[Math.floor(r() * lib.lendable.length)]!;
        const patron = lib.patrons[Math.floor(r() * lib.patrons.length)]!;
        txn++;
        const now = clock.now();
        const ts = now.toISOString();
        const loanId = checkout.immediate(item.id, patron.id, ts, new Date(now.getTime() + 28 * 86_400_000).toISOString(), `sql-co-${txn}`);
        checkin.immediate(item.id, patron.id, loanId, item.home_branch, ts, `sql-ci-${txn}`);
        clock.advance(1000);
      }
      return { pairsPerS: n / ((performance.now() - started) / 1000) };
    },
  };
}
