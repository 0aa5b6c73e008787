import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { CHARSETS } from './charset.js';

const FieldId = z.string().regex(/^[A-Z]{2}$/, 'a two-letter SIP2 field id');
const ItemCondition = {
  /** Where checkin sends the item: back to the shelf, to the hold shelf here, or into transit. */
  action: z.enum(['reshelve', 'hold_shelf', 'transit']).optional(),
  itemType: z.string().optional(),
  location: z.string().optional(),
  /** The branch the item travels to (transit only). */
  destination: z.string().optional(),
};

/** One SIP2 login: who may connect, for which branch, and how its kiosk or sorter wants to be spoken to. */
export const Sip2AccountSchema = z.object({
  login: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
  /** AO: the institution id the SC sends and gets back. */
  institutionId: z.string().min(1).max(64),
  /** The branch this login belongs to: checkouts, returns, holds and sort bins are decided for it. */
  branchId: z.string().min(1),
  /** AN in the ACS status: where the terminal stands. */
  terminalLocation: z.string().max(100).optional(),
  /** Response terminator: CR (SIP2 2.00) or CRLF for clients that want it. Requests may end in either. */
  terminator: z.enum(['CR', 'CRLF']).default('CR'),
  charset: z.enum(CHARSETS).default('utf-8'),
  delimiter: z.string().length(1).regex(/^[^A-Za-z0-9\r\n]$/, 'one character that is not a letter, digit, CR or LF').default('|'),
  /**
   * Error detection (AY sequence, AZ checksum). `auto`: checked when a request carries it and sent back
   * then; `true`: also always sent; `false`: neither checked nor sent.
   */
  errorDetection: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  /** Checkin of an item that was not on loan answers ok (1) instead of 0 (Koha's checked_in_ok). */
  checkedInOk: z.boolean().default(false),
  /** An item with a hold is refused at checkin (ok 0) so it is brought to the desk (Koha's holds_block_checkin). */
  holdsBlockCheckin: z.boolean().default(false),
  /** Patron categories and item types lent for in-library use: checked out, never desensitised. */
  inLibraryUse: z.object({
    patronCategories: z.array(z.string()).default([]),
    itemTypes: z.array(z.string()).default([]),
  }).default({ patronCategories: [], itemTypes: [] }),
  /** Item types reported as magnetic media (the SC must not use a strong field on them). */
  magneticItemTypes: z.array(z.string()).default([]),
  /** SIP2 media type (CK) per item type; others are 001 (book). */
  mediaTypes: z.record(z.string(), z.string().regex(/^\d{3}$/)).default({}),
  /** Sort bin (CL) at checkin: the first rule whose conditions all hold gives the bin. */
  sortBins: z.array(z.object({ bin: z.string().min(1).max(32), ...ItemCondition })).default([]),
  /** Field ids never sent to this account (for example DA, the name of the patron a hold is for). */
  hiddenFields: z.array(FieldId).default([]),
  /** Send e-mail, phone and birth date in patron information (64); off unless the kiosk needs them. */
  patronDetails: z.boolean().default(false),
  /** Screen messages when the request's language is unknown (000). UTF-8 accounts only can show Chinese. */
  language: z.enum(['en', 'zh']).default('en'),
  /** ACS status: timeout period in tenths of seconds and retries allowed (000–999). */
  timeoutPeriod: z.number().int().min(0).max(999).default(100),
  retriesAllowed: z.number().int().min(0).max(999).default(5),
  /** Offline (no-block) transactions older than this are applied as of now instead of their own date. */
  offlineMaxAgeDays: z.number().int().min(0).max(3650).default(30),
});
export type Sip2Account = z.input<typeof Sip2AccountSchema>;
export type Sip2AccountConfig = z.output<typeof Sip2AccountSchema>;

export interface ResolvedAccount extends Sip2AccountConfig {
  hidden: ReadonlySet<string>;
  terminatorBytes: Buffer;
  actor: string;
  checkPassword(password: string): boolean;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function resolveAccounts(accounts: readonly Sip2Account[]): ResolvedAccount[] {
  const seen = new Set<string>();
  return accounts.map((input, i) => {
    const parsed = Sip2AccountSchema.safeParse(input);
    if (!parsed.success) {
      throw new Error(`sip2.accounts[${i}]: ${parsed.error.issues.map((x) => `${x.path.join('.') || '(account)'}: ${x.message}`).join('; ')}`);
    }
    const a = parsed.data;
    if (seen.has(a.login)) throw new Error(`sip2.accounts[${i}]: login "${a.login}" is configured twice`);
    seen.add(a.login);
    const expected = digest(a.password);
    return {
      ...a,
      hidden: new Set(a.hiddenFields),
      terminatorBytes: Buffer.from(a.terminator === 'CRLF' ? '\r\n' : '\r', 'latin1'),
      actor: `sip2:${a.login}`,
      checkPassword: (password: string) => timingSafeEqual(digest(password), expected),
    };
  });
}
