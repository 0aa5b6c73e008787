import type { Clock } from '../../clock.js';
import { DomainError } from '../../errors.js';
import type { Db } from '../../store/db.js';
import type { Channel } from './channel.js';

/**
 * Messages shown in the online catalogue. The channel stores the message for the patron: that is
 * the channel accepting it. The patron lists them, and marks them read or unread.
 */
export function inAppChannel(db: Db, clock: Clock): Channel {
  return {
    name: 'in_app',
    address: (r) => `patron:${r.patronId}`,
    async send(m) {
      const id = Number(db.prepare('INSERT INTO in_app_message (patron_id, campaign_message_id, subject, body, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(m.recipient.patronId, m.messageId, m.subject, m.text, clock.now().toISOString()).lastInsertRowid);
      return { accepted: true, ref: `in_app_message:${id}` };
    },
  };
}

export interface InAppMessage { id: number; subject: string; body: string; createdAt: string; readAt: string | null }
interface Row { id: number; subject: string; body: string; created_at: string; read_at: string | null }
const toMessage = (r: Row): InAppMessage => ({ id: r.id, subject: r.subject, body: r.body, createdAt: r.created_at, readAt: r.read_at });

/** A patron's in-app messages, newest first, with how many are unread. */
export function listInAppMessages(db: Db, patronId: number, q: { unread?: boolean; limit: number; offset: number }):
  { total: number; unread: number; messages: InAppMessage[] } {
  const only = q.unread ? 'AND read_at IS NULL' : '';
  const counts = db.prepare(`SELECT count(*) AS total, coalesce(sum(read_at IS NULL), 0) AS unread FROM in_app_message WHERE patron_id = ?`)
    .get(patronId) as { total: number; unread: number };
  const rows = db.prepare(`SELECT id, subject, body, created_at, read_at FROM in_app_message WHERE patron_id = ? ${only}
      ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`).all(patronId, q.limit, q.offset) as Row[];
  return { total: q.unread ? counts.unread : counts.total, unread: counts.unread, messages: rows.map(toMessage) };
}

/** Marks one of the patron's messages read (keeping the first read time) or unread; another patron's is "not found". */
export function markInAppMessage(db: Db, patronId: number, id: number, read: boolean, now: Date): InAppMessage {
  const info = read
    ? db.prepare('UPDATE in_app_message SET read_at = coalesce(read_at, ?) WHERE id = ? AND patron_id = ?').run(now.toISOString(), id, patronId)
    : db.prepare('UPDATE in_app_message SET read_at = NULL WHERE id = ? AND patron_id = ?').run(id, patronId);
  if (info.changes === 0) throw new DomainError('MESSAGE_NOT_FOUND', `you have no message ${id}`, 404);
  return toMessage(db.prepare('SELECT id, subject, body, created_at, read_at FROM in_app_message WHERE id = ?').get(id) as Row);
}
