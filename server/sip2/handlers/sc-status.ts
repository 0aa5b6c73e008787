import type { ResolvedAccount } from '../account.js';
import type { Exchange, Handler, Sip2Deps } from '../exchange.js';
import type { ResponseFor } from '../responses.js';

/**
 * SIP2 2.00 supported messages (BX), one Y/N per position: patron status 23, checkout 11, checkin 09,
 * block patron 01, SC/ACS status 99, resend 97, login 93, patron information 63, end patron session 35,
 * fee paid 37, item information 17, item status update 19, patron enable 25, hold 15, renew 29, renew all 65.
 * Item status update is answered but its item properties are not stored, so it is N.
 */
export const SUPPORTED_MESSAGES = 'YYYYYYYYYYYNYYYY';

/** ACS Status (98), for a logged-in account or, before login where allowed, for the server at large. */
export function acsStatus(deps: Sip2Deps, account: ResolvedAccount | null, now: Date): ResponseFor<'98'> {
  const branch = account
    ? (deps.db.prepare('SELECT name FROM branch WHERE id = ?').get(account.branchId) as { name: string } | undefined)
    : undefined;
  return {
    code: '98', onlineStatus: true, checkinOk: true, checkoutOk: true, acsRenewalPolicy: true,
    statusUpdateOk: true, // Block Patron (01) is honoured
    offlineOk: true, // no-block checkouts and backdated returns are applied as of their dates
    timeoutPeriod: account?.timeoutPeriod ?? 100, retriesAllowed: account?.retriesAllowed ?? 5,
    dateTimeSync: now, protocolVersion: '2.00',
    institutionId: account?.institutionId ?? '', libraryName: branch?.name, supportedMessages: SUPPORTED_MESSAGES,
    terminalLocation: account?.terminalLocation,
  };
}

export const scStatus: Handler<'99'> = {
  code: '99',
  // SIP2 2.00: status code 0 ok, 1 printer out of paper, 2 about to shut down; the answer is the same.
  handle: (_req, x: Exchange) => acsStatus(x.deps, x.account, x.now),
  refuse: (_req, now, screenMessage) => ({
    code: '98', onlineStatus: false, checkinOk: false, checkoutOk: false, acsRenewalPolicy: false, statusUpdateOk: false, offlineOk: false,
    timeoutPeriod: 0, retriesAllowed: 0, dateTimeSync: now, protocolVersion: '2.00', institutionId: '', supportedMessages: SUPPORTED_MESSAGES,
    screenMessage,
  }),
};
