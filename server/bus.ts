import type { CircEvent } from './circulation/circulation.js';
import type { EntranceDecisionPayload, ReaderStatusPayload } from '../contract/mqtt.js';
import type { KioskSessionView } from './rfid/kiosk.js';
import type { GateAlarm } from './rfid/gate.js';
import type { ReturnOutcome } from './rfid/returns.js';
import type { EnvironmentBusEvent } from './environment/environment.js';

/** What the RFID feature tells the kiosk screens and the dashboard. */
export type RfidBusEvent =
  | { kind: 'kiosk'; session: KioskSessionView }
  | { kind: 'gate_alarm'; alarm: GateAlarm }
  | { kind: 'return'; outcome: ReturnOutcome }
  | { kind: 'entrance'; decision: EntranceDecisionPayload }
  | { kind: 'reader_status'; status: ReaderStatusPayload };

/** What the server's features tell each other and the live (SSE) stream, typed per topic. */
export interface BusEvents {
  circulation: CircEvent;
  gateway: { gatewayId: string; site: string; online: boolean; ts: string };
  rfid: RfidBusEvent;
  environment: EnvironmentBusEvent;
}
export type BusTopic = keyof BusEvents;

export class EventBus {
  private readonly handlers = new Map<BusTopic, Set<(payload: any) => void>>();

  on<T extends BusTopic>(topic: T, handler: (payload: BusEvents[T]) => void): () => void {
    let set = this.handlers.get(topic);
    if (!set) this.handlers.set(topic, (set = new Set()));
    set.add(handler);
    return () => set!.delete(handler);
  }

  emit<T extends BusTopic>(topic: T, payload: BusEvents[T]): void {
    for (const h of this.handlers.get(topic) ?? []) {
      try { h(payload); } catch (e) { console.error(`bus handler for ${topic} failed:`, e); }
    }
  }
}
