import type { Clock } from '../clock.js';

/**
 * Counts failures per key (an identifier, a client address) in a sliding window, in memory. A key with
 * `max` failures inside the window is locked until the oldest of them leaves it. Restarting the
 * server forgets every count, which is acceptable for sign-in throttling.
 */
export class AttemptLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(readonly max: number, readonly windowMs: number, private readonly clock: Clock) {}

  /** Seconds until `key` may try again, or 0 when it may try now. */
  retryAfter(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.max) return 0;
    return Math.max(1, Math.ceil((recent[recent.length - this.max]! + this.windowMs - this.clock.now().getTime()) / 1000));
  }

  fail(key: string): void {
    const recent = this.recent(key);
    recent.push(this.clock.now().getTime());
    this.failures.set(key, recent);
    if (this.failures.size > 10_000) this.prune();
  }

  /** Takes back the latest failure of `key`: an attempt counted up front that turned out right. */
  forgive(key: string): void {
    const recent = this.failures.get(key);
    recent?.pop();
    if (recent && recent.length === 0) this.failures.delete(key);
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.clock.now().getTime() - this.windowMs;
    const recent = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (recent.length) this.failures.set(key, recent);
    else this.failures.delete(key);
    return recent;
  }

  /** Drops keys whose failures have all left the window, then the oldest keys: memory stays bounded under a flood of names. */
  private prune(): void {
    for (const key of [...this.failures.keys()]) this.recent(key);
    for (const key of this.failures.keys()) {
      if (this.failures.size <= 5_000) break;
      this.failures.delete(key);
    }
  }
}
