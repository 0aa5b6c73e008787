import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventBus, type BusEvents, type BusTopic } from '../../../server/bus.js';
import { expectProblem, ok, openApi, PIN, type Api } from './helpers.js';

let api: Api;
afterEach(() => { vi.useRealTimers(); api?.close(); });

/** An EventBus that counts its live subscriptions, to see the stream unsubscribe. */
class CountingBus extends EventBus {
  live = 0;
  override on<T extends BusTopic>(topic: T, handler: (payload: BusEvents[T]) => void): () => void {
    const off = super.on(topic, handler);
    this.live++;
    let done = false;
    return () => { if (!done) { done = true; this.live--; off(); } };
  }
}

/** Reads the SSE body until `text` has arrived, returning everything read so far. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, text: string, state = { buffer: '' }): Promise<string> {
  const decoder = new TextDecoder();
  while (!state.buffer.includes(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before "${text}"; got ${JSON.stringify(state.buffer)}`);
    state.buffer += decoder.decode(value, { stream: true });
  }
  return state.buffer;
}

/** The SSE messages (blocks separated by a blank line) with an `event:` field. */
function messages(buffer: string) {
  return buffer.split('\n\n').filter((b) => b.includes('event: ')).map((block) => {
    const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
    return { event: field('event'), id: field('id'), data: JSON.parse(field('data') ?? 'null') };
  });
}

describe('GET /api/v1/events (Server-Sent Events)', () => {
  it('streams a checkout as a circulation event with its id, and gateway presence', async () => {
    api = openApi();
    const s = await api.librarian('desk1');
    const res = await api.call('/events', { as: s });
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const state = { buffer: '' };
    await readUntil(reader, ': connected', state);

    const patron = await api.patron();
    const item = api.book();
    await ok(await api.call('/circulation/checkout', { as: s, body: { patronId: patron.id, barcode: item.barcode, branchId: 'main' } }));
    await readUntil(reader, 'event: circulation', state);
    api.bus.emit('gateway', { gatewayId: 'gw-1', site: 'demo', online: false, ts: '2026-03-02T02:00:00.000Z' });
    await readUntil(reader, 'event: gateway', state);

    const [circ, gateway] = messages(state.buffer);
    const logged = api.db.prepare("SELECT id FROM circ_event WHERE op = 'checkout'").get() as { id: number };
    expect(circ).toEqual({
      event: 'circulation', id: String(logged.id),
      data: expect.objectContaining({ id: logged.id, op: 'checkout', outcome: 'ok', patronId: patron.id, itemId: item.id, actor: 'staff:desk1', channel: 'desk' }),
    });
    expect(gateway).toEqual({ event: 'gateway', id: undefined, data: { gatewayId: 'gw-1', site: 'demo', online: false, ts: '2026-03-02T02:00:00.000Z' } });
    await reader.cancel();
  });

  it('unsubscribes from the bus when the client goes away', async () => {
    const bus = new CountingBus();
    api = openApi({}, bus);
    const s = await api.librarian();
    const base = bus.live; // the composition root's own subscriptions, if any
    const reader = (await api.call('/events', { as: s })).body!.getReader();
    await readUntil(reader, ': connected');
    expect(bus.live).toBe(base + 4); // circulation, gateway, rfid and environment
    await reader.cancel();
    await vi.waitFor(() => expect(bus.live).toBe(base));
  });

  it('writes a heartbeat comment every 15 s, and ends the stream once the session is gone', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    api = openApi();
    const s = await api.librarian();
    const reader = (await api.call('/events', { as: s })).body!.getReader();
    const state = { buffer: '' };
    await readUntil(reader, ': connected', state);
    vi.advanceTimersByTime(15_000);
    await readUntil(reader, ': heartbeat', state);

    expect((await api.call('/auth/logout', { method: 'POST', as: s })).status).toBe(204);
    vi.advanceTimersByTime(15_000);
    await vi.waitFor(async () => expect((await reader.read()).done).toBe(true));
  });

  it('resends the circulation events after Last-Event-ID on reconnect', async () => {
    api = openApi();
    const s = await api.librarian();
    const patron = await api.patron();
    const [a, b] = [api.book(), api.book()];
    await ok(await api.call('/circulation/checkout', { as: s, body: { patronId: patron.id, barcode: a.barcode, branchId: 'main' } }));
    const seen = (api.db.prepare('SELECT max(id) AS id FROM circ_event').get() as { id: number }).id;
    await ok(await api.call('/circulation/checkout', { as: s, body: { patronId: patron.id, barcode: b.barcode, branchId: 'main' } }));
    await ok(await api.call('/circulation/checkin', { as: s, body: { barcode: a.barcode, branchId: 'main' } }));

    const reader = (await api.call('/events', { as: s, headers: { 'Last-Event-ID': String(seen) } })).body!.getReader();
    const buffer = await readUntil(reader, 'checkin');
    expect(messages(buffer).map((m) => [m.id, m.data.op])).toEqual([[String(seen + 1), 'checkout'], [String(seen + 2), 'checkin']]);
    await reader.cancel();
  });

  it('is for staff only', async () => {
    api = openApi();
    await expectProblem(await api.call('/events'), 401, 'AUTH_REQUIRED');
    const p = await api.patron({}, PIN);
    await expectProblem(await api.call('/events', { as: await api.patronSession(p.cardNumber) }), 403, 'FORBIDDEN');
    await expectProblem(await api.call('/events', { token: api.device('kiosk-1', 'kiosk') }), 403, 'FORBIDDEN');
  });
});
