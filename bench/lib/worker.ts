import type { Worker } from 'node:worker_threads';
import { tsWorker } from '../../server/workers/ts-worker.js';

/**
 * A worker thread running a TypeScript suite file with `job` as its workerData.job: load generators
 * run there so they do not share the measured process's event loop. The suite file tells it is the
 * worker with `isMainThread` and reads `workerData.job`.
 */
export function suiteWorker(entryUrl: string, job: unknown): Worker {
  return tsWorker(entryUrl, { job });
}
