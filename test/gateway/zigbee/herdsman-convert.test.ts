import { describe, expect, it } from 'vitest';
import {
  batteryMillivolts, batteryPercent, commandFromPayload, coverPosition, humidity, illuminance, onOffState, readingFromMessage, readsFromKeys, temperature,
  zoneStatus,
} from '../../../gateway/zigbee/herdsman-convert.js';

const report = (cluster: string, data: Record<string, unknown>) => ({ type: 'attributeReport', cluster, data });

describe('herdsman-convert: ZCL attribute values', () => {
  it('temperature: int16 in 0.01 °C, 0x8000 invalid', () => {
    expect(temperature(2150)).toBe(21.5);
    expect(temperature(-1234)).toBe(-12.34);
    expect(temperature(0)).toBe(0);
    expect(temperature(-0x8000)).toBeUndefined();
    expect(temperature('2150')).toBeUndefined();
  });

  it('humidity: uint16 in 0.01 %, 0..10000, 0xFFFF invalid', () => {
    expect(humidity(4550)).toBe(45.5);
    expect(humidity(10000)).toBe(100);
    expect(humidity(0xffff)).toBeUndefined();
    expect(humidity(-1)).toBeUndefined();
  });

  it('illuminance: 10^((v − 1) / 10000) lx, 0 → 0, 0xFFFF invalid', () => {
    expect(illuminance(0)).toBe(0);
    expect(illuminance(1)).toBe(1);
    expect(illuminance(30001)).toBe(1000);
    expect(illuminance(40001)).toBe(10000);
    expect(illuminance(0xffff)).toBeUndefined();
  });

  it('battery: percentage remaining in 0.5 % units, voltage in 0.1 V (published in mV)', () => {
    expect(batteryPercent(200)).toBe(100);
    expect(batteryPercent(171)).toBe(86);
    expect(batteryPercent(0xff)).toBeUndefined();
    expect(batteryMillivolts(30)).toBe(3000);
    expect(batteryMillivolts(0xff)).toBeUndefined();
  });

  it('onOff and the cover position (ZCL 0 = open, ours 100 = open)', () => {
    expect(onOffState(1)).toBe('ON');
    expect(onOffState(false)).toBe('OFF');
    expect(onOffState(2)).toBeUndefined();
    expect(coverPosition(0)).toBe(100);
    expect(coverPosition(75)).toBe(25);
    expect(coverPosition(0xff)).toBeUndefined();
  });

  it('IAS zone status: alarm1 by role, tamper (bit 2), battery low (bit 3)', () => {
    expect(zoneStatus(0b0001, 'smoke')).toEqual({ smoke: true, tamper: false, battery_low: false });
    expect(zoneStatus(0b1100, 'smoke')).toEqual({ smoke: false, tamper: true, battery_low: true });
    expect(zoneStatus(0b0001, 'water')).toEqual({ water_leak: true, tamper: false, battery_low: false });
    expect(zoneStatus(0b0001, 'motion')).toEqual({ occupancy: true, tamper: false, battery_low: false });
    expect(zoneStatus(0b0001, 'contact')).toEqual({ contact: false, tamper: false, battery_low: false });
    expect(zoneStatus(0b0000, 'contact')).toEqual({ contact: true, tamper: false, battery_low: false });
    expect(zoneStatus(0b0010, 'smoke')).toEqual({ smoke: false, tamper: false, battery_low: false }); // alarm2 is not alarm1
    expect(zoneStatus(0b0001, 'climate')).toEqual({ tamper: false, battery_low: false });
    expect(zoneStatus('1', 'smoke')).toEqual({});
  });
});

