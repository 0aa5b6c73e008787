import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../../server/store/db.js';
import { WriteBatcher } from '../../../server/sip2/batch.js';
import { KIOSK, SIP_MONDAY_10H, openSip2Library, type Sip2Library } from './helpers.js';

let dir: string;
let db: Db;
let other: Database.Database;
let lib: Sip2Library | undefined;
afterEach(async () => {
  other?.close();
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  await lib?.close();
  lib = undefined;
});

function open() {
  dir = mkdtempSync(join(tmpdir(), 'shelfsense-sip2-batch-'));
  db = openDb(join(dir, 'library.db'));
  other = new Database(join(dir, 'library.db'), { readonly: true }); // another connection sees only what is committed
}
const branch = (id: string) => db.transaction(() => db.prepare('INSERT INTO branch (id, name) VALUES (?, ?)').run(id, id)).immediate();
const committed = () => (other.prepare('SELECT id FROM branch ORDER BY id').all() as { id: string }[]).map((r) => r.id);

describe('SIP2 group commit', () => {
  it('runs the writes of one turn in one transaction and answers each only once it has committed', async () => {
    open();
    const batcher = new WriteBatcher(db);
    const seenBySecond: string[][] = [];
    const first = batcher.run(() => { branch('a'); return 'first'; });
    const second = batcher.run(() => { seenBySecond.push(committed()); branch('b'); return 'second'; });
    expect(committed()).toEqual([]); // nothing runs before the turn ends
    await expect(first).resolves.toBe('first');
    expect(committed()).toEqual(['a', 'b']); // by the time the first caller hears back, both are written
    await expect(second).resolves.toBe('second');
    expect(seenBySecond).toEqual([[]]); // the second ran in the same, not yet committed, transaction
  });

  it('undoes only the operation that failed, and tells only its caller', async () => {
    open();
    const batcher = new WriteBatcher(db);
    const ok = batcher.run(() => branch('a'));
    const failed = batcher.run(() => db.transaction(() => { branch('b'); throw new Error('boom'); })());
    const after = batcher.run(() => branch('c'));
    await expect(failed).rejects.toThrow('boom');
    await expect(ok).resolves.toBeDefined();
    await expect(after).resolves.toBeDefined();
    expect(committed()).toEqual(['a', 'c']);
  });

  it('answers every caller with the error when the commit fails, and nothing is written', async () => {
    open();
    const batcher = new WriteBatcher(db);
    const a = batcher.run(() => branch('a'));
    const b = batcher.run(() => {
      db.pragma('defer_foreign_keys = ON'); // the broken reference is only found at COMMIT
      db.prepare("INSERT INTO item (record_id, barcode, home_branch, created_at, updated_at) VALUES (999, 'X', 'nowhere', '', '')").run();
    });
    await expect(a).rejects.toThrow(/FOREIGN KEY/);
    await expect(b).rejects.toThrow(/FOREIGN KEY/);
    expect(committed()).toEqual([]);
    expect(db.inTransaction).toBe(false);
  });

  it('lends to many terminals at once, each loan written and answered', async () => {
    lib = await openSip2Library();
    const pairs = Array.from({ length: 20 }, () => ({ p: lib!.patron(), b: lib!.book() }));
    const clients = await Promise.all(pairs.map(() => lib!.client(KIOSK)));
    const answers = await Promise.all(clients.map((c, i) =>
      c.send(`11YN${SIP_MONDAY_10H}${' '.repeat(18)}AOSHELF|AA${pairs[i]!.p.cardNumber}|AB${pairs[i]!.b.barcode}|`)));
    expect(answers.map((a) => a.slice(0, 6))).toEqual(Array(20).fill('121NNY'));
    expect(lib.db.prepare('SELECT count(*) AS n FROM loan WHERE closed_at IS NULL').get()).toEqual({ n: 20 });
  });
});
