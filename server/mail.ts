import nodemailer from 'nodemailer';

/** What was accepted: the recipients the SMTP server took (RFC 5321 §4.2.1, 2yz after RCPT), its id and last reply. */
export interface Sent { accepted: string[]; messageId?: string; response?: string }

/** Outgoing e-mail: kiosk receipts, alarm escalations, care campaigns. Throws when the SMTP server refuses. */
export interface MailOptions { headers?: Record<string, string>; textEncoding?: 'base64' | 'quoted-printable' }
export interface Mailer {
  send(to: string, subject: string, text: string, options?: MailOptions): Promise<Sent>;
  close?(): void;
}

/** E-mail through an SMTP server (nodemailer); `smtpUrl` as smtp://user:pass@host:port or smtps://…. One transport per mailer. */
export function smtpMailer(smtpUrl: string, from: string): Mailer {
  const transport = nodemailer.createTransport(smtpUrl);
  return {
    async send(to, subject, text, options = {}) {
      const info = await transport.sendMail({ from, to, subject, text, ...options });
      return {
        accepted: (info.accepted as (string | { address: string })[]).map((a) => (typeof a === 'string' ? a : a.address)),
        messageId: info.messageId, response: info.response,
      };
    },
    close: () => transport.close(),
  };
}
