import type { HandledCode, Handler } from '../exchange.js';
import { blockPatron } from './block-patron.js';
import { checkin } from './checkin.js';
import { checkout } from './checkout.js';
import { endSession } from './end-session.js';
import { feePaid } from './fee-paid.js';
import { hold } from './hold.js';
import { itemInfo } from './item-info.js';
import { itemStatusUpdate } from './item-status-update.js';
import { patronEnable } from './patron-enable.js';
import { patronInfo } from './patron-info.js';
import { patronStatus } from './patron-status.js';
import { renew } from './renew.js';
import { renewAll } from './renew-all.js';
import { scStatus } from './sc-status.js';

/** Every message pair served after login; Login (93) and the resend requests (97, 96) live in the session. */
export const HANDLERS: { [C in HandledCode]: Handler<C> } = {
  '99': scStatus, '23': patronStatus, '63': patronInfo, '11': checkout, '09': checkin, '17': itemInfo, '29': renew,
  '65': renewAll, '35': endSession, '37': feePaid, '15': hold, '19': itemStatusUpdate, '25': patronEnable, '01': blockPatron,
};

export const isHandled = (code: string): code is HandledCode => Object.hasOwn(HANDLERS, code);
