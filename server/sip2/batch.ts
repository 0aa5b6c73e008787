import type { Db } from '../store/db.js';

interface Job { run: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }

/**
 * Group commit for the writes SIP2 requests make. Operations asked for during one turn of the event
 * loop run together, in order, in one SQLite transaction: each circulation operation still runs in its
 * own savepoint (the core's transactions nest), so a refusal or a failure undoes only its own writes.
 * Every caller is answered only after that transaction has committed, so what a terminal is told has
 * happened has been written; if the commit itself fails, nothing in the batch happened and every caller
 * gets the error. One commit per batch instead of one per operation is what lets fifty terminals lend
 * and return at once: the pages every operation touches (the event log, the loan table and their
 * indexes) are written once per batch. The whole batch runs synchronously, so no other request (HTTP,
 * kiosk) ever runs inside it.
 */
export class WriteBatcher {
  private queue: Job[] = [];
  private scheduled = false;

  constructor(private readonly db: Db, private readonly maxBatch = 64) {}

  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush() {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
      try {
        this.db.transaction(() => {
          for (const job of batch) {
            try {
              outcomes.push({ ok: true, value: job.run() });
            } catch (error) {
              outcomes.push({ ok: false, error });
            }
          }
        }).immediate();
      } catch (error) {
        for (const job of batch) job.reject(error);
        continue;
      }
      batch.forEach((job, i) => {
        const o = outcomes[i]!;
        if (o.ok) job.resolve(o.value); else job.reject(o.error);
      });
    }
  }
}
