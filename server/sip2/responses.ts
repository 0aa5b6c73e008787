import { count, sipDate } from './fields.js';

// SIP2 2.00 responses (ACS → SC): each message code, its fixed part in the spec's order and lengths,
// and its variable fields in the order we send them. Fixed kinds: `bit` 1/0, `yn` Y/N, `ynu` Y/N/U
// (null = unknown), `date` 18 characters, `n3`/`n4` zero-padded counts, a number = a string of exactly
// that length. Field values may be arrays for repeatable fields; undefined fields are left out.

type FixedKind = 'bit' | 'yn' | 'ynu' | 'date' | 'n3' | 'n4' | number;
interface ResponseSpec { readonly fixed: readonly (readonly [string, FixedKind])[]; readonly fields: readonly (readonly [string, string])[] }

const AO = ['AO', 'institutionId'] as const;
const AA = ['AA', 'patronIdentifier'] as const;
const AB = ['AB', 'itemIdentifier'] as const;
const AJ = ['AJ', 'titleIdentifier'] as const;
const MESSAGES = [['AF', 'screenMessage'], ['AG', 'printLine']] as const;

export const RESPONSES = {
  '94': { fixed: [['ok', 'bit']], fields: [] },
  // ACS Status: fixed part 34 characters after the code.
  '98': {
    fixed: [['onlineStatus', 'yn'], ['checkinOk', 'yn'], ['checkoutOk', 'yn'], ['acsRenewalPolicy', 'yn'], ['statusUpdateOk', 'yn'],
      ['offlineOk', 'yn'], ['timeoutPeriod', 'n3'], ['retriesAllowed', 'n3'], ['dateTimeSync', 'date'], ['protocolVersion', 4]],
    fields: [AO, ['AM', 'libraryName'], ['BX', 'supportedMessages'], ['AN', 'terminalLocation'], ...MESSAGES],
  },
  '24': {
    fixed: [['patronStatus', 14], ['language', 3], ['transactionDate', 'date']],
    fields: [AO, AA, ['AE', 'personalName'], ['BL', 'validPatron'], ['CQ', 'validPatronPassword'], ['BH', 'currencyType'], ['BV', 'feeAmount'], ...MESSAGES],
  },
  '64': {
    fixed: [['patronStatus', 14], ['language', 3], ['transactionDate', 'date'], ['holdItemsCount', 'n4'], ['overdueItemsCount', 'n4'],
      ['chargedItemsCount', 'n4'], ['fineItemsCount', 'n4'], ['recallItemsCount', 'n4'], ['unavailableHoldsCount', 'n4']],
    fields: [AO, AA, ['AE', 'personalName'], ['BZ', 'holdItemsLimit'], ['CA', 'overdueItemsLimit'], ['CB', 'chargedItemsLimit'],
      ['BL', 'validPatron'], ['CQ', 'validPatronPassword'], ['BH', 'currencyType'], ['BV', 'feeAmount'], ['CC', 'feeLimit'],
      ['AS', 'holdItems'], ['AT', 'overdueItems'], ['AU', 'chargedItems'], ['AV', 'fineItems'], ['BU', 'recallItems'], ['CD', 'unavailableHoldItems'],
      ['BD', 'homeAddress'], ['BE', 'emailAddress'], ['BF', 'homePhoneNumber'], ['PB', 'birthDate'], ['PC', 'patronClass'],
      ['AQ', 'homeLibrary'], ...MESSAGES],
  },
  // Checkout: fixed part 24 characters, code included.
  '12': {
    fixed: [['ok', 'bit'], ['renewalOk', 'yn'], ['magneticMedia', 'ynu'], ['desensitize', 'ynu'], ['transactionDate', 'date']],
    fields: [AO, AA, AB, AJ, ['AH', 'dueDate'], ['BT', 'feeType'], ['CI', 'securityInhibit'], ['BH', 'currencyType'], ['BV', 'feeAmount'],
      ['CK', 'mediaType'], ['CH', 'itemProperties'], ['BK', 'transactionId'], ['BL', 'validPatron'], ...MESSAGES],
  },
  '10': {
    fixed: [['ok', 'bit'], ['resensitize', 'yn'], ['magneticMedia', 'ynu'], ['alert', 'yn'], ['transactionDate', 'date']],
    fields: [AO, AB, ['AQ', 'permanentLocation'], AJ, ['CL', 'sortBin'], AA, ['CK', 'mediaType'], ['CH', 'itemProperties'],
      ['CR', 'collectionCode'], ['CS', 'callNumber'], ['CT', 'destinationLocation'], ['CV', 'alertType'], ['CY', 'holdPatronId'], ['DA', 'holdPatronName'], ...MESSAGES],
  },
  '18': {
    fixed: [['circulationStatus', 2], ['securityMarker', 2], ['feeType', 2], ['transactionDate', 'date']],
    fields: [['CF', 'holdQueueLength'], ['AH', 'dueDate'], ['CJ', 'recallDate'], ['CM', 'holdPickupDate'], AB, AJ, ['BG', 'owner'],
      ['BH', 'currencyType'], ['BV', 'feeAmount'], ['CK', 'mediaType'], ['AQ', 'permanentLocation'], ['AP', 'currentLocation'],
      ['CT', 'destinationLocation'], ['CR', 'collectionCode'], ['CS', 'callNumber'], ['CH', 'itemProperties'], ...MESSAGES],
  },
  '30': {
    fixed: [['ok', 'bit'], ['renewalOk', 'yn'], ['magneticMedia', 'ynu'], ['desensitize', 'ynu'], ['transactionDate', 'date']],
    fields: [AO, AA, AB, AJ, ['AH', 'dueDate'], ['BT', 'feeType'], ['CI', 'securityInhibit'], ['BH', 'currencyType'], ['BV', 'feeAmount'],
      ['CK', 'mediaType'], ['CH', 'itemProperties'], ...MESSAGES],
  },
  '66': {
    fixed: [['ok', 'bit'], ['renewedCount', 'n4'], ['unrenewedCount', 'n4'], ['transactionDate', 'date']],
    fields: [AO, ['BM', 'renewedItems'], ['BN', 'unrenewedItems'], ...MESSAGES],
  },
  '36': { fixed: [['endSession', 'yn'], ['transactionDate', 'date']], fields: [AO, AA, ...MESSAGES] },
  '38': { fixed: [['paymentAccepted', 'yn'], ['transactionDate', 'date']], fields: [AO, AA, ['BK', 'transactionId'], ...MESSAGES] },
  '16': {
    fixed: [['ok', 'bit'], ['available', 'yn'], ['transactionDate', 'date']],
    fields: [['BW', 'expirationDate'], ['BR', 'queuePosition'], ['BS', 'pickupLocation'], AO, AA, AB, AJ, ...MESSAGES],
  },
  '20': { fixed: [['itemPropertiesOk', 'bit'], ['transactionDate', 'date']], fields: [AB, AJ, ['CH', 'itemProperties'], ...MESSAGES] },
  '26': {
    fixed: [['patronStatus', 14], ['language', 3], ['transactionDate', 'date']],
    fields: [AO, AA, ['AE', 'personalName'], ['BL', 'validPatron'], ['CQ', 'validPatronPassword'], ...MESSAGES],
  },
} as const satisfies Record<string, ResponseSpec>;

