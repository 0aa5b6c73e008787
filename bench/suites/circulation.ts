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
 * pair performs (same statements, same transactions, same pragmas), on the same 100k-item database,
 * two ways:
 * - concurrent (the headline figures): `BENCH_CIRC_CLIENTS` clients (kiosks, desks, terminals) at once,
 *   each lending and returning its own items, through the core's group commit as the server's channels
 *   use it; the bare SQL pairs go through the same group commit, in the same savepoints;
 * - sequential: one client, each operation its own transaction (what one kiosk alone sees).
 */
const suite: BenchSuite = {
  name: 'circulation',
  summary: 'checkout+checkin pairs through the circulation core vs the bare SQL writes, 100k items / 20k patrons, concurrent and sequential',
  async run(log) {
    const seed = env('BENCH_SEED', 20260302);
    const pairs = env('BENCH_CIRC_PAIRS', 4000);
    const rounds = env('BENCH_ROUNDS', 5);
    const clients = env('BENCH_CIRC_CLIENTS', 32);
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
      const circ = new Circulation(db, clock);
      const core = coreRunner(circ, lib, clock, seed);
      const sql = sqlRunner(db, circ, lib, clock, seed);
      const warm = Math.min(pairs, 1000);
      await core.run(warm, 1); // warm-up: JIT, page cache, statement caches
      sql.calibrate();
      await sql.run(warm, 1);
      await core.run(warm, clients);
      await sql.run(warm, clients);

      const seq = { core: [] as Round[], sql: [] as Round[] };
      const con = { core: [] as Round[], sql: [] as Round[] };
      for (let i = 0; i < rounds; i++) {
        con.core.push(await core.run(pairs, clients));
        con.sql.push(await sql.run(pairs, clients));
        seq.core.push(await core.run(pairs, 1));
        seq.sql.push(await sql.run(pairs, 1));
        const r = (x: Round[]) => Math.round(x[i]!.pairsPerS);
        log(`round ${i + 1}/${rounds}: ${clients} clients: core ${r(con.core)} pairs/s, bare SQL ${r(con.sql)}; one client: core ${r(seq.core)}, bare SQL ${r(seq.sql)}`);
      }
      const rate = (x: Round[]) => median(x.map((r) => r.pairsPerS));
      const ms = (x: number) => Math.round(x * 1000) / 1000;
      const pct = (x: Round[], p: number) => ms(median(x.map((r) => percentile(Array.from(r.checkoutMs!), p))));
      const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
      return {
        pairs_per_s: { value: Math.round(rate(con.core)), unit: 'pairs/s' },
        checkout_p50_ms: { value: pct(con.core, 50), unit: 'ms' },
        checkout_p99_ms: { value: pct(con.core, 99), unit: 'ms' },
        sql_pairs_per_s: { value: Math.round(rate(con.sql)), unit: 'pairs/s' },
        ratio_to_sql: { value: ratio(rate(con.core), rate(con.sql)), unit: 'ratio' },
        clients: { value: clients, unit: 'clients' },
        sequential_pairs_per_s: { value: Math.round(rate(seq.core)), unit: 'pairs/s' },
        sequential_checkout_p50_ms: { value: pct(seq.core, 50), unit: 'ms' },
        sequential_checkout_p99_ms: { value: pct(seq.core, 99), unit: 'ms' },
        sequential_sql_pairs_per_s: { value: Math.round(rate(seq.sql)), unit: 'pairs/s' },
        sequential_ratio_to_sql: { value: ratio(rate(seq.core), rate(seq.sql)), unit: 'ratio' },
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

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

type Lendable = BuiltLibrary['lendable'][number];
/** One pair's two operations: the checkout returns what the checkin needs. */
interface PairOps<C> { checkout(item: Lendable): C; checkin(item: Lendable, out: C): void }

/**
 * Runs `n` pairs, timing each checkout. With one client: a plain loop, each operation its own
 * transaction, letting the event loop turn every 100 pairs as a server's does between requests (the
 * checkpointer's messages are heard there). With more: `clients` loops at once, each drawing items of
 * its own (no item is in two loops at once), every operation through the core's group commit.
 */
async function drive<C>(n: number, clients: number, lendable: Lendable[], r: () => number, ops: PairOps<C>, circ: Circulation): Promise<Round> {
  const checkoutMs = new Float64Array(n);
  const pair = async (item: Lendable, i: number) => {
    const t = performance.now();
    const out = clients <= 1 ? ops.checkout(item) : await circ.write(() => ops.checkout(item));
    checkoutMs[i] = performance.now() - t;
    if (clients <= 1) ops.checkin(item, out); else await circ.write(() => ops.checkin(item, out));
  };
  const started = performance.now();
  if (clients <= 1) {
    for (let i = 0; i < n; i++) {
      await pair(lendable[Math.floor(r() * lendable.length)]!, i);
      if (i % 100 === 99) await yieldTurn();
    }
  } else {
    const per = Math.floor(lendable.length / clients);
    let next = 0;
    await Promise.all(Array.from({ length: clients }, async (_, c) => {
      const own = lendable.slice(c * per, (c + 1) * per);
      for (let i = next++; i < n; i = next++) await pair(own[Math.floor(r() * own.length)]!, i);
    }));
  }
  return { pairsPerS: n / ((performance.now() - started) / 1000), checkoutMs };
}

/** Pairs through the core as a kiosk sends them: card and barcode, a transaction id on every operation. */
function coreRunner(circ: Circulation, lib: BuiltLibrary, clock: ReturnType<typeof fixedClock>, seed: number) {
  const r = rng(seed + 1);
  const kiosk: OpContext = { channel: 'kiosk', branchId: 'main', actor: 'kiosk-main-1' };
  let txn = 0;
  const ops: PairOps<number> = {
    checkout(item) {
      const id = ++txn;
      const patron = lib.patrons[Math.floor(r() * lib.patrons.length)]!;
      const out = circ.checkout({ cardNumber: patron.card_number }, { barcode: item.barcode }, { ...kiosk, txnId: `co-${id}` });
      if (!out.ok) throw new Error(`checkout of ${item.barcode} by ${patron.card_number} refused: ${out.code}`);
      return id;
    },
    // Returned at its home branch's returns slot, so it is reshelved and the library stays as it was.
    checkin(item, id) {
      const back = circ.checkin({ barcode: item.barcode }, { channel: 'kiosk', branchId: item.home_branch, actor: 'returns-1', txnId: `ci-${id}` });
      if (!back.ok) throw new Error(`checkin of ${item.barcode} refused: ${back.code}`);
      clock.advance(10);
    },
  };
  /** `n` pairs with this many clients (1: sequential). */
  return { run: (n: number, clients: number) => drive(n, clients, lib.lendable, r, ops, circ) };
}

/**
 * The writes one pair makes, without the domain logic: checkout = INSERT loan, UPDATE item, INSERT
 * circ_event, INSERT client_txn in one immediate transaction; checkin = UPDATE loan, UPDATE item,
 * INSERT circ_event, INSERT client_txn in another. Payloads as long as the core's own. Concurrent pairs
 * go through the core's group commit like the core's own.
 */
function sqlRunner(db: Db, circ: Circulation, lib: BuiltLibrary, clock: ReturnType<typeof fixedClock>, seed: number) {
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
  const ops: PairOps<{ loanId: number; patronId: number; ts: string; id: number }> = {
    checkout(item) {
      const now = clock.now();
      clock.advance(10);
      const patronId = lib.patrons[Math.floor(r() * lib.patrons.length)]!.id;
      const ts = now.toISOString();
      const id = ++txn;
      const loanId = checkout.immediate(item.id, patronId, ts, new Date(now.getTime() + 28 * 86_400_000).toISOString(), `sql-co-${id}`);
      return { loanId, patronId, ts, id };
    },
    checkin(item, { loanId, patronId, ts, id }) {
      checkin.immediate(item.id, patronId, loanId, item.home_branch, ts, `sql-ci-${id}`);
    },
  };
  return {
    /** Takes the payload lengths from what the core stored during its warm-up. */
    calibrate() {
      const avg = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? 0;
      payload.checkoutResult = filler(avg("SELECT avg(length(result)) FROM client_txn WHERE op = 'checkout'"));
      payload.checkinResult = filler(avg("SELECT avg(length(result)) FROM client_txn WHERE op = 'checkin'"));
      payload.checkoutDetail = filler(avg("SELECT avg(length(detail)) FROM circ_event WHERE op = 'checkout'"));
      payload.checkinDetail = filler(avg("SELECT avg(length(detail)) FROM circ_event WHERE op = 'checkin'"));
    },
    /** `n` pairs with this many clients (1: sequential). */
    run: (n: number, clients: number) => drive(n, clients, lib.lendable, r, ops, circ),
  };
}
