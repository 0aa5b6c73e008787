import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DomainError } from '../../errors.js';

/**
 * Signed links in messages: a survey answered without signing in, an opt-out in one click. A token is
 *
 *     <purpose>.<patronId>.<subject>.<expires>.<mac>
 *
 * purpose 's' (survey; subject = survey id) or 'o' (opt-out; subject = scope: 'marketing', a campaign
 * kind, 'personalisation'); expires in Unix seconds; mac = base64url of HMAC-SHA-256 over the first four
 * fields and a version label, keyed by the outreach secret, truncated to 128 bits (RFC 2104 §5 allows
 * truncation to no less than half the hash; 128 bits as in RFC 4868). Everything is URL-safe as is.
 */
export type TokenPurpose = 's' | 'o';
export interface TokenClaims { purpose: TokenPurpose; patronId: number; subject: string; expiresAt: Date }

const LABEL = 'shelfsense-outreach-v1';
const MAC_BYTES = 16;
const SUBJECT = /^[a-z0-9_]{1,40}$/;
const SHAPE = /^([so])\.([1-9][0-9]{0,15})\.([a-z0-9_]{1,40})\.([0-9]{1,12})\.([A-Za-z0-9_-]{22})$/;

/** Why a token was refused; each is a problem code of its own (docs/crm-outreach.md). */
export type TokenProblem = 'TOKEN_MALFORMED' | 'TOKEN_INVALID' | 'TOKEN_EXPIRED';

export class TokenError extends DomainError {
  constructor(code: TokenProblem, message: string) {
    super(code, message, code === 'TOKEN_MALFORMED' ? 400 : 403);
    this.name = 'TokenError';
  }
}

export class TokenSigner {
  private readonly key: Buffer;

  constructor(secret: string | Buffer) {
    this.key = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
    if (this.key.length < 32) throw new Error('the outreach signing secret needs at least 32 bytes');
  }

  sign(claims: TokenClaims): string {
    if (!SUBJECT.test(claims.subject)) throw new Error(`token subject "${claims.subject}" is not [a-z0-9_]{1,40}`);
    const payload = `${claims.purpose}.${claims.patronId}.${claims.subject}.${Math.floor(claims.expiresAt.getTime() / 1000)}`;
    return `${payload}.${this.mac(payload).toString('base64url')}`;
  }

  /** The claims of a well-formed, authentic, unexpired token of this purpose; else a TokenError. */
  verify(token: string, purpose: TokenPurpose, now: Date): TokenClaims {
    const m = SHAPE.exec(token);
    if (!m) throw new TokenError('TOKEN_MALFORMED', 'the link is not a Shelfsense link (malformed token)');
    const [, p, patron, subject, expires, mac] = m as unknown as [string, TokenPurpose, string, string, string, string];
    // Compared as text: base64url decoding ignores the spare low bits of the last character, so
    // comparing decoded bytes would accept four spellings of one signature.
    const given = Buffer.from(mac, 'ascii');
    const expected = Buffer.from(this.mac(`${p}.${patron}.${subject}.${expires}`).toString('base64url'), 'ascii');
    if (given.length !== expected.length || !timingSafeEqual(given, expected) || p !== purpose) {
      throw new TokenError('TOKEN_INVALID', 'the link has been altered or is not valid here');
    }
    const expiresAt = new Date(Number(expires) * 1000);
    if (expiresAt.getTime() <= now.getTime()) throw new TokenError('TOKEN_EXPIRED', `the link expired at ${expiresAt.toISOString()}`);
    return { purpose: p, patronId: Number(patron), subject, expiresAt };
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(`${LABEL}\n${payload}`).digest().subarray(0, MAC_BYTES);
  }
}

/**
 * The signing secret kept in a file (mode 0600), made at random on first use. For a server whose
 * configuration names no secret; a configured one (outreach.secret) wins.
 */
export function loadOrCreateSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}
