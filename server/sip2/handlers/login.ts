import type { ResolvedAccount } from '../account.js';
import { decode } from '../charset.js';
import { parseRequest, type RequestFor } from '../requests.js';
import type { ResponseFor } from '../responses.js';

export interface LoginOutcome { account: ResolvedAccount | null; response: ResponseFor<'94'> }

/**
 * Login (93 → 94). The account is not known until CN is read, yet its delimiter and character set
 * decide how the message reads: read it byte-transparently with each configured delimiter, find the
 * account, then read it again in the account's character set to compare the password.
 * SIP2 2.00: UID and PWD algorithms other than 0 (no encryption; a blank is taken as 0) are not supported.
 */
export function login(body: Uint8Array, accounts: readonly ResolvedAccount[], timeZone: string): LoginOutcome {
  const refused: LoginOutcome = { account: null, response: { code: '94', ok: false } };
  const delimiters = [...new Set(['|', ...accounts.map((a) => a.delimiter)])];
  for (const delimiter of delimiters) {
    const probe = parseRequest(decode(body, 'iso-8859-1'), { delimiter, timeZone });
    if (!probe.ok || probe.request.code !== '93') return refused;
    const userId = probe.request.loginUserId;
    const account = accounts.find((a) => a.login === userId && a.delimiter === delimiter);
    if (!account) continue;
    const parsed = parseRequest(decode(body, account.charset), { delimiter, timeZone });
    if (!parsed.ok) return refused;
    const req = parsed.request as RequestFor<'93'>;
    const plain = (algorithm: string) => algorithm === '0' || algorithm === ' ';
    const ok = plain(req.uidAlgorithm) && plain(req.pwdAlgorithm) && account.checkPassword(req.loginPassword ?? '');
    return ok ? { account, response: { code: '94', ok: true } } : refused;
  }
  return refused;
}
