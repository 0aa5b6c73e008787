import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { openDb } from '../store/db.js';
import { recomputeCrm, type RecomputeOptions } from './recompute.js';

/** The recompute in a worker thread, on its own connection to the library's SQLite file. */
export interface RecomputeJob { file: string; now: string; options: Omit<RecomputeOptions, 'log'> }

if (!isMainThread && (workerData as { job?: RecomputeJob })?.job) {
  const job = (workerData as { job: RecomputeJob }).job;
  try {
    const db = openDb(job.file, { autoCheckpoint: false });
    try {
      parentPort!.postMessage({ ok: true, summary: recomputeCrm(db, new Date(job.now), job.options) });
    } finally { db.close(); }
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.stack ?? e.message : String(e) });
  }
}
