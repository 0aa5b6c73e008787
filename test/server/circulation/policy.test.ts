import { afterEach, describe, expect, it } from 'vitest';
import { deletePolicyRule, listPolicyRules, PolicyBook, upsertPolicyRule } from '../../../server/circulation/policy.js';
import { closeLibraries, openLibrary, policyDefaults, type Library } from './library.js';

let lib: Library;
afterEach(closeLibraries);

describe('policy resolution', () => {
  it('gives the default rule to a branch, category and item type that no other rule names', () => {
    lib = openLibrary();
    expect(lib.circ.policyFor('main', 'faculty', 'book')).toEqual(policyDefaults);
  });

  it('takes each field from the most specific rule that sets it: branch, then category, then item type', () => {
    lib = openLibrary();
    // Every rule sets loanDays; the weight of its key decides which one wins.
    lib.rule({ itemType: 'dvd', loanDays: 7 });                                   // weight 1
    lib.rule({ patronCategory: 'faculty', loanDays: 90 });                        // weight 2
    lib.rule({ patronCategory: 'faculty', itemType: 'dvd', loanDays: 14 });       // weight 3
    lib.rule({ branchId: 'east', loanDays: 21 });                                 // weight 4
    lib.rule({ branchId: 'east', itemType: 'dvd', loanDays: 3 });                 // weight 5
    lib.rule({ branchId: 'east', patronCategory: 'faculty', loanDays: 60 });      // weight 6
    const days = (b: string, c: string, t: string) => lib.circ.policyFor(b, c, t).loanDays;

    expect(days('main', 'undergraduate', 'book')).toBe(28);
    expect(days('main', 'undergraduate', 'dvd')).toBe(7);
    expect(days('main', 'faculty', 'book')).toBe(90);   // category beats item type …
    expect(days('main', 'faculty', 'dvd')).toBe(14);    // … and both beat either
    expect(days('east', 'undergraduate', 'book')).toBe(21);
    expect(days('east', 'faculty', 'book')).toBe(60);   // branch × category beats branch × type
    expect(days('east', 'undergraduate', 'dvd')).toBe(3);
    expect(days('east', 'faculty', 'dvd')).toBe(60);    // branch × category (6) beats branch × type (5)
    expect(days('west', 'faculty', 'dvd')).toBe(14);    // a branch no rule names falls back to the wildcard rules
  });

  it('falls back field by field: a specific rule that sets one field leaves the others to less specific rules', () => {
    lib = openLibrary();
    lib.rule({ patronCategory: 'faculty', maxLoans: 50, renewals: 5 });
    lib.rule({ branchId: 'main', patronCategory: 'faculty', loanDays: 120 });
    lib.rule({ itemType: 'dvd', loanDays: 7, finePerDayCents: 100 });

    const p = lib.circ.policyFor('main', 'faculty', 'dvd');
    expect(p.loanDays).toBe(120);           // main × faculty × *
    expect(p.maxLoans).toBe(50);            // * × faculty × *
    expect(p.renewals).toBe(5);             // * × faculty × *
    expect(p.finePerDayCents).toBe(100);    // * × * × dvd
    expect(p.renewalDays).toBe(28);         // * × * × *
    expect(p).toEqual({ ...policyDefaults, loanDays: 120, maxLoans: 50, renewals: 5, finePerDayCents: 100 });
  });

  it('lets a more specific rule clear a field back to "not set" so the next rule decides', () => {
    lib = openLibrary();
    lib.rule({ patronCategory: 'faculty', loanDays: 90 });
    lib.rule({ patronCategory: 'faculty', loanDays: null, maxLoans: 3 });
    expect(lib.circ.policyFor('main', 'faculty', 'book')).toMatchObject({ loanDays: 28, maxLoans: 3 });
  });

  it('reads boolean fields as booleans', () => {
    lib = openLibrary();
    lib.rule({ itemType: 'reference', inLibraryOnly: true, holdsAllowed: false });
    expect(lib.circ.policyFor('main', 'public', 'reference')).toMatchObject({ inLibraryOnly: true, holdsAllowed: false });
    expect(lib.circ.policyFor('main', 'public', 'book')).toMatchObject({ inLibraryOnly: false, holdsAllowed: true });
  });

  it('refuses to leave the default rule incomplete', () => {
    lib = openLibrary();
    expect(() => upsertPolicyRule(lib.db, { loanDays: 14 }))
      .toThrow(expect.objectContaining({ code: 'DEFAULT_POLICY_INCOMPLETE', message: expect.stringContaining('maxLoans') }));
    expect(() => upsertPolicyRule(lib.db, { ...policyDefaults, lostFeeCents: null })).toThrow(/lostFeeCents/);
    // Nothing changed.
    expect(PolicyBook.load(lib.db).resolve('main', 'x', 'y')).toEqual(policyDefaults);

    // A complete default may replace the old one.
    upsertPolicyRule(lib.db, { ...policyDefaults, loanDays: 21 });
    expect(PolicyBook.load(lib.db).resolve('main', 'x', 'y').loanDays).toBe(21);
  });

  it('refuses to delete the default rule, and deletes any other', () => {
    lib = openLibrary();
    const faculty = lib.rule({ patronCategory: 'faculty', loanDays: 90 });
    const def = listPolicyRules(lib.db).find((r) => r.branchId === '*' && r.patronCategory === '*' && r.itemType === '*')!;
    expect(() => deletePolicyRule(lib.db, def.id)).toThrow(expect.objectContaining({ code: 'DEFAULT_POLICY_REQUIRED' }));
    expect(listPolicyRules(lib.db)).toHaveLength(2);

    deletePolicyRule(lib.db, faculty.id);
    expect(listPolicyRules(lib.db)).toHaveLength(1);
    expect(PolicyBook.load(lib.db).resolve('main', 'faculty', 'book').loanDays).toBe(28);
  });

  it('refuses a rule for a branch that does not exist', () => {
    lib = openLibrary();
    expect(() => upsertPolicyRule(lib.db, { branchId: 'nowhere', loanDays: 1 })).toThrow(expect.objectContaining({ code: 'BRANCH_NOT_FOUND' }));
    expect(listPolicyRules(lib.db)).toHaveLength(1);
  });

  it('replaces the rule with the same key instead of adding a second', () => {
    lib = openLibrary();
    lib.rule({ patronCategory: 'faculty', loanDays: 90 });
    lib.rule({ patronCategory: 'faculty', loanDays: 60 });
    expect(listPolicyRules(lib.db)).toHaveLength(2);
    expect(lib.circ.policyFor('main', 'faculty', 'book').loanDays).toBe(60);
  });
});
