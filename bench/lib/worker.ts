import { Worker } from 'node:worker_threads';

/**
 * A worker thread running a TypeScript suite file (through tsx) with `job` as its workerData.job:
 * load generators run there so they do not share the measured process's event loop. The suite file
 * tells it is the worker with `isMainThread` and reads `workerData.job`.
 */
export function suiteWorker(entryUrl: string, job: unknown): Worker {
  const boot = `(async () => {
    const { workerData } = require('node:worker_threads');
    const { register } = await import(workerData.tsx);
    register();
    await import(workerData.entry);
  })().catch((e) => { console.error(e); process.exit(1); });`;
  return new Worker(boot, { eval: true, workerData: { job, tsx: import.meta.resolve('tsx/esm/api'), entry: entryUrl } });
}
