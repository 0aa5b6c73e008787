import { describe, expect, it } from 'vitest';
import {
  easRequest, encodeSystemInfo, getSystemInfoRequest, ISO_CMD, iso15693Crc, isoCrcOk, parseIsoRequest, parseIsoResponse, parseSystemInfo,
  readMultipleBlocksRequest, uidFromWire, uidToWire, withIsoCrc, writeAfiRequest, writeMultipleBlocksRequest, writeSingleBlockRequest,
} from '../../../contract/rfid/iso15693.js';
import {
  DAMAGED_LINE, encodeAnswer, encodeLine, END_OF_FRAME, inventoryAnswerLines, MetratecLineDecoder, metratecLineCrc, parseInventoryAnswer,
  parseTagAnswer, requestCommand, revisionAnswer, stripLineCrc, tagAnswerLines,
} from '../../../contract/rfid/metratec-protocol.js';

const UID = 'E004010012345678';
const UID_ON_AIR = '78563412000104E0';

describe('ISO 15693 CRC', () => {
  it('is CRC-16/X-25: check value 0x906E over "123456789"', () => {
    expect(iso15693Crc(Buffer.from('123456789'))).toBe(0x906e);
  });

  it('goes after the frame least significant byte first (inventory request 26 01 00 → F6 0A)', () => {
    expect(withIsoCrc(Buffer.from('260100', 'hex')).toString('hex').toUpperCase()).toBe('260100F60A');
    expect(isoCrcOk(Buffer.from('260100F60A', 'hex'))).toBe(true);
    expect(isoCrcOk(Buffer.from('260100F60B', 'hex'))).toBe(false);
    // the tag answer quoted in metraTec's Python library: TDT<CR>0011112222B7DD<CR>COK<CR>NCL
    expect(isoCrcOk(Buffer.from('0011112222B7DD', 'hex'))).toBe(true);
  });
});

describe('ISO 15693 requests', () => {
  it('puts the UID on air least significant byte first', () => {
    expect(uidToWire(UID).toString('hex').toUpperCase()).toBe(UID_ON_AIR);
    expect(uidFromWire(Buffer.from(UID_ON_AIR, 'hex'))).toBe(UID);
    expect(() => uidToWire('E00401')).toThrow(RangeError);
  });

  it('builds the exact REQ/WRQ command lines for the commands the driver uses', () => {
    expect(requestCommand('REQ', getSystemInfoRequest(UID))).toBe(`REQ 222B${UID_ON_AIR} CRC`);
    expect(requestCommand('REQ', readMultipleBlocksRequest(UID, 0, 16))).toBe(`REQ 2223${UID_ON_AIR}000F CRC`);
    expect(requestCommand('WRQ', writeSingleBlockRequest(UID, 5, Buffer.from('DEADBEEF', 'hex')))).toBe(`WRQ 2221${UID_ON_AIR}05DEADBEEF CRC`);
    expect(requestCommand('WRQ', writeMultipleBlocksRequest(UID, 2, 2, Buffer.from('0102030405060708', 'hex')))).toBe(`WRQ 2224${UID_ON_AIR}02010102030405060708 CRC`);
    expect(requestCommand('WRQ', writeAfiRequest(UID, 0xc2))).toBe(`WRQ 2227${UID_ON_AIR}C2 CRC`);
    // NXP custom commands: the IC manufacturer code 04 comes before the UID
    expect(requestCommand('WRQ', easRequest(UID, ISO_CMD.nxpSetEas))).toBe(`WRQ 22A204${UID_ON_AIR} CRC`);
    expect(requestCommand('WRQ', easRequest(UID, ISO_CMD.nxpResetEas))).toBe(`WRQ 22A304${UID_ON_AIR} CRC`);
    expect(requestCommand('REQ', easRequest(UID, ISO_CMD.nxpEasAlarm))).toBe(`REQ 22A504${UID_ON_AIR} CRC`);
    expect(requestCommand('REQ', Buffer.from('260100F60A', 'hex'), false)).toBe('REQ 260100F60A');
  });

  it('parses requests back, custom commands included', () => {
    expect(parseIsoRequest(easRequest(UID, ISO_CMD.nxpEasAlarm))).toEqual({ flags: 0x22, command: 0xa5, manufacturer: 0x04, uid: UID, params: Buffer.alloc(0) });
    expect(parseIsoRequest(readMultipleBlocksRequest(UID, 3, 2))).toMatchObject({ command: 0x23, uid: UID, params: Buffer.from([3, 1]) });
    expect(parseIsoRequest(Buffer.from('2220E004', 'hex'))).toBeNull(); // address flag without a whole UID
  });

  it('parses responses: flags 00 then data, flags 01 then the error code', () => {
    expect(parseIsoResponse(Buffer.from('00A1B2', 'hex'))).toEqual({ ok: true, data: Buffer.from('A1B2', 'hex') });
    expect(parseIsoResponse(Buffer.from('0112', 'hex'))).toEqual({ ok: false, error: 0x12 });
  });

  it('encodes and parses get system information (flags, UID, DSFID, AFI, blocks−1, size−1)', () => {
    const data = encodeSystemInfo({ uid: UID, dsfid: 0x06, afi: 0x07, blockCount: 28, blockSize: 4 });
    expect(data.toString('hex').toUpperCase()).toBe(`07${UID_ON_AIR}06071B03`);
    expect(parseSystemInfo(data)).toEqual({ uid: UID, dsfid: 0x06, afi: 0x07, blockCount: 28, blockSize: 4, icReference: null });
    expect(parseSystemInfo(Buffer.from(`0F${UID_ON_AIR}0607`, 'hex'))).toBeNull(); // says memory size and IC reference follow, but they do not
  });
});

