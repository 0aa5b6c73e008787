import { afterEach, describe, expect, it } from 'vitest';
import type { OpContext, Result } from '../../../server/circulation/circulation.js';
import { REASONS, type ReasonCode } from '../../../server/circulation/reasons.js';
import { closeLibraries, DAY, desk, expectRefused, granted, openLibrary, type Library } from './library.js';

let lib: Library;
afterEach(closeLibraries);

/** The context every refused operation below runs in; setup runs at the desk. */
const sip2: OpContext = { channel: 'sip2', branchId: 'main', actor: 'sip2-login-7' };

interface Case {
  when: string;
  op: string;
  ctx?: OpContext;
  /** Builds the state through the core, then returns the operation to refuse and the event columns to expect. */
  given(lib: Library, ctx: OpContext): { act: () => Result<unknown>; event?: Record<string, unknown> };
}

/** Checks out a fresh book to a fresh patron at the desk. */
function lent(l: Library) {
  const patron = l.patron();
  const item = l.book();
  granted(l.circ.checkout({ patronId: patron.id }, { itemId: item.id }, desk));
  return { patron, item };
}

// Typed by every code in reasons.ts: a new code does not compile until it has a case here.
const cases: Record<ReasonCode, Case[]> = {
  PATRON_NOT_FOUND: [{
    when: 'checking out with an unknown card', op: 'checkout',
    given: (l, ctx) => {
      const book = l.book();
      return { act: () => l.circ.checkout({ cardNumber: 'NO-SUCH-CARD' }, { itemId: book.id }, ctx), event: { patron_id: null } };
    },
  }, {
    when: 'cancelling a hold for an unknown card tag', op: 'cancel_hold',
    given: (l, ctx) => {
      const hold = granted(l.circ.placeHold({ patronId: l.patron().id }, l.book().recordId, 'main', desk)).hold;
      return { act: () => l.circ.cancelHold(hold.id, ctx, { cardTagUid: 'E0040150DEADBEEF' }) };
    },
  }],
  ITEM_NOT_FOUND: [{
    when: 'checking out an unknown barcode', op: 'checkout',
    given: (l, ctx) => {
      const p = l.patron();
      return { act: () => l.circ.checkout({ patronId: p.id }, { barcode: 'NO-SUCH-ITEM' }, ctx), event: { patron_id: p.id, item_id: null } };
    },
  }, {
    when: 'checking in an unknown tag', op: 'checkin',
    given: (l, ctx) => ({ act: () => l.circ.checkin({ tagUid: 'E004015000000000' }, ctx) }),
  }, {
    when: 'marking an unknown item lost', op: 'mark_lost',
    given: (l, ctx) => ({ act: () => l.circ.markLost({ itemId: 424242 }, ctx) }),
  }],
  RECORD_NOT_FOUND: [{
    when: 'placing a hold on an unknown record', op: 'place_hold',
    given: (l, ctx) => {
      const reader = l.patron();
      return { act: () => l.circ.placeHold({ patronId: reader.id }, 424242, 'main', ctx) };
    },
  }],
  BRANCH_NOT_FOUND: [{
    when: 'placing a hold for pickup at an unknown branch', op: 'place_hold',
    given: (l, ctx) => {
      const reader = l.patron();
      const book = l.book();
      return { act: () => l.circ.placeHold({ patronId: reader.id }, book.recordId, 'nowhere', ctx) };
    },
  }, {
    when: 'checking out at an unknown branch', op: 'checkout', ctx: { ...sip2, branchId: 'nowhere' },
    given: (l, ctx) => {
      const reader = l.patron();
      const book = l.book();
      return { act: () => l.circ.checkout({ patronId: reader.id }, { itemId: book.id }, ctx), event: { branch_id: 'nowhere' } };
    },
  }, {
    when: 'checking in at an unknown branch', op: 'checkin', ctx: { ...sip2, branchId: 'nowhere' },
    given: (l, ctx) => {
      const { item } = lent(l);
      return { act: () => l.circ.checkin({ itemId: item.id }, ctx), event: { branch_id: 'nowhere' } };
    },
  }],
  CARD_EXPIRED: [{
    when: 'checking out on a card that expired yesterday (library-local date)', op: 'checkout',
    given: (l, ctx) => {
      const p = l.patron({ expiryDate: '2026-03-01' });
      const item = l.book();
      return { act: () => l.circ.checkout({ patronId: p.id }, { itemId: item.id }, ctx), event: { patron_id: p.id, item_id: item.id } };
    },
  }],
  CARD_LOST: [{
    when: 'checking out on a card reported lost', op: 'checkout',
    given: (l, ctx) => {
      const p = l.patron({ cardLost: true });
      const book = l.book();
      return { act: () => l.circ.checkout({ cardNumber: p.cardNumber }, { itemId: book.id }, ctx) };
    },
  }],
  PATRON_BLOCKED: [{
    when: 'checking out on a manually blocked account', op: 'checkout',
    given: (l, ctx) => {
      const p = l.patron({ blockedReason: 'returned books damaged' });
      const book = l.book();
      return { act: () => l.circ.checkout({ patronId: p.id }, { itemId: book.id }, ctx) };
    },
  }, {
    when: 'placing a hold on a manually blocked account', op: 'place_hold',
    given: (l, ctx) => {
      const p = l.patron({ blockedReason: 'returned books damaged' });
      const book = l.book();
      return { act: () => l.circ.placeHold({ patronId: p.id }, book.recordId, 'main', ctx) };
    },
  }],
  MAX_LOANS_REACHED: [{
    when: 'checking out one more than the category may have', op: 'checkout',
    given: (l, ctx) => {
      l.rule({ patronCategory: 'undergraduate', maxLoans: 1 });
      const { patron } = lent(l);
      const book = l.book();
      return { act: () => l.circ.checkout({ patronId: patron.id }, { itemId: book.id }, ctx) };
    },
  }],
  TOO_MANY_OVERDUE: [{
    when: 'checking out with an overdue item when one already blocks', op: 'checkout',
    given: (l, ctx) => {
      l.rule({ patronCategory: 'undergraduate', loanDays: 1, blockOverdueItems: 1 });
      const { patron } = lent(l);
      l.clock.advance(3 * DAY);
      const book = l.book();
      return { act: () => l.circ.checkout({ patronId: patron.id }, { itemId: book.id }, ctx) };
    },
  }],
  FINES_OVER_LIMIT: [{
    when: 'checking out while owing a replacement fee over the limit', op: 'checkout',
    given: (l, ctx) => {
      const { patron, item } = lent(l);
      granted(l.circ.markLost({ itemId: item.id }, desk)); // 5000 ≥ the 1000 limit
      const book = l.book();
      return { act: () => l.circ.checkout({ patronId: patron.id }, { itemId: book.id }, ctx) };
    },
  }],
  ITEM_ON_LOAN: [{
    when: 'checking out an item on loan to someone else', op: 'checkout',
    given: (l, ctx) => {
      const { item } = lent(l);
      const other = l.patron();
      return { act: () => l.circ.checkout({ patronId: other.id }, { barcode: item.barcode }, ctx), event: { patron_id: other.id, item_id: item.id } };
    },
  }],
  ITEM_ON_HOLD_FOR_OTHER: [{
    when: 'checking out an item waiting on the hold shelf for someone else', op: 'checkout',
    given: (l, ctx) => {
      const item = l.book();
      granted(l.circ.placeHold({ patronId: l.patron().id }, item.recordId, 'main', desk));
      expect(granted(l.circ.checkin({ itemId: item.id }, desk)).disposition.action).toBe('hold_shelf');
      const reader = l.patron();
      return { act: () => l.circ.checkout({ patronId: reader.id }, { itemId: item.id }, ctx) };
    },
  }],
  ITEM_NOT_AVAILABLE: [{
    when: 'checking out a withdrawn item', op: 'checkout',
    given: (l, ctx) => {
      const reader = l.patron();
      const book = l.book({ status: 'withdrawn' });
      return { act: () => l.circ.checkout({ patronId: reader.id }, { itemId: book.id }, ctx) };
    },
  }, {
    when: 'checking out an item marked lost', op: 'checkout',
    given: (l, ctx) => {
      const item = l.book();
      granted(l.circ.markLost({ itemId: item.id }, desk));
      const reader = l.patron();
      return { act: () => l.circ.checkout({ patronId: reader.id }, { itemId: item.id }, ctx) };
    },
  }],
  IN_LIBRARY_USE_ONLY: [{
    when: 'checking out a reference item', op: 'checkout',
    given: (l, ctx) => {
      l.rule({ itemType: 'reference', inLibraryOnly: true });
      const reader = l.patron();
      const book = l.book({ itemType: 'reference' });
      return { act: () => l.circ.checkout({ patronId: reader.id }, { itemId: book.id }, ctx) };
    },
  }],
  ITEM_NOT_ON_LOAN: [{
    when: 'renewing an item on the shelf', op: 'renew',
    given: (l, ctx) => {
      const reader = l.patron();
      const book = l.book();
      return { act: () => l.circ.renew({ patronId: reader.id }, { itemId: book.id }, ctx) };
    },
  }],
  NOT_LOANED_TO_PATRON: [{
    when: "renewing someone else's loan", op: 'renew',
    given: (l, ctx) => {
      const { item } = lent(l);
      const reader = l.patron();
      return { act: () => l.circ.renew({ patronId: reader.id }, { itemId: item.id }, ctx) };
    },
  }],
  RENEWAL_LIMIT: [{
    when: 'renewing once more than the policy allows', op: 'renew',
    given: (l, ctx) => {
      l.rule({ patronCategory: 'undergraduate', renewals: 1 });
      const { patron, item } = lent(l);
      granted(l.circ.renew({ patronId: patron.id }, { itemId: item.id }, desk));
      return { act: () => l.circ.renew({ patronId: patron.id }, { itemId: item.id }, ctx) };
    },
  }, {
    when: 'checking out again (a renewal) once more than the policy allows', op: 'checkout',
    given: (l, ctx) => {
      l.rule({ patronCategory: 'undergraduate', renewals: 0 });
      const { patron, item } = lent(l);
      return { act: () => l.circ.checkout({ patronId: patron.id }, { itemId: item.id }, ctx) };
    },
  }],
  ITEM_HAS_HOLDS: [{
    when: 'renewing a title another reader is waiting for', op: 'renew',
    given: (l, ctx) => {
      const { patron, item } = lent(l);
      granted(l.circ.placeHold({ patronId: l.patron().id }, item.recordId, 'main', desk));
      return { act: () => l.circ.renew({ patronId: patron.id }, { itemId: item.id }, ctx) };
    },
  }],
  HOLDS_NOT_ALLOWED: [{
    when: 'placing a hold where the policy allows none', op: 'place_hold',
    given: (l, ctx) => {
      l.rule({ patronCategory: 'public', holdsAllowed: false });
      const reader = l.patron({ category: 'public' });
      const book = l.book();
      return { act: () => l.circ.placeHold({ patronId: reader.id }, book.recordId, 'main', ctx) };
    },
  }],
  MAX_HOLDS_REACHED: [{
    when: 'placing one hold more than allowed', op: 'place_hold',
    given: (l, ctx) => {
      l.rule({ patronCategory: 'undergraduate', maxHolds: 1 });
      const p = l.patron();
      granted(l.circ.placeHold({ patronId: p.id }, l.book().recordId, 'main', desk));
      const book = l.book();
      return { act: () => l.circ.placeHold({ patronId: p.id }, book.recordId, 'main', ctx) };
    },
  }],
  HOLD_ALREADY_PLACED: [{
    when: 'placing a second hold on the same title', op: 'place_hold',
    given: (l, ctx) => {
      const p = l.patron();
      const recordId = l.book().recordId;
      granted(l.circ.placeHold({ patronId: p.id }, recordId, 'main', desk));
      return { act: () => l.circ.placeHold({ patronId: p.id }, recordId, 'east', ctx) };
    },
  }],
  ALREADY_ON_LOAN_TO_PATRON: [{
    when: 'placing a hold on a title the patron has on loan', op: 'place_hold',
    given: (l, ctx) => {
      const { patron, item } = lent(l);
      l.item(item.recordId); // a second copy, so the title is holdable
      return { act: () => l.circ.placeHold({ patronId: patron.id }, item.recordId, 'main', ctx) };
    },
  }],
  RECORD_NOT_HOLDABLE: [{
    when: 'placing a hold on a title whose only copy is withdrawn', op: 'place_hold',
    given: (l, ctx) => {
      const reader = l.patron();
      const book = l.book({ status: 'withdrawn' });
      return { act: () => l.circ.placeHold({ patronId: reader.id }, book.recordId, 'main', ctx) };
    },
  }, {
    when: 'placing a hold on a title without copies', op: 'place_hold',
    given: (l, ctx) => {
      const reader = l.patron();
      const recordId = l.record();
      return { act: () => l.circ.placeHold({ patronId: reader.id }, recordId, 'main', ctx) };
    },
  }],
  HOLD_NOT_FOUND: [{
    when: 'cancelling an unknown hold', op: 'cancel_hold',
    given: (l, ctx) => ({ act: () => l.circ.cancelHold(424242, ctx) }),
  }, {
    when: "a patron cancelling someone else's hold", op: 'cancel_hold', ctx: { channel: 'opac', branchId: 'main', actor: 'patron' },
    given: (l, ctx) => {
      const hold = granted(l.circ.placeHold({ patronId: l.patron().id }, l.book().recordId, 'main', desk)).hold;
      const intruder = l.patron();
      return { act: () => l.circ.cancelHold(hold.id, ctx, { patronId: intruder.id }), event: { patron_id: intruder.id } };
    },
  }],
  HOLD_NOT_ACTIVE: [{
    when: 'cancelling a cancelled hold', op: 'cancel_hold',
    given: (l, ctx) => {
      const hold = granted(l.circ.placeHold({ patronId: l.patron().id }, l.book().recordId, 'main', desk)).hold;
      granted(l.circ.cancelHold(hold.id, desk));
      return { act: () => l.circ.cancelHold(hold.id, ctx) };
    },
  }],
  HOLD_ALREADY_TRAPPED: [{
    when: 'moving the pickup branch of a hold whose item waits on the hold shelf', op: 'change_hold',
    given: (l, ctx) => {
      const book = l.book();
      const hold = granted(l.circ.placeHold({ patronId: l.patron().id }, book.recordId, 'main', desk)).hold;
      granted(l.circ.checkin({ itemId: book.id }, desk));
      return { act: () => l.circ.changeHold(hold.id, { pickupBranch: 'east' }, ctx) };
    },
  }],
  NO_BALANCE: [{
    when: 'paying without owing anything', op: 'pay_fee',
    given: (l, ctx) => {
      const reader = l.patron();
      return { act: () => l.circ.payFee({ patronId: reader.id }, 100, ctx) };
    },
  }],
  PAYMENT_EXCEEDS_BALANCE: [{
    when: 'paying more than the balance', op: 'pay_fee',
    given: (l, ctx) => {
      const { patron, item } = lent(l);
      granted(l.circ.markLost({ itemId: item.id }, desk));
      return { act: () => l.circ.payFee({ patronId: patron.id }, 5001, ctx) };
    },
  }],
  PAYMENT_INVALID: [0, -100, 12.5, Number.NaN].map((amount) => ({
    when: `paying ${amount} cents`, op: 'pay_fee',
    given: (l: Library, ctx: OpContext) => {
      const { patron, item } = lent(l);
      granted(l.circ.markLost({ itemId: item.id }, desk));
      return { act: () => l.circ.payFee({ patronId: patron.id }, amount, ctx) };
    },
  })),
  TXN_ID_REUSED: [{
    when: "checking in with a checkout's transaction id", op: 'checkin', ctx: { ...sip2, txnId: 'sip2-0001' },
    given: (l, ctx) => {
      const p = l.patron();
      const item = l.book();
      granted(l.circ.checkout({ patronId: p.id }, { itemId: item.id }, { ...desk, txnId: 'sip2-0001' }));
      return { act: () => l.circ.checkin({ itemId: item.id }, ctx) };
    },
  }],
};

