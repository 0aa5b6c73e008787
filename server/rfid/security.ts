import type { CommandResponse, GatewayCommandName, SecurityState } from '../../contract/mqtt.js';
import type { ReaderDirectory } from './directory.js';

/** What the server needs from the MQTT link to talk to gateways (MqttLink provides it). */
export interface GatewayCommands {
  command<D = unknown>(gatewayId: string, command: GatewayCommandName, params?: Record<string, unknown>, timeoutMs?: number): Promise<CommandResponse<D>>;
}

export type SecurityWrite = { ok: true; state: SecurityState } | { ok: false; error: { code: string; message: string } };

/** Sets a tag's security state through its reader's gateway; the gateway reads it back before it answers ok. */
export interface SecurityWriter {
  write(readerId: string, uid: string, state: 'on_loan' | 'in_stock'): Promise<SecurityWrite>;
}

/**
 * AFI (ISO 28560-1: 0x07 in stock, 0xC2 on loan, configurable) and EAS (on when in stock) written by
 * the reader that has the tag in its field. The gateway verifies by reading back; an answer that is
 * not `ok`, or a read-back that disagrees, is a failure.
 */
export function gatewaySecurityWriter(readers: ReaderDirectory, link: GatewayCommands, timeoutMs = 3000): SecurityWriter {
  return {
    async write(readerId, uid, state) {
      const reader = readers.get(readerId);
      if (!reader) return { ok: false, error: { code: 'UNKNOWN_READER', message: `no reader ${readerId}` } };
      const { afiInStock, afiOnLoan } = readers.security();
      const afi = state === 'on_loan' ? afiOnLoan : afiInStock;
      const eas = state === 'in_stock';
      const res = await link.command<SecurityState>(reader.gatewayId, 'rfid.writeSecurity', { readerId, uid, afi, eas }, timeoutMs);
      if (res.status !== 'ok') return { ok: false, error: res.error };
      if (res.data.afi !== afi || (res.data.eas !== null && res.data.eas !== eas)) {
        return { ok: false, error: { code: 'WRITE_NOT_VERIFIED', message: `the tag reads AFI ${res.data.afi}, EAS ${res.data.eas}` } };
      }
      return { ok: true, state: res.data };
    },
  };
}
