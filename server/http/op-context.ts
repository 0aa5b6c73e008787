import type { Db } from '../store/db.js';
import type { OpContext } from '../circulation/circulation.js';
import { actorOf, type Principal } from './env.js';
import { fieldProblem, HttpProblem } from './problem.js';
import { IDEMPOTENCY_HEADER } from './types.js';

/** What these helpers read of a request: its headers. */
export interface HasHeaders { req: { header(name: string): string | undefined } }

export const branchExists = (db: Db, id: string) => db.prepare('SELECT 1 FROM branch WHERE id = ?').get(id) !== undefined;

/**
 * The client transaction id of a request: `txnId` in the body or the Idempotency-Key header (a plain or
 * quoted string, as in draft-ietf-httpapi-idempotency-key-header). It is scoped by the caller, so one
 * client can never be handed another client's stored result by reusing its id.
 */
export function txnIdOf(c: HasHeaders, principal: Principal, bodyTxnId: string | undefined): string | undefined {
  const header = c.req.header(IDEMPOTENCY_HEADER)?.trim().replace(/^"(.*)"$/, '$1');
  if (header !== undefined && bodyTxnId !== undefined && header !== bodyTxnId) {
    throw fieldProblem('txnId', `differs from the ${IDEMPOTENCY_HEADER} header; send one or make them equal`);
  }
  const id = bodyTxnId ?? header;
  if (id === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,128}$/.test(id)) throw fieldProblem('txnId', '1 to 128 printable ASCII characters');
  return `${actorOf(principal)}:${id}`;
}

/**
 * The circulation context of a staff desk or kiosk request. The desk names its branch in the body
 * (`branchId`, which must exist); a kiosk acts at its own device branch and may not name another.
 */
export function deskContext(c: HasHeaders & { get(key: 'principal'): Principal | null }, db: Db, fields: { branchId?: string; txnId?: string }): OpContext {
  const principal = c.get('principal');
  if (!principal || principal.kind === 'patron' || principal.role === 'gateway') throw new HttpProblem(403, 'FORBIDDEN', 'not a desk or kiosk');
  const txnId = txnIdOf(c, principal, fields.txnId);
  if (principal.kind === 'device') {
    if (!principal.branchId) throw new HttpProblem(403, 'DEVICE_HAS_NO_BRANCH', `kiosk ${principal.deviceId} is not placed at a branch`);
    if (fields.branchId !== undefined && fields.branchId !== principal.branchId) {
      throw new HttpProblem(403, 'BRANCH_NOT_ALLOWED', `kiosk ${principal.deviceId} acts at ${principal.branchId} only`);
    }
    return { channel: 'kiosk', branchId: principal.branchId, actor: actorOf(principal), ...(txnId ? { txnId } : {}) };
  }
  if (fields.branchId === undefined) throw fieldProblem('branchId', 'required: the branch the desk acts at');
  if (!branchExists(db, fields.branchId)) throw fieldProblem('branchId', `branch "${fields.branchId}" does not exist`);
  return { channel: 'desk', branchId: fields.branchId, actor: actorOf(principal), ...(txnId ? { txnId } : {}) };
}
