import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MqttClient } from 'mqtt';

/**
 * Store-and-forward for the gateway's events: every event is written to a small SQLite file
 * before it is sent, and removed only after the broker acknowledged it (QoS 1 PUBACK). While the
 * broker is unreachable events pile up on disk; afterwards they are delivered in the order they
 * were produced. A crash between PUBACK and the delete resends one event, which the server drops
 * by its event id.
 */
export class Outbox {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly oldest: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly count: Database.Statement;
  private client: MqttClient | null = null;
  private draining = false;
  private closed = false;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload TEXT NOT NULL, retain INTEGER NOT NULL DEFAULT 0)');
    this.insert = this.db.prepare('INSERT INTO outbox (topic, payload, retain) VALUES (?, ?, ?)');
    this.oldest = this.db.prepare('SELECT seq, topic, payload, retain FROM outbox ORDER BY seq LIMIT 64');
    this.remove = this.db.prepare('DELETE FROM outbox WHERE seq = ?');
    this.count = this.db.prepare('SELECT count(*) AS n FROM outbox');
  }

  /** Events waiting for the broker. */
  get pending(): number { return (this.count.get() as { n: number }).n; }

  /** Starts delivering through this client whenever it is connected. */
  attach(client: MqttClient): void {
    this.client = client;
    client.on('connect', () => this.kick());
    this.kick();
  }

  /** Keeps an event (durably) and delivers it as soon as the broker is there. */
  enqueue(topic: string, payload: unknown, retain = false): void {
    if (this.closed) throw new Error('the outbox is closed');
    this.insert.run(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), retain ? 1 : 0);
    this.kick();
  }

  private kick(): void {
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (!this.closed && this.client?.connected) {
        const batch = this.oldest.all() as { seq: number; topic: string; payload: string; retain: number }[];
        if (!batch.length) break;
        for (const row of batch) {
          if (this.closed || !this.client?.connected) return;
          try {
            await this.client.publishAsync(row.topic, row.payload, { qos: 1, retain: row.retain === 1 });
          } catch {
            return; // connection lost mid-publish: the row stays and goes first on reconnect
          }
          if (this.closed) return;
          this.remove.run(row.seq);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** Resolves when everything queued so far has been acknowledged (for orderly shutdown and tests). */
  async flushed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0) {
      if (Date.now() > deadline) return false;
      this.kick();
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  close(): void {
    this.closed = true;
    this.db.close();
  }
}
