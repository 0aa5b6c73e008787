import { afterEach, describe, expect, it } from 'vitest';
import { KIOSK, openSip2Library, type Sip2Library } from './helpers.js';
import { runFuzz, validMessages } from './fuzz.js';

let lib: Sip2Library;
afterEach(async () => { await lib?.close(); });

describe('SIP2 fuzzing', () => {
  it('survives 30,000 random and mutated messages and keeps answering valid ones', async () => {
    lib = await openSip2Library({ accounts: [{ ...KIOSK, errorDetection: 'auto' }], server: { maxLineBytes: 4096 } });
    const p = lib.patron();
    const b = lib.book();
    const seed = Number(process.env.SIP2_FUZZ_SEED ?? 20260302);
    const result = await runFuzz({ port: lib.server.port, account: KIOSK, count: 30_000, seed, valid: validMessages(p.cardNumber, b.barcode) });
    expect(result.probes).toBe(120);
    const stats = lib.server.stats();
    expect(stats.internalErrors, lib.logs.join('\n')).toBe(0);
    expect(stats.messages).toBeGreaterThan(30_000);
    expect(stats.malformed + stats.checksumErrors).toBeGreaterThan(1_000); // the inputs did reach the parser and the checksum check
  }, 120_000);
});
