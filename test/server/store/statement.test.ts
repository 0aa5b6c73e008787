import { describe, expect, it } from 'vitest';
import { openDb, statement } from '../../../server/store/db.js';

describe('the statement cache', () => {
  it('prepares fixed SQL once per connection, and hands it back in its default mode', () => {
    const db = openDb(':memory:');
    const other = openDb(':memory:');
    try {
      db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b')");
      other.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('z')");
      const sql = 'SELECT v FROM t ORDER BY id';
      expect(statement(db, sql)).toBe(statement(db, sql));
      expect(statement(other, sql)).not.toBe(statement(db, sql));
      expect(statement(db, sql).pluck().all()).toEqual(['a', 'b']);
      expect(statement(db, sql).all()).toEqual([{ v: 'a' }, { v: 'b' }]); // the pluck above does not stick
      expect(statement(db, sql).raw().all()).toEqual([['a'], ['b']]);
      expect(statement(db, sql).get()).toEqual({ v: 'a' });
      expect(statement(other, sql).pluck().get()).toBe('z');
      statement(db, 'INSERT INTO t (v) VALUES (?)').run('c'); // a writer comes back as it is
      expect(statement(db, 'INSERT INTO t (v) VALUES (?)').run('d').changes).toBe(1);
      expect(statement(db, sql).pluck().all()).toEqual(['a', 'b', 'c', 'd']);
    } finally {
      db.close();
      other.close();
    }
  });
});
