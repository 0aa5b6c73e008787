import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../server/clock.js';
import { AlarmBook, type AlarmChange } from '../../../server/environment/alarms.js';
import { smtpMailer, type Mailer } from '../../../server/mail.js';
import { openDb, setSetting, type Db } from '../../../server/store/db.js';

const START = '2026-07-15T06:00:00.000Z';
const MIN = 60_000;
let dir: string, db: Db;
afterEach(() => { db?.close(); rmSync(dir, { recursive: true, force: true }); });

function book(opts: { mailer?: Mailer; escalateTo?: string[] } = {}) {
  dir = mkdtempSync(join(tmpdir(), 'shelfsense-alarms-'));
  db = openDb(join(dir, 'shelfsense.db'));
  const clock = fixedClock(START);
  const changes: AlarmChange[] = [];
  const alarms = new AlarmBook({ db, clock, mailer: opts.mailer, escalateTo: opts.escalateTo, onChange: (c) => changes.push(c) });
  return { alarms, clock, changes, actions: () => changes.splice(0).map((c) => `${c.action}:${c.alarm.state}`) };
}
const smoke = { kind: 'smoke' as const, deviceId: 'main-reading-smoke', zoneId: 'main-reading', branchId: 'main', message: 'smoke in the reading room' };
const refusal = (code: string, status: number) => expect.objectContaining({ code, status });

