import { DATE_LENGTH, parseSipDate } from './fields.js';

// SIP2 2.00 requests (SC → ACS): each message code, its fixed part in order (name and length, or a
// 18-character date, or a one-character Y/N flag), and the variable fields it reads by id. Variable
// fields may come in any order; unknown ids are ignored; the first of a repeated id wins.

type FixedKind = number | 'date' | 'flag';
interface RequestSpec { readonly fixed: readonly (readonly [string, FixedKind])[]; readonly fields: Readonly<Record<string, string>> }

const TERMINAL = { AO: 'institutionId', AC: 'terminalPassword' } as const;
const PATRON = { AA: 'patronIdentifier', AD: 'patronPassword' } as const;

export const REQUESTS = {
  // Login: UID algorithm, PWD algorithm; CN login user id, CO login password, CP location code.
  '93': { fixed: [['uidAlgorithm', 1], ['pwdAlgorithm', 1]], fields: { CN: 'loginUserId', CO: 'loginPassword', CP: 'locationCode' } },
  // SC Status: status code, max print width, protocol version.
  '99': { fixed: [['statusCode', 1], ['maxPrintWidth', 3], ['protocolVersion', 4]], fields: {} },
  // Request ACS Resend: no fields (and never a sequence number).
  '97': { fixed: [], fields: {} },
  '23': { fixed: [['language', 3], ['transactionDate', 'date']], fields: { ...TERMINAL, ...PATRON } },
  // Patron Information: summary is 10 characters; positions 0–5 pick one item list.
  '63': { fixed: [['language', 3], ['transactionDate', 'date'], ['summary', 10]], fields: { ...TERMINAL, ...PATRON, BP: 'startItem', BQ: 'endItem' } },
  '11': {
    fixed: [['scRenewalPolicy', 'flag'], ['noBlock', 'flag'], ['transactionDate', 'date'], ['nbDueDate', 'date']],
    fields: { ...TERMINAL, ...PATRON, AB: 'itemIdentifier', CH: 'itemProperties', BO: 'feeAcknowledged', BI: 'cancel' },
  },
  '09': {
    fixed: [['noBlock', 'flag'], ['transactionDate', 'date'], ['returnDate', 'date']],
    fields: { ...TERMINAL, AP: 'currentLocation', AB: 'itemIdentifier', CH: 'itemProperties', BI: 'cancel' },
  },
  '17': { fixed: [['transactionDate', 'date']], fields: { ...TERMINAL, AB: 'itemIdentifier' } },
  '29': {
    fixed: [['thirdPartyAllowed', 'flag'], ['noBlock', 'flag'], ['transactionDate', 'date'], ['nbDueDate', 'date']],
    fields: { ...TERMINAL, ...PATRON, AB: 'itemIdentifier', AJ: 'titleIdentifier', CH: 'itemProperties', BO: 'feeAcknowledged' },
  },
  '65': { fixed: [['transactionDate', 'date']], fields: { ...TERMINAL, ...PATRON, BO: 'feeAcknowledged' } },
  '35': { fixed: [['transactionDate', 'date']], fields: { ...TERMINAL, ...PATRON } },
  '37': {
    fixed: [['transactionDate', 'date'], ['feeType', 2], ['paymentType', 2], ['currencyType', 3]],
    fields: { ...TERMINAL, ...PATRON, BV: 'feeAmount', CG: 'feeIdentifier', BK: 'transactionId' },
  },
  // Hold: mode '+' add, '-' delete, '*' change.
  '15': {
    fixed: [['holdMode', 1], ['transactionDate', 'date']],
    fields: { ...TERMINAL, ...PATRON, BW: 'expirationDate', BS: 'pickupLocation', BY: 'holdType', AB: 'itemIdentifier', AJ: 'titleIdentifier', BO: 'feeAcknowledged' },
  },
  '19': { fixed: [['transactionDate', 'date']], fields: { ...TERMINAL, AB: 'itemIdentifier', CH: 'itemProperties' } },
  '25': { fixed: [['transactionDate', 'date']], fields: { ...TERMINAL, ...PATRON } },
  '01': { fixed: [['cardRetained', 'flag'], ['transactionDate', 'date']], fields: { ...TERMINAL, AL: 'blockedCardMessage', AA: 'patronIdentifier' } },
} as const satisfies Record<string, RequestSpec>;

export type RequestCode = keyof typeof REQUESTS;
type FixedValue<K> = K extends 'date' ? Date | null : K extends 'flag' ? boolean : string;
type RequestOf<C extends RequestCode, S extends RequestSpec = (typeof REQUESTS)[C]> =
  { code: C }
  & { [E in S['fixed'][number] as E[0]]: FixedValue<E[1]> }
  & { [F in keyof S['fields'] as S['fields'][F]]?: string };

/** A parsed request: its code, its fixed fields typed, its variable fields by name. */
export type Sip2Request = { [C in RequestCode]: RequestOf<C> }[RequestCode];
export type RequestFor<C extends RequestCode> = Extract<Sip2Request, { code: C }>;

const kindLength = (k: FixedKind) => (k === 'date' ? DATE_LENGTH : k === 'flag' ? 1 : k);

export const isRequestCode = (code: string): code is RequestCode => Object.hasOwn(REQUESTS, code);

/** Characters before the first variable field of a request (message code included); null for an unknown code. */
export function fixedLength(code: string): number | null {
  if (!isRequestCode(code)) return null;
  return 2 + (REQUESTS[code].fixed as readonly (readonly [string, FixedKind])[]).reduce((n, [, k]) => n + kindLength(k), 0);
}

export type ParseResult = { ok: true; request: Sip2Request } | { ok: false; error: 'unknown_message' | 'fixed_part_too_short' };

/** Parses one message (decoded, without terminator or error-detection trailer). */
export function parseRequest(text: string, opts: { delimiter: string; timeZone: string }): ParseResult {
  const code = text.slice(0, 2);
  if (!isRequestCode(code)) return { ok: false, error: 'unknown_message' };
  const spec: RequestSpec = REQUESTS[code];
  const out: Record<string, unknown> = { code };
  let at = 2;
  for (const [name, kind] of spec.fixed) {
    const len = kindLength(kind);
    if (at + len > text.length) return { ok: false, error: 'fixed_part_too_short' };
    const raw = text.slice(at, at + len);
    out[name] = kind === 'date' ? parseSipDate(raw, opts.timeZone) : kind === 'flag' ? raw === 'Y' : raw;
    at += len;
  }
  for (const part of text.slice(at).split(opts.delimiter)) {
    if (part.length < 2) continue;
    const name = spec.fields[part.slice(0, 2)];
    if (name !== undefined && out[name] === undefined) out[name] = part.slice(2);
  }
  return { ok: true, request: out as Sip2Request };
}