/** CRC-16/MCRF4XX written out separately, so the line CRC is not checked against itself. */
function mcrf4xx(text: string): string {
  let crc = 0xffff;
  for (const c of Buffer.from(text, 'latin1')) {
    crc ^= c;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >> 1) ^ 0x8408 : crc >> 1;
  }
  return crc.toString(16).toUpperCase().padStart(4, '0');
}

describe('metraTec line CRC', () => {
  it('matches the fixed strings of metraTec\'s libraries: COF 4F5E, WAK 5E70, BRK 9977', () => {
    expect(encodeLine('COF', true)).toBe('COF 4F5E\r');
    expect(encodeLine('WAK', true)).toBe('WAK 5E70\r');
    expect(encodeLine('BRK', true)).toBe('BRK 9977\r');
    expect(metratecLineCrc(Buffer.from('COF '))).toBe(0x4f5e);
  });

  it('covers the text and the space before it', () => {
    expect(encodeLine('REQ 222B78563412000104E0 CRC', true)).toBe(`REQ 222B78563412000104E0 CRC ${mcrf4xx('REQ 222B78563412000104E0 CRC ')}\r`);
    expect(encodeLine('INV', false)).toBe('INV\r');
    expect(stripLineCrc(`OK! ${mcrf4xx('OK! ')}`)).toBe('OK!');
    expect(stripLineCrc('OK! 0000')).toBeNull();
  });
});

describe('metraTec answers', () => {
  it('encodes an inventory: one UID per line, IVF with the count in hex, LF after the last CR with EOF on', () => {
    const uids = Array.from({ length: 16 }, (_, i) => `E0040100000000${i.toString(16).toUpperCase().padStart(2, '0')}`);
    expect(inventoryAnswerLines(uids).at(-1)).toBe('IVF 10');
    expect(encodeAnswer(inventoryAnswerLines([UID]), { crc: false, eof: true })).toBe(`${UID}\rIVF 01\r\n`);
    expect(encodeAnswer(['IVF 00'], { crc: true, eof: false })).toBe(`IVF 00 ${mcrf4xx('IVF 00 ')}\r`);
    expect(revisionAnswer('DESKID_ISO', '0200', '0307')).toBe('DESKID_ISO      02000307');
  });

  it('parses inventories with antenna report and per-tag errors, and refuses anything else', () => {
    expect(parseInventoryAnswer([UID, 'E004010087654321', 'CER', 'ARP 01', 'IVF 02'])).toEqual({ uids: [UID, 'E004010087654321'], reported: 2, antennaPort: 1, tagErrors: ['CER'] });
    expect(parseInventoryAnswer(['IVF 00'])).toEqual({ uids: [], reported: 0, antennaPort: null, tagErrors: [] });
    expect(parseInventoryAnswer(['OK!'])).toBeNull();
    expect(parseInventoryAnswer(['E00401', 'IVF 01'])).toBeNull();
  });

  it('parses tag answers: TDT, hex, COK/CER, NCL/CDT, or one word', () => {
    expect(parseTagAnswer(['TDT', '0011112222B7DD', 'COK', 'NCL'])).toEqual({ kind: 'response', frame: Buffer.from('0011112222B7DD', 'hex'), readerCrcOk: true, collision: false, antennaPort: null });
    expect(parseTagAnswer(['TDT', '00FF', 'CER', 'CDT', 'ARP 02'])).toMatchObject({ readerCrcOk: false, collision: true, antennaPort: 2 });
    expect(parseTagAnswer(['TNR'])).toEqual({ kind: 'word', word: 'TNR' });
    expect(parseTagAnswer(['TDT', '00', 'COK'])).toBeNull();
    expect(parseTagAnswer(['IVF 01'])).toBeNull();
    expect(tagAnswerLines(Buffer.from('0011112222B7DD', 'hex'))).toEqual(['TDT', '0011112222B7DD', 'COK', 'NCL']);
    expect(tagAnswerLines(Buffer.from('0011112222B7DE', 'hex'), { collision: true })).toEqual(['TDT', '0011112222B7DE', 'CER', 'CDT']);
  });
});

