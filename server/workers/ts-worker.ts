import { Worker } from 'node:worker_threads';

/**
 * A worker thread running a TypeScript module (through tsx); `data`'s fields are added to its
 * workerData. Used for work that must not hold the server's event loop (the CRM recompute) and by the
 * benchmarks' load generators.
 */
export function tsWorker(entryUrl: string, data: Record<string, unknown>): Worker {
  const boot = `(async () => {
    const { workerData } = require('node:worker_threads');
    const { register } = await import(workerData.tsx);
    register();
    await import(workerData.entry);
  })().catch((e) => { console.error(e); process.exit(1); });`;
  return new Worker(boot, { eval: true, workerData: { ...data, tsx: import.meta.resolve('tsx/esm/api'), entry: entryUrl } });
}
