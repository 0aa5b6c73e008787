import { afterEach, describe, expect, it } from 'vitest';
import { KIOSK, SIP_MONDAY_10H, openSip2Library, type Sip2Library } from './helpers.js';

let lib: Sip2Library | undefined;
afterEach(async () => {
  await lib?.close();
  lib = undefined;
});

// The group commit itself is tested with the circulation core (test/server/circulation/group-commit.test.ts).
describe('SIP2 group commit', () => {
  it('lends to many terminals at once, each loan written and answered', async () => {
    lib = await openSip2Library();
    const pairs = Array.from({ length: 20 }, () => ({ p: lib!.patron(), b: lib!.book() }));
    const clients = await Promise.all(pairs.map(() => lib!.client(KIOSK)));
    const answers = await Promise.all(clients.map((c, i) =>
      c.send(`11YN${SIP_MONDAY_10H}${' '.repeat(18)}AOSHELF|AA${pairs[i]!.p.cardNumber}|AB${pairs[i]!.b.barcode}|`)));
    expect(answers.map((a) => a.slice(0, 6))).toEqual(Array(20).fill('121NNY'));
    expect(lib.db.prepare('SELECT count(*) AS n FROM loan WHERE closed_at IS NULL').get()).toEqual({ n: 20 });
  });
});