describe('ISA-18.2 life cycle', () => {
  it('keeps a latched smoke alarm active after the smoke clears, until it is acknowledged and reset', () => {
    const { alarms, clock, actions } = book();
    const a = alarms.raise(smoke);
    expect(a).toMatchObject({ kind: 'smoke', severity: 'critical', latched: true, state: 'active_unack', conditionActive: true, source: 'main-reading-smoke' });
    expect(() => alarms.reset(a.id, 'Li Wei')).toThrow(refusal('ALARM_STILL_ACTIVE', 409));
    clock.advance(MIN);
    expect(alarms.clear('smoke', 'main-reading-smoke')).toMatchObject({ state: 'active_unack', conditionActive: false, clearedAt: clock.now().toISOString() });
    expect(() => alarms.reset(a.id, 'Li Wei')).toThrow(refusal('ALARM_NOT_ACKNOWLEDGED', 409));
    expect(alarms.acknowledge(a.id, 'Li Wei', 'checked: burnt toast')).toMatchObject({ state: 'active_ack', acknowledgedBy: 'Li Wei', ackComment: 'checked: burnt toast' });
    expect(alarms.reset(a.id, 'Li Wei')).toMatchObject({ state: 'normal', resetBy: 'Li Wei', closedAt: clock.now().toISOString() });
    expect(actions()).toEqual(['raise:active_unack', 'clear:active_unack', 'acknowledge:active_ack', 'reset:normal']);
    expect(alarms.events(a.id).map((e) => [e.action, e.from, e.to, e.actor])).toEqual([
      ['raise', null, 'active_unack', null], ['clear', 'active_unack', 'active_unack', null],
      ['acknowledge', 'active_unack', 'active_ack', 'Li Wei'], ['reset', 'active_ack', 'normal', 'Li Wei'],
    ]);
    expect(alarms.raise(smoke).id).not.toBe(a.id); // a new occurrence is a new alarm
  });

  it('re-annunciates a latched alarm whose condition returns after acknowledgement', () => {
    const { alarms } = book();
    const a = alarms.raise(smoke);
    alarms.acknowledge(a.id, 'Li Wei');
    alarms.clear('smoke', smoke.deviceId);
    expect(alarms.raise(smoke)).toMatchObject({ id: a.id, state: 'active_unack', conditionActive: true });
  });

  it('returns a non-latched alarm to normal by itself: acknowledged then cleared, or cleared then acknowledged', () => {
    const { alarms, actions } = book();
    const leak = { kind: 'water_leak' as const, deviceId: 'main-stacks-water', message: 'water under the stacks' };
    const a = alarms.raise(leak);
    expect(a).toMatchObject({ severity: 'critical', latched: false });
    alarms.acknowledge(a.id, 'Li Wei');
    expect(alarms.clear('water_leak', leak.deviceId)).toMatchObject({ state: 'normal' });
    const b = alarms.raise(leak);
    expect(alarms.clear('water_leak', leak.deviceId)).toMatchObject({ id: b.id, state: 'cleared_unack' });
    expect(alarms.raise(leak)).toMatchObject({ id: b.id, state: 'active_unack' }); // back before anyone acknowledged it
    alarms.clear('water_leak', leak.deviceId);
    expect(alarms.acknowledge(b.id, 'Li Wei')).toMatchObject({ state: 'normal' });
    expect(actions()).toEqual(['raise:active_unack', 'acknowledge:active_ack', 'clear:normal', 'raise:active_unack', 'clear:cleared_unack',
      'realarm:active_unack', 'clear:cleared_unack', 'acknowledge:normal']);
  });

  it('gives each kind its priority', () => {
    const { alarms } = book();
    const kind = (k: Parameters<AlarmBook['raise']>[0]['kind']) => alarms.raise({ kind: k, deviceId: `d-${k}`, message: k }).severity;
    expect([kind('battery_low'), kind('tamper'), kind('sensor_stale'), kind('sensor_offline'), kind('actuator_offline'), kind('intrusion')])
      .toEqual(['low', 'low', 'high', 'high', 'high', 'critical']);
  });

  it('refuses what the life cycle does not allow, with stable codes', () => {
    const { alarms } = book();
    expect(() => alarms.acknowledge(999, 'Li Wei')).toThrow(refusal('ALARM_NOT_FOUND', 404));
    const low = alarms.raise({ kind: 'battery_low', deviceId: 'main-reading-climate', message: 'battery low' });
    alarms.acknowledge(low.id, 'Li Wei');
    expect(() => alarms.acknowledge(low.id, 'Li Wei')).toThrow(refusal('ALARM_ALREADY_ACKNOWLEDGED', 409));
    expect(() => alarms.reset(low.id, 'Li Wei')).toThrow(refusal('ALARM_NOT_LATCHED', 409));
    expect(() => alarms.unshelve(low.id, 'Li Wei')).toThrow(refusal('ALARM_NOT_SHELVED', 409));
    expect(() => alarms.shelve(alarms.raise(smoke).id, new Date(Date.parse(START) + MIN), 'Li Wei')).toThrow(refusal('ALARM_NOT_SHELVABLE', 409));
    expect(() => alarms.shelve(low.id, new Date(Date.parse(START) + 25 * 60 * MIN), 'Li Wei')).toThrow(refusal('INVALID_SHELVE_TIME', 422));
    alarms.clear('battery_low', 'main-reading-climate');
    expect(() => alarms.acknowledge(low.id, 'Li Wei')).toThrow(refusal('ALARM_CLOSED', 409));
  });
});

describe('shelving', () => {
  it('shelves a low alarm until a time and unshelves it by itself when the time passes', async () => {
    const { alarms, clock, actions } = book();
    const a = alarms.raise({ kind: 'tamper', deviceId: 'main-entrance-door', message: 'cover opened' });
    const until = new Date(clock.now().getTime() + 60 * MIN);
    expect(alarms.shelve(a.id, until, 'Li Wei', 'technician on site')).toMatchObject({ shelved: true, shelvedUntil: until.toISOString(), shelvedBy: 'Li Wei', state: 'active_unack' });
    clock.advance(59 * MIN);
    await alarms.tick();
    expect(alarms.get(a.id)).toMatchObject({ shelved: true });
    clock.advance(MIN);
    await alarms.tick();
    expect(alarms.get(a.id)).toMatchObject({ shelved: false, shelvedUntil: null, state: 'active_unack' });
    expect(alarms.events(a.id).at(-1)).toMatchObject({ action: 'unshelve', actor: 'system', comment: 'shelve time passed' });
    expect(actions()).toEqual(['raise:active_unack', 'shelve:active_unack', 'unshelve:active_unack']);
  });
});