describe('every refusal', () => {
  for (const [code, list] of Object.entries(cases) as [ReasonCode, Case[]][]) {
    for (const c of list) {
      it(`${code} when ${c.when}: exact code, both languages, nothing changed, logged as refused`, () => {
        lib = openLibrary();
        const ctx = c.ctx ?? sip2;
        const { act, event } = c.given(lib, ctx);
        const before = lib.snapshot();
        const logged = lib.events().length;

        const r = act();

        expectRefused(r, code);
        expect(lib.snapshot()).toEqual(before);
        const events = lib.events();
        expect(events).toHaveLength(logged + 1);
        expect(events.at(-1)).toMatchObject({
          op: c.op, outcome: 'refused', reason: code, channel: ctx.channel, actor: ctx.actor, branch_id: ctx.branchId,
          loan_id: null, ts: lib.clock.now().toISOString(), ...event,
        });
      });
    }
  }

  it('has English and Chinese words for every code', () => {
    for (const [code, m] of Object.entries(REASONS)) {
      expect(m.en, code).toMatch(/\S/);
      expect(m.zh, code).toMatch(/[\u4e00-\u9fff]/);
    }
  });

  it('refuses a patron with several blocks by the first, listing them all', () => {
    lib = openLibrary();
    const p = lib.patron({ cardLost: true, expiryDate: '2025-01-01' });
    const r = lib.circ.checkout({ patronId: p.id }, { itemId: lib.book().id }, desk);
    expectRefused(r, 'CARD_LOST');
    expect(!r.ok && r.detail).toEqual({ blocks: ['CARD_LOST', 'CARD_EXPIRED'] });
  });

  it('lends on the last day of a card (expiry is inclusive)', () => {
    lib = openLibrary();
    const p = lib.patron({ expiryDate: '2026-03-02' });
    granted(lib.circ.checkout({ patronId: p.id }, { itemId: lib.book().id }, desk));
  });
});
