import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CircEvent } from '../../../server/circulation/circulation.js';
import { closeLibraries, desk, granted, openLibrary, type Library } from './library.js';

let lib: Library;
let other: Database.Database | undefined;
afterEach(() => { other?.close(); other = undefined; closeLibraries(); });

/** The library, and a second connection that sees only what has been committed. */
function open() {
  lib = openLibrary();
  other = new Database(join(lib.dir, 'library.db'), { readonly: true });
  return lib;
}
const committedLoans = () => (other!.prepare('SELECT item_id FROM loan WHERE closed_at IS NULL ORDER BY item_id').all() as { item_id: number }[]).map((r) => r.item_id);
const committedBranches = () => (other!.prepare('SELECT id FROM branch ORDER BY id').all() as { id: string }[]).map((r) => r.id);

describe('the group commit', () => {
  it('runs the operations of one turn in one transaction and answers each only once it has committed', async () => {
    open();
    const [p, a, b] = [lib.patron(), lib.book(), lib.book()];
    const seenBySecond: number[][] = [];
    const first = lib.circ.write(() => lib.circ.checkout({ patronId: p.id }, { itemId: a.id }, desk));
    const second = lib.circ.write(() => {
      seenBySecond.push(committedLoans());
      return lib.circ.checkout({ patronId: p.id }, { itemId: b.id }, desk);
    });
    expect(committedLoans()).toEqual([]); // nothing runs before the turn ends
    granted(await first);
    expect(committedLoans()).toEqual([a.id, b.id]); // by the time the first caller hears back, both are written
    granted(await second);
    expect(seenBySecond).toEqual([[]]); // the second ran in the same transaction, not yet committed
  });

  it('undoes only the caller that failed, with the events it logged, and tells only that caller', async () => {
    open();
    const [p, a, b, c] = [lib.patron(), lib.book(), lib.book(), lib.book()];
    const heard: CircEvent[] = [];
    lib.circ.onEvent((e) => heard.push(e));
    const ok = lib.circ.write(() => lib.circ.checkout({ patronId: p.id }, { itemId: a.id }, desk));
    const failed = lib.circ.write(() => {
      granted(lib.circ.checkout({ patronId: p.id }, { itemId: b.id }, desk)); // granted, then the caller fails after it
      throw new Error('terminal went away');
    });
    const after = lib.circ.write(() => lib.circ.checkout({ patronId: p.id }, { itemId: c.id }, desk));
    await expect(failed).rejects.toThrow('terminal went away');
    granted(await ok);
    granted(await after);
    expect(committedLoans()).toEqual([a.id, c.id]);
    expect(heard.map((e) => e.itemId)).toEqual([a.id, c.id]);
    expect(lib.events().map((e) => e.item_id)).toEqual([a.id, c.id]);
  });

  it('undoes an operation that failed part-way, even when its caller caught the error and carried on', async () => {
    open();
    const [p, a, b] = [lib.patron(), lib.book(), lib.book()];
    // The event log refuses writes: an operation fails after writing its loan and its item.
    lib.db.exec("CREATE TEMP TRIGGER no_events BEFORE INSERT ON circ_event BEGIN SELECT RAISE(ABORT, 'event log unavailable'); END");
    const caughtFirst = lib.circ.write(() => {
      try { lib.circ.checkout({ patronId: p.id }, { itemId: a.id }, desk); } catch { /* a careless caller */ }
      return 'carried on';
    });
    await expect(caughtFirst).rejects.toThrow('event log unavailable');
    lib.db.exec('DROP TRIGGER no_events');
    // A later operation of the same caller that fails part-way is undone on its own; what came before stays.
    const caughtSecond = lib.circ.write(() => {
      granted(lib.circ.checkout({ patronId: p.id }, { itemId: a.id }, desk));
      lib.db.exec("CREATE TEMP TRIGGER no_events BEFORE INSERT ON circ_event BEGIN SELECT RAISE(ABORT, 'event log unavailable'); END");
      try { lib.circ.checkout({ patronId: p.id }, { itemId: b.id }, desk); } catch { /* carried on */ }
      lib.db.exec('DROP TRIGGER no_events');
      return 'carried on';
    });
    await expect(caughtSecond).resolves.toBe('carried on');
    expect(committedLoans()).toEqual([a.id]);
    expect(lib.itemRow(b.id).status).toBe('available');
    expect(lib.events().map((e) => e.item_id)).toEqual([a.id]);
  });

  it('announces a group’s events only after it has committed', async () => {
    open();
    const [p, a] = [lib.patron(), lib.book()];
    const onDiskWhenHeard: number[][] = [];
    lib.circ.onEvent(() => onDiskWhenHeard.push(committedLoans()));
    granted(await lib.circ.write(() => lib.circ.checkout({ patronId: p.id }, { itemId: a.id }, desk)));
    expect(onDiskWhenHeard).toEqual([[a.id]]);
    // An operation called on its own is its own transaction and is announced as before.
    granted(lib.circ.checkin({ itemId: a.id }, desk));
    expect(onDiskWhenHeard).toEqual([[a.id], []]);
  });

  it('answers every caller with the error when the commit fails, and nothing of the group is written or announced', async () => {
    open();
    const [p, a] = [lib.patron(), lib.book()];
    const heard: CircEvent[] = [];
    lib.circ.onEvent((e) => heard.push(e));
    const lend = lib.circ.write(() => lib.circ.checkout({ patronId: p.id }, { itemId: a.id }, desk));
    const broken = lib.circ.write(() => {
      lib.db.pragma('defer_foreign_keys = ON'); // the broken reference is only found at COMMIT
      lib.db.prepare("INSERT INTO item (record_id, barcode, home_branch, created_at, updated_at) VALUES (999999, 'X', 'nowhere', '', '')").run();
    });
    await expect(lend).rejects.toThrow(/FOREIGN KEY/);
    await expect(broken).rejects.toThrow(/FOREIGN KEY/);
    expect(committedLoans()).toEqual([]);
    expect(heard).toEqual([]);
    expect(lib.db.inTransaction).toBe(false);
    // The core goes on: the next group commits.
    granted(await lib.circ.write(() => lib.circ.checkout({ patronId: p.id }, { itemId: a.id }, desk)));
    expect(committedLoans()).toEqual([a.id]);
  });

  it('carries any write a caller makes, not only circulation operations', async () => {
    open();
    const add = (id: string) => lib.db.prepare('INSERT INTO branch (id, name) VALUES (?, ?)').run(id, id);
    await Promise.all([lib.circ.write(() => add('north')), lib.circ.write(() => add('south'))]);
    expect(committedBranches()).toEqual(['east', 'main', 'north', 'south']);
  });

  it('writes a large burst a group at a time, every operation answered once and in order', async () => {
    open();
    const p = lib.patron();
    lib.rule({ patronCategory: 'undergraduate', maxLoans: 500 });
    const books = Array.from({ length: 150 }, () => lib.book());
    const asked = books.map((b) => lib.circ.write(() => lib.circ.checkout({ patronId: p.id }, { itemId: b.id }, desk)));
    granted(await asked[0]!);
    expect(committedLoans()).toHaveLength(64); // the first group is answered before the next is written
    const answers = await Promise.all(asked);
    expect(answers.map((r) => granted(r).item.id)).toEqual(books.map((b) => b.id));
    expect(committedLoans()).toHaveLength(150);
    expect(new Set(lib.events().map((e) => e.id)).size).toBe(150);
  });
});
