import { smtpMailer } from '../../mail.js';
import type { Channel, Delivery, OutgoingMessage } from './channel.js';

export interface EmailChannelOptions {
  /** smtp://user:pass@host:port or smtps://… (config mail.smtpUrl). */
  smtpUrl: string;
  /** The From header (config mail.from). */
  from: string;
  /** Messages per second handed to the SMTP server; default 5. */
  ratePerSecond?: number;
}

/** An SMTP error of nodemailer: `responseCode` is the server's reply code when it answered. */
interface SmtpError extends Error { code?: string; responseCode?: number; permanent?: boolean }

/**
 * Campaign e-mail through an SMTP server (nodemailer), with the opt-out link also in the headers:
 * `List-Unsubscribe` (RFC 2369 §3.2) and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
 * (RFC 8058 §3.1), so mail clients can offer their own unsubscribe button. Accepted means the
 * server accepted the recipient (RFC 5321 §4.2.1: 2yz after RCPT and after the data); a 5yz reply
 * is a permanent failure, anything else (4yz, no connection) a transient one.
 */
export function emailChannel(options: EmailChannelOptions): Channel {
  const mailer = smtpMailer(options.smtpUrl, options.from);
  return {
    name: 'email',
    ratePerSecond: options.ratePerSecond ?? 5,
    address: (r) => r.email,
    async send(m: OutgoingMessage): Promise<Delivery> {
      try {
        const info = await mailer.send(m.to, m.subject, m.text, {
          textEncoding: 'base64',
          headers: { 'List-Unsubscribe': `<${m.unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
        });
        if (!info.accepted.some((a) => a.toLowerCase() === m.to.toLowerCase())) return { accepted: false, permanent: true, error: `the SMTP server did not accept ${m.to}: ${info.response}` };
        return { accepted: true, ref: info.messageId ?? null };
      } catch (e) {
        const err = e as SmtpError;
        const permanent = err.permanent === true || (err.responseCode !== undefined && err.responseCode >= 500);
        return { accepted: false, permanent, error: `${err.code ? `${err.code}: ` : ''}${err.message}` };
      }
    },
    close: () => mailer.close?.(),
  };
}
