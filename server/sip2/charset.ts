// Character sets a SIP2 account may use. SIP2 2.00 itself says nothing about encodings; kiosks in the
// field use UTF-8, ISO-8859-1 or IBM code page 850. Characters a set cannot carry are sent as '?'.

export const CHARSETS = ['utf-8', 'iso-8859-1', 'ibm850'] as const;
export type Charset = (typeof CHARSETS)[number];

// IBM850 bytes 0x80–0xFF; 0x00–0x7F are ASCII.
const IBM850_HIGH =
  '\u00c7\u00fc\u00e9\u00e2\u00e4\u00e0\u00e5\u00e7\u00ea\u00eb\u00e8\u00ef\u00ee\u00ec\u00c4\u00c5' +
  '\u00c9\u00e6\u00c6\u00f4\u00f6\u00f2\u00fb\u00f9\u00ff\u00d6\u00dc\u00f8\u00a3\u00d8\u00d7\u0192' +
  '\u00e1\u00ed\u00f3\u00fa\u00f1\u00d1\u00aa\u00ba\u00bf\u00ae\u00ac\u00bd\u00bc\u00a1\u00ab\u00bb' +
  '\u2591\u2592\u2593\u2502\u2524\u00c1\u00c2\u00c0\u00a9\u2563\u2551\u2557\u255d\u00a2\u00a5\u2510' +
  '\u2514\u2534\u252c\u251c\u2500\u253c\u00e3\u00c3\u255a\u2554\u2569\u2566\u2560\u2550\u256c\u00a4' +
  '\u00f0\u00d0\u00ca\u00cb\u00c8\u0131\u00cd\u00ce\u00cf\u2518\u250c\u2588\u2584\u00a6\u00cc\u2580' +
  '\u00d3\u00df\u00d4\u00d2\u00f5\u00d5\u00b5\u00fe\u00de\u00da\u00db\u00d9\u00fd\u00dd\u00af\u00b4' +
  '\u00ad\u00b1\u2017\u00be\u00b6\u00a7\u00f7\u00b8\u00b0\u00a8\u00b7\u00b9\u00b3\u00b2\u25a0\u00a0';
const IBM850_DECODE: string[] = Array.from({ length: 256 }, (_, b) => (b < 0x80 ? String.fromCharCode(b) : IBM850_HIGH[b - 0x80]!));
const IBM850_ENCODE = new Map<string, number>(IBM850_DECODE.map((c, b) => [c, b]));

const utf8 = new TextDecoder('utf-8'); // malformed sequences become U+FFFD, never an exception
const QUESTION = 0x3f;

export function decode(bytes: Uint8Array, charset: Charset): string {
  if (charset === 'utf-8') return utf8.decode(bytes);
  if (charset === 'iso-8859-1') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += IBM850_DECODE[bytes[i]!];
  return s;
}

export function encode(text: string, charset: Charset): Buffer {
  if (charset === 'utf-8') return Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (const c of text) {
    const code = c.codePointAt(0)!;
    if (charset === 'iso-8859-1') out[n++] = code <= 0xff ? code : QUESTION;
    else out[n++] = IBM850_ENCODE.get(c) ?? QUESTION;
  }
  return out.subarray(0, n);
}
