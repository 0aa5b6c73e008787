import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../server/clock.js';
import { IntrusionGuard, type IntrusionEvent } from '../../../server/environment/intrusion.js';
import { openDb, type Db } from '../../../server/store/db.js';

// Monday 2 March 2026 in Asia/Shanghai (UTC+8); the branch opens 08:00–22:00 Monday to Saturday.
const local = (hhmmss: string, day = '2026-03-02') => new Date(`${day}T${hhmmss}+08:00`);
const S = 1000;
let dir: string, db: Db;
afterEach(() => { db?.close(); rmSync(dir, { recursive: true, force: true }); });

function library(at: Date) {
  dir = mkdtempSync(join(tmpdir(), 'shelfsense-intrusion-'));
  db = openDb(join(dir, 'shelfsense.db'));
  db.prepare("INSERT INTO branch (id, name) VALUES ('main', 'Main library'), ('east', 'East library')").run();
  for (const w of [1, 2, 3, 4, 5, 6]) db.prepare("INSERT INTO opening_hours (branch_id, weekday, opens, closes) VALUES ('main', ?, '08:00', '22:00')").run(w);
  const device = db.prepare("INSERT INTO device (id, kind, branch_id, name, role, created_at) VALUES (?, 'sensor', ?, ?, ?, '2026-01-01T00:00:00Z')");
  device.run('main-entrance-motion', 'main', 'entrance motion', 'motion');
  device.run('main-entrance-door', 'main', 'entrance door', 'contact');
  device.run('main-back-door', 'main', 'back door', 'contact');
  device.run('east-door', 'east', 'east door', 'contact');
  const clock = fixedClock(at);
  const events: IntrusionEvent[] = [];
  const guard = new IntrusionGuard({ db, clock, onEvent: (e) => events.push(e) });
  const intrusions = () => events.filter((e) => e.type === 'intrusion');
  /** Moves the clock to `t` and ticks. */
  const at2 = (t: Date) => { clock.set(t); guard.tick(); return guard.status('main'); };
  return { guard, clock, events, intrusions, at: at2 };
}

describe('automatic arming by the opening hours', () => {
  it('arms at closing time after the exit delay; motion then raises an intrusion after the entry delay', () => {
    const { guard, intrusions, at } = library(local('21:59:00'));
    expect(at(local('21:59:59')).state).toBe('disarmed');
    expect(at(local('22:00:00'))).toMatchObject({ state: 'arming', changedBy: 'schedule', armedAt: '2026-03-02T14:05:00.000Z' });
    guard.onReading('main-entrance-motion', { occupancy: true }, local('22:02:00')); // staff still leaving
    expect(at(local('22:05:00'))).toMatchObject({ state: 'armed', entry: null });

    guard.onReading('main-entrance-motion', { occupancy: true }, local('23:10:00'));
    expect(at(local('23:10:29')).entry).toEqual({ deadline: '2026-03-02T15:10:30.000Z', deviceId: 'main-entrance-motion' });
    expect(intrusions()).toEqual([]);
    at(local('23:10:30'));
    expect(intrusions()).toMatchObject([{ branchId: 'main', deviceId: 'main-entrance-motion', message: expect.stringContaining('motion main-entrance-motion tripped at 2026-03-02T15:10:00.000Z') }]);
    expect(guard.status('main').entry).toBeNull();
  });

  it('raises nothing when someone disarms within the entry delay, and leaves a manual disarm alone until opening', () => {
    const { guard, intrusions, at } = library(local('23:00:00'));
    expect(at(local('23:00:00')).state).toBe('armed'); // started long after closing time: the exit delay is over
    expect(guard.status('main').changedBy).toBe('schedule');
    guard.onReading('main-entrance-door', { contact: false }, local('23:30:00'));
    at(local('23:30:20'));
    expect(guard.disarm('main', 'Li Wei')).toMatchObject({ state: 'disarmed', changedBy: 'Li Wei', entry: null });
    guard.onReading('main-entrance-door', { contact: true }, local('23:31:00'));
    expect(at(local('23:45:00')).state).toBe('disarmed');
    expect(intrusions()).toEqual([]);
    expect(at(local('08:00:00', '2026-03-03')).state).toBe('disarmed');
    expect(at(local('22:00:00', '2026-03-03')).state).toBe('arming'); // the next closing arms again
  });

  it('does nothing with motion during opening hours, and disarms at opening', () => {
    const { guard, intrusions, at } = library(local('06:00:00'));
    expect(at(local('06:00:00')).state).toBe('armed'); // closed since 22:00 yesterday
    expect(at(local('08:00:00'))).toMatchObject({ state: 'disarmed', changedBy: 'schedule' });
    guard.onReading('main-entrance-motion', { occupancy: true }, local('10:00:00'));
    guard.onReading('main-entrance-door', { contact: false }, local('10:00:05'));
    expect(at(local('10:05:00'))).toMatchObject({ state: 'disarmed', entry: null });
    expect(intrusions()).toEqual([]);
  });

  it('waits to arm while a door stands open, and arms when it closes', () => {
    const { guard, events, at } = library(local('21:00:00'));
    guard.onReading('main-back-door', { contact: false }, local('21:30:00'));
    expect(at(local('22:00:00'))).toMatchObject({ state: 'disarmed', blocked: { openDoors: ['main-back-door'] } });
    at(local('22:01:00'));
    expect(events.filter((e) => e.type === 'blocked')).toHaveLength(1); // said once, not every tick
    guard.onReading('main-back-door', { contact: true }, local('22:20:00'));
    expect(at(local('22:20:01'))).toMatchObject({ state: 'armed', blocked: null });
  });
});

