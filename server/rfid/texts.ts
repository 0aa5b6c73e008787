import { REASONS } from '../circulation/reasons.js';

export interface Bilingual { en: string; zh: string }

/** What kiosk screens, gates and the dashboard show for RFID outcomes, in English and Chinese. */
export const RFID_TEXTS = {
  ...REASONS,
  WELCOME: { en: 'Place your books on the pad.', zh: '请将图书放在感应区。' },
  WAITING_FOR_PARTS: { en: 'This item has several parts: place all of them on the pad.', zh: '此图书包含多个部件，请将所有部件放在感应区。' },
  SECURITY_WRITE_FAILED: { en: 'This book could not be unlocked. Leave it on the pad and try again, or ask at the desk.', zh: '此图书防盗状态未能解除，请放回感应区重试或到服务台咨询。' },
  UNKNOWN_ITEM: { en: 'This item is not recognised. Please ask at the desk.', zh: '无法识别此图书，请到服务台咨询。' },
  ENTRY_ALLOWED: { en: 'Welcome.', zh: '欢迎光临。' },
  GATE_ALARM: { en: 'An item has not been checked out.', zh: '有图书未办理借阅手续。' },
} as const satisfies Record<string, Bilingual>;