describe('MetratecLineDecoder', () => {
  const answer = `${UID}\rIVF 01\r\n`;

  it('splits lines and answers fed byte by byte', () => {
    const d = new MetratecLineDecoder();
    const out = [...Buffer.from(answer)].flatMap((b) => d.push(Buffer.from([b])));
    expect(out).toEqual([UID, 'IVF 01', END_OF_FRAME]);
    expect([d.frames, d.messages, d.badCrc, d.resyncs]).toEqual([2, 1, 0, 0]);
  });

  it('gives the same lines whatever the chunking', () => {
    const bytes = Buffer.from(answer.repeat(20));
    const whole = new MetratecLineDecoder().push(bytes);
    for (const size of [1, 2, 3, 7, 16, 64]) {
      const d = new MetratecLineDecoder();
      const out: string[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...d.push(bytes.subarray(i, i + size)));
      expect(out).toEqual(whole);
    }
    expect(whole.filter((l) => l === END_OF_FRAME)).toHaveLength(20);
  });

  it('drops noise before a line and counts one resync per run of noise', () => {
    const d = new MetratecLineDecoder();
    expect(d.push(Buffer.concat([Buffer.from([0x00, 0xff, 0xfe]), Buffer.from('OK!\r')]))).toEqual(['OK!']);
    expect(d.resyncs).toBe(1);
    expect(d.frames).toBe(1);
  });

  it('reports a line that noise cut into as damaged', () => {
    const d = new MetratecLineDecoder();
    expect(d.push(Buffer.concat([Buffer.from('E0040100'), Buffer.from([0x07]), Buffer.from('12345678\rIVF 01\r')]))).toEqual([DAMAGED_LINE, 'IVF 01']);
    expect(d.resyncs).toBe(1);
  });

  it('drops over-long lines up to their CR', () => {
    const d = new MetratecLineDecoder(32);
    expect(d.push(`${'A'.repeat(100)}\rOK!\r`)).toEqual([DAMAGED_LINE, 'OK!']);
    expect(d.resyncs).toBe(1);
    expect(d.push(`${'B'.repeat(32)}\r`)).toEqual(['B'.repeat(32)]); // exactly the limit is fine
  });

  it('treats a line feed inside a line as a broken line', () => {
    const d = new MetratecLineDecoder();
    expect(d.push('IVF\n')).toEqual([DAMAGED_LINE, END_OF_FRAME]);
    expect(d.resyncs).toBe(1);
  });

  it('with line CRC on, checks and strips the CRC and counts bad ones', () => {
    const d = new MetratecLineDecoder();
    d.crc = true;
    expect(d.push(encodeAnswer([UID, 'IVF 01'], { crc: true, eof: true }))).toEqual([UID, 'IVF 01', END_OF_FRAME]);
    expect(d.push('OK! 0000\rOK!\r')).toEqual([DAMAGED_LINE, DAMAGED_LINE]);
    expect(d.badCrc).toBe(2);
    expect(d.frames).toBe(2);
  });
});