describe('escalation', () => {
  const stale = { kind: 'sensor_stale' as const, deviceId: 'main-stacks-climate', zoneId: 'main-stacks', branchId: 'main', message: 'climate sensor silent for 10 min' };

  it('e-mails an alarm nobody acknowledged within 10 minutes, once, and records it', async () => {
    const sent: { to: string; subject: string; text: string }[] = [];
    const mailer: Mailer = { send: async (to, subject, text) => { sent.push({ to, subject, text }); return { accepted: to.split(', ') }; } };
    const { alarms, clock } = book({ mailer });
    setSetting(db, 'alarms.escalate_to', ['duty@library.example', 'facilities@library.example']);
    const a = alarms.raise(stale);
    const acked = alarms.raise({ ...stale, deviceId: 'main-reading-climate' });
    alarms.acknowledge(acked.id, 'Li Wei');
    clock.advance(9 * MIN + 59_000);
    await alarms.tick();
    expect(sent).toEqual([]);
    clock.advance(1000);
    await alarms.tick();
    await alarms.tick();
    clock.advance(60 * MIN);
    await alarms.tick();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ to: 'duty@library.example, facilities@library.example', subject: '[Shelfsense] HIGH alarm not acknowledged: sensor_stale (zone main-stacks, branch main, device main-stacks-climate)' });
    expect(sent[0]!.text).toContain('climate sensor silent for 10 min');
    expect(alarms.get(a.id)).toMatchObject({ escalatedAt: '2026-07-15T06:10:00.000Z', escalatedTo: ['duty@library.example', 'facilities@library.example'] });
    expect(alarms.get(acked.id)!.escalatedAt).toBeNull();
  });

  it('does not escalate a shelved alarm, records a failed send and tries again 5 minutes later', async () => {
    let fail = true;
    const sent: string[] = [];
    const mailer: Mailer = { send: async (to, subject) => { if (fail) throw new Error('connection refused'); sent.push(subject); return { accepted: [to] }; } };
    const { alarms, clock } = book({ mailer, escalateTo: ['duty@library.example'] });
    const shelved = alarms.raise({ ...stale, kind: 'battery_low', message: 'battery low' });
    alarms.shelve(shelved.id, new Date(clock.now().getTime() + 20 * MIN), 'Li Wei');
    const a = alarms.raise(stale);
    clock.advance(10 * MIN);
    await alarms.tick();
    expect(alarms.events(a.id).at(-1)).toMatchObject({ action: 'escalation_failed', comment: 'connection refused' });
    fail = false;
    clock.advance(4 * MIN);
    await alarms.tick();
    expect(sent).toEqual([]);
    clock.advance(MIN);
    await alarms.tick();
    expect(sent).toEqual(['[Shelfsense] HIGH alarm not acknowledged: sensor_stale (zone main-stacks, branch main, device main-stacks-climate)']);
    clock.advance(5 * MIN); // the shelve ends at +20 min: escalated on the next tick
    await alarms.tick();
    expect(sent).toHaveLength(2);
    expect(alarms.get(shelved.id)!.escalatedAt).toBe('2026-07-15T06:20:00.000Z');
  });

  it('sends through a real SMTP server with the server\'s mailer', async () => {
    const received: string[] = [];
    const smtp = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'],
      onData(stream, _session, done) { let s = ''; stream.on('data', (d: Buffer) => { s += d.toString(); }); stream.on('end', () => { received.push(s); done(); }); },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (smtp.server.address() as AddressInfo).port;
      const { alarms, clock } = book({ mailer: smtpMailer(`smtp://127.0.0.1:${port}`, 'Shelfsense <alarms@library.example>'), escalateTo: ['duty@library.example'] });
      const a = alarms.raise(smoke);
      clock.advance(10 * MIN);
      await alarms.tick();
      expect(alarms.get(a.id)!.escalatedTo).toEqual(['duty@library.example']);
      expect(received).toHaveLength(1);
      expect(received[0]).toContain('Subject: [Shelfsense] CRITICAL alarm not acknowledged: smoke');
    } finally {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  });
});
