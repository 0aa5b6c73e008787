import type { Db } from '../store/db.js';
import type { Clock } from '../clock.js';
import { tsWorker } from '../workers/ts-worker.js';
import { recomputeCrm, type RecomputeOptions, type RecomputeSummary } from './recompute.js';
import type { RecomputeJob } from './recompute-worker.js';
import { sendServiceAlerts } from './alerts.js';

export interface CrmFeatureOptions {
  db: Db;
  clock: Clock;
  /** The SQLite file: with it the recompute runs in a worker thread on its own connection; without, in-process. */
  dbFile?: string;
  /** Hour of the day (UTC) of the scheduled recompute (default 3). */
  recomputeHourUtc?: number;
  recompute?: Omit<RecomputeOptions, 'log' | 'trigger'>;
  log?: (line: string) => void;
}

const HOUR = 3_600_000;

/**
 * The patron CRM's schedule: the recompute (profiles, segments, key patrons, recommendations,
 * services) once a day and on demand, one at a time; every hour, the services' alerts (new arrivals,
 * event invitations). The reading-history unlinking is circulation's housekeeping (server/main.ts).
 */
export class CrmFeature {
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<RecomputeSummary> | null = null;
  private lastScheduledDay: string | null = null;

  constructor(private readonly o: CrmFeatureOptions) {}

  start(): void {
    const last = this.o.db.prepare("SELECT at FROM segment_run WHERE trigger IN ('schedule', 'startup') ORDER BY id DESC LIMIT 1").pluck().get() as string | undefined;
    this.lastScheduledDay = last?.slice(0, 10) ?? null;
    this.alerts();
    // A library that has never been profiled gets its first segments now, not tomorrow night.
    if (!this.o.db.prepare('SELECT 1 FROM segment_run LIMIT 1').get()) this.recompute('startup').catch(() => {});
    const hourly = setInterval(() => { this.alerts(); this.scheduled(); }, HOUR);
    hourly.unref();
    this.timers.push(hourly);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.running?.catch(() => {});
  }

  /** Runs a recompute now, or joins the one already running. */
  recompute(trigger: RecomputeOptions['trigger'] = 'manual'): Promise<RecomputeSummary> {
    if (this.running) return this.running;
    const now = this.o.clock.now();
    const run = this.o.dbFile ? this.inWorker(now, trigger) : Promise.resolve().then(() => recomputeCrm(this.o.db, now, { ...this.o.recompute, trigger }));
    this.running = run.then((s) => {
      this.o.log?.(`crm recompute (${trigger}): ${s.patrons} patrons, ${s.profiled} profiled, k=${s.k}, ${s.keyPatrons} key patrons in ${s.durationMs} ms`);
      return s;
    }, (e: unknown) => {
      this.o.log?.(`crm recompute (${trigger}) failed: ${e instanceof Error ? e.message : String(e)}`);
      throw e;
    }).finally(() => { this.running = null; });
    return this.running;
  }

  get busy(): boolean { return this.running !== null; }

  /** The hourly check: the day's recompute once the configured hour has passed. */
  scheduled(): void {
    const now = this.o.clock.now();
    const day = now.toISOString().slice(0, 10);
    if (this.lastScheduledDay === day || now.getUTCHours() < (this.o.recomputeHourUtc ?? 3)) return;
    this.lastScheduledDay = day;
    this.recompute('schedule').catch(() => {});
  }

  /** New-arrival alerts and event invitations for the patrons whose services ask for them. */
  alerts(): void {
    try {
      const r = sendServiceAlerts(this.o.db, this.o.clock.now());
      if (r.alerted || r.invited) this.o.log?.(`alerts: ${r.alerted} patrons told of ${r.newRecords} new titles, ${r.invited} invitations to ${r.newEvents} events`);
    } catch (e) {
      this.o.log?.(`alerts failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private inWorker(now: Date, trigger: RecomputeOptions['trigger']): Promise<RecomputeSummary> {
    const job: RecomputeJob = { file: this.o.dbFile!, now: now.toISOString(), options: { ...this.o.recompute, trigger } };
    const worker = tsWorker(new URL('./recompute-worker.ts', import.meta.url).href, { job });
    return new Promise((resolve, reject) => {
      worker.once('message', (m: { ok: true; summary: RecomputeSummary } | { ok: false; error: string }) => {
        if (m.ok) resolve(m.summary); else reject(new Error(m.error));
        void worker.terminate();
      });
      worker.once('error', reject);
      worker.once('exit', (code) => { if (code !== 0) reject(new Error(`recompute worker exited with ${code}`)); });
    });
  }
}