export type ResponseCode = keyof typeof RESPONSES;
type FixedValue<K> = K extends 'bit' | 'yn' ? boolean : K extends 'ynu' ? boolean | null : K extends 'date' ? Date : K extends 'n3' | 'n4' ? number : string;
type ResponseOf<C extends ResponseCode, S extends ResponseSpec = (typeof RESPONSES)[C]> =
  { code: C }
  & { [E in S['fixed'][number] as E[0]]: FixedValue<E[1]> }
  & { [F in S['fields'][number] as F[1]]?: string | readonly string[] };

/** A response before it is put into bytes: its code, typed fixed fields, variable fields by name. */
export type Sip2Response = { [C in ResponseCode]: ResponseOf<C> }[ResponseCode];
export type ResponseFor<C extends ResponseCode> = Extract<Sip2Response, { code: C }>;

export interface BuildOptions {
  timeZone: string;
  delimiter: string;
  /** Field ids the account hides. */
  hidden?: ReadonlySet<string>;
}

/** SIP2 2.00: variable-length fields hold 0 to 255 characters. */
const MAX_FIELD = 255;

/**
 * A value made safe for a field: CR and LF would end the message and become spaces; the delimiter
 * becomes its HTML entity, as Koha and Evergreen send it (`|` → `&#124;`).
 */
export function escapeValue(value: string, delimiter: string): string {
  let v = value.replace(/[\r\n]/g, ' ');
  if (v.includes(delimiter)) v = v.split(delimiter).join(`&#${delimiter.codePointAt(0)};`);
  return v.length > MAX_FIELD ? Array.from(v).slice(0, MAX_FIELD).join('') : v;
}

function fixedText(code: string, name: string, kind: FixedKind, value: unknown, tz: string): string {
  switch (kind) {
    case 'bit': return value ? '1' : '0';
    case 'yn': return value ? 'Y' : 'N';
    case 'ynu': return value === null ? 'U' : value ? 'Y' : 'N';
    case 'date': return sipDate(value as Date, tz);
    case 'n3': return count(value as number, 3);
    case 'n4': return count(value as number, 4);
    default: {
      const s = String(value);
      if (s.length !== kind) throw new Error(`SIP2 ${code} ${name} must be ${kind} characters, got ${JSON.stringify(s)}`);
      return s;
    }
  }
}

/** The message text of a response, without error-detection trailer or terminator. */
export function buildResponse(res: Sip2Response, opts: BuildOptions): string {
  const spec: ResponseSpec = RESPONSES[res.code];
  const values = res as unknown as Record<string, unknown>;
  let text: string = res.code;
  for (const [name, kind] of spec.fixed) text += fixedText(res.code, name, kind, values[name], opts.timeZone);
  for (const [id, name] of spec.fields) {
    const v = values[name] as string | readonly string[] | undefined;
    if (v === undefined || opts.hidden?.has(id)) continue;
    for (const one of typeof v === 'string' ? [v] : v) text += id + escapeValue(one, opts.delimiter) + opts.delimiter;
  }
  return text;
}