describe('staff arming', () => {
  it('refuses to arm with a door open unless that door is bypassed; a bypassed door does not trip', () => {
    const { guard, intrusions, at } = library(local('10:00:00'));
    at(local('10:00:00'));
    guard.onReading('main-back-door', { contact: false }, local('10:01:00'));
    expect(() => guard.arm('main', 'Li Wei')).toThrow(expect.objectContaining({ code: 'DOOR_OPEN', status: 409, detail: { openDoors: ['main-back-door'] } }));
    expect(() => guard.arm('main', 'Li Wei', ['east-door'])).toThrow(expect.objectContaining({ code: 'UNKNOWN_BYPASS_DEVICE', status: 422 }));
    expect(guard.arm('main', 'Li Wei', ['main-back-door'])).toMatchObject({ state: 'arming', changedBy: 'Li Wei', bypassed: ['main-back-door'] });
    expect(() => guard.arm('main', 'Li Wei')).toThrow(expect.objectContaining({ code: 'ALREADY_ARMED' }));
    expect(at(local('10:06:00')).state).toBe('armed');
    guard.onReading('main-back-door', { contact: false }, local('10:07:00'));
    at(local('10:08:00'));
    expect(intrusions()).toEqual([]);
    guard.onReading('main-entrance-door', { contact: false }, local('10:09:00'));
    at(local('10:09:30'));
    expect(intrusions()).toMatchObject([{ deviceId: 'main-entrance-door' }]);
    expect(guard.disarm('main', 'Li Wei').bypassed).toEqual([]);
    expect(() => guard.disarm('main', 'Li Wei')).toThrow(expect.objectContaining({ code: 'ALREADY_DISARMED' }));
    expect(() => guard.arm('west', 'Li Wei')).toThrow(expect.objectContaining({ code: 'BRANCH_NOT_FOUND', status: 404 }));
  });

  it('keeps a running entry delay across a restart', () => {
    const { guard, clock, at } = library(local('23:00:00'));
    at(local('23:00:01'));
    guard.onReading('main-entrance-motion', { occupancy: true }, local('23:10:00'));
    const events: IntrusionEvent[] = [];
    const restarted = new IntrusionGuard({ db, clock, onEvent: (e) => events.push(e) });
    clock.set(new Date(local('23:10:00').getTime() + 30 * S));
    restarted.tick();
    expect(events.map((e) => e.type)).toEqual(['intrusion']);
    expect(restarted.status('main')).toMatchObject({ state: 'armed', entry: null });
  });
});