describe('herdsman-convert: Controller messages', () => {
  it('converts attribute reports and read responses by cluster', () => {
    expect(readingFromMessage(report('msTemperatureMeasurement', { measuredValue: 2150 }), 'climate')).toEqual({ temperature: 21.5 });
    expect(readingFromMessage({ type: 'readResponse', cluster: 'msRelativeHumidity', data: { measuredValue: 4550 } }, 'climate')).toEqual({ humidity: 45.5 });
    expect(readingFromMessage(report('msIlluminanceMeasurement', { measuredValue: 30001 }), 'light')).toEqual({ illuminance: 1000 });
    expect(readingFromMessage(report('genPowerCfg', { batteryPercentageRemaining: 170, batteryVoltage: 29 }), 'climate')).toEqual({ battery: 85, voltage: 2900 });
    expect(readingFromMessage(report('genOnOff', { onOff: 1 }), 'ac')).toEqual({ state: 'ON' });
    expect(readingFromMessage(report('closuresWindowCovering', { currentPositionLiftPercentage: 100 }), 'curtain')).toEqual({ position: 0 });
    expect(readingFromMessage(report('ssIasZone', { zoneStatus: 1 }), 'water')).toEqual({ water_leak: true, tamper: false, battery_low: false });
  });

  it('converts the zone status change notification command', () => {
    const msg = { type: 'commandStatusChangeNotification', cluster: 'ssIasZone', data: { zonestatus: 0b0101, extendedstatus: 0, zoneID: 23, delay: 0 } };
    expect(readingFromMessage(msg, 'smoke')).toEqual({ smoke: true, tamper: true, battery_low: false });
  });

  it('drops invalid values, other clusters, other message types', () => {
    expect(readingFromMessage(report('msTemperatureMeasurement', { measuredValue: -0x8000 }), 'climate')).toEqual({});
    expect(readingFromMessage(report('genPowerCfg', { batteryPercentageRemaining: 0xff, batteryVoltage: 30 }), 'climate')).toEqual({ voltage: 3000 });
    expect(readingFromMessage({ type: 'readResponse', cluster: 'genBasic', data: { modelId: 'x' } }, 'climate')).toEqual({});
    expect(readingFromMessage({ type: 'readResponse', cluster: 'ssIasZone', data: { zoneState: 1, iasCieAddr: '0x00' } }, 'smoke')).toEqual({});
    expect(readingFromMessage({ type: 'raw', cluster: 'msTemperatureMeasurement', data: Buffer.from([1]) }, 'climate')).toEqual({});
    expect(readingFromMessage({ type: 'write', cluster: 'genOnOff', data: { onOff: 1 } }, 'ac')).toEqual({});
  });
});

describe('herdsman-convert: set payloads → ZCL commands', () => {
  it('maps state and position', () => {
    expect(commandFromPayload({ state: 'ON' })).toEqual({ ok: true, command: { cluster: 'genOnOff', command: 'on', payload: {} } });
    expect(commandFromPayload({ state: 'off' })).toEqual({ ok: true, command: { cluster: 'genOnOff', command: 'off', payload: {} } });
    expect(commandFromPayload({ state: 'OPEN' })).toMatchObject({ command: { cluster: 'closuresWindowCovering', command: 'upOpen' } });
    expect(commandFromPayload({ state: 'CLOSE' })).toMatchObject({ command: { cluster: 'closuresWindowCovering', command: 'downClose' } });
    expect(commandFromPayload({ state: 'STOP' })).toMatchObject({ command: { cluster: 'closuresWindowCovering', command: 'stop' } });
    expect(commandFromPayload({ position: 30 })).toEqual({ ok: true, command: { cluster: 'closuresWindowCovering', command: 'goToLiftPercentage', payload: { percentageliftvalue: 70 } } });
  });

  it('maps the server\'s siren warnings to IAS WD Start Warning (ZCL §8.4.2.3.1)', () => {
    // fire (2) << 4 | strobe << 2 | medium (1) = 0x25; stop = 0 with the strobe bit of the default strobe
    expect(commandFromPayload({ warning: { mode: 'fire', strobe: true, duration: 600 } })).toEqual({
      ok: true, command: { cluster: 'ssIasWd', command: 'startWarning', payload: { startwarninginfo: 0x25, warningduration: 600, strobedutycycle: 10, strobelevel: 0 } },
    });
    expect(commandFromPayload({ warning: { mode: 'stop', strobe: false } })).toMatchObject({ command: { payload: { startwarninginfo: 0x01 } } });
    expect(commandFromPayload({ warning: { mode: 'burglar', level: 'very_high', strobe: false, duration: 60 } })).toMatchObject({ command: { payload: { startwarninginfo: 0x13, warningduration: 60 } } });
  });

  it('refuses everything else', () => {
    for (const bad of [null, 'ON', [], {}, { state: 'BLINK' }, { state: 1 }, { position: 101 }, { position: 12.5 }, { position: '50' }, { state: 'ON', position: 50 }, { brightness: 10 }]) {
      const r = commandFromPayload(bad);
      expect(r.ok, JSON.stringify(bad)).toBe(false);
    }
    expect(commandFromPayload({ brightness: 10 })).toEqual({ ok: false, error: "unknown key 'brightness' (known: state, position, warning)" });
    for (const bad of [{ warning: 'fire' }, { warning: { mode: 'disco' } }, { warning: { mode: 'fire', duration: -1 } }, { warning: { mode: 'fire', level: 'loud' } }]) {
      expect(commandFromPayload(bad).ok, JSON.stringify(bad)).toBe(false);
    }
  });

  it('groups zigbee.get keys by cluster', () => {
    const r = readsFromKeys(['temperature', 'battery', 'voltage', 'smoke', 'tamper']);
    expect(r.ok && [...r.reads]).toEqual([
      ['msTemperatureMeasurement', ['measuredValue']], ['genPowerCfg', ['batteryPercentageRemaining', 'batteryVoltage']], ['ssIasZone', ['zoneStatus']],
    ]);
    expect(readsFromKeys(['colour']).ok).toBe(false);
    expect(readsFromKeys([]).ok).toBe(false);
  });
});
