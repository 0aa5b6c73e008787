/**
 * How a message leaves the library: e-mail (email.ts), the online catalogue (in-app.ts), and SMS or
 * messaging-app providers that an operator plugs in through this interface. A message counts as sent
 * only when its channel says it accepted it.
 */

export const CHANNELS = ['email', 'in_app', 'sms', 'messaging_app'] as const;
export type ChannelName = (typeof CHANNELS)[number];

/** The patron fields a channel may address a message with. */
export interface Recipient { patronId: number; name: string; email: string | null; phone: string | null }

export interface OutgoingMessage {
  /** campaign_message.id: providers may use it as an idempotency key. */
  messageId: number;
  recipient: Recipient;
  /** What address(recipient) returned. */
  to: string;
  subject: string;
  text: string;
  /** The one-click opt-out URL (RFC 8058), for channels that can carry it beside the text. */
  unsubscribeUrl: string;
}

/**
 * What became of a send. `accepted`: the channel took it (an SMTP server accepted the recipient, a
 * provider returned an id). `permanent` failures are not retried (a rejected address); others are.
 */
export type Delivery =
  | { accepted: true; ref: string | null }
  | { accepted: false; permanent: boolean; error: string };

export interface Channel {
  readonly name: ChannelName;
  /** The most messages per second it should be given; undefined: no limit (in-app). */
  readonly ratePerSecond?: number;
  /** Where this channel reaches the patron, or null when it cannot (no e-mail address on file). */
  address(recipient: Recipient): string | null;
  send(message: OutgoingMessage): Promise<Delivery>;
  close?(): void | Promise<void>;
}

/** The channels a server has. A message for a channel nobody registered is skipped with NO_CHANNEL. */
export class ChannelRegistry {
  private readonly channels = new Map<ChannelName, Channel>();

  constructor(channels: Channel[] = []) {
    for (const c of channels) this.register(c);
  }

  register(channel: Channel): this {
    this.channels.set(channel.name, channel);
    return this;
  }

  get(name: ChannelName): Channel | undefined {
    return this.channels.get(name);
  }

  names(): ChannelName[] {
    return [...this.channels.keys()];
  }

  async close(): Promise<void> {
    for (const c of this.channels.values()) await c.close?.();
  }
}
