import { Zcl, Zdo, type AdapterEvents, type AdapterTypes } from 'zigbee-herdsman';
import { Adapter, type ClusterWaitressMatcher } from 'zigbee-herdsman/dist/adapter/adapter.js';
import type { Backup } from 'zigbee-herdsman/dist/models/index.js';
import type { RequestToResponseMap } from 'zigbee-herdsman/dist/zspec/zdo/definition/tstypes.js';

// An in-process coordinator for zigbee-herdsman's real Controller (test/gateway/zigbee/herdsman.test.ts):
// FakeAdapter extends herdsman's abstract Adapter (dist/adapter/adapter.d.ts) and is handed to the
// Controller through Adapter.create, the one seam. Simulated devices answer in real ZDO and ZCL bytes,
// which the adapter parses with herdsman's own Zdo.Buffalo / Zcl.Frame, as the serial adapters do.

const HA_PROFILE = 0x0104;
const u16 = (v: number) => [v & 0xff, v >> 8];

export interface SimSpec { ieee: string; nwk: number; logicalType: 1 | 2; deviceId: number; clusters: string[]; attributes: Record<string, Record<string, unknown>> }

/** A device on the air: answers ZDO and ZCL requests (in bytes) from its attribute table. */
export class SimDevice {
  private tsn = 100;
  constructor(readonly spec: SimSpec) {}
  attr(cluster: string) { return (this.spec.attributes[cluster] ??= {}); }

  /** ZDO response bytes: TSN, status, then the Zigbee spec §2.4.4 payload (requests start with the TSN: hasZdoMessageOverhead, Adapter's default). */
  zdo(clusterId: number, req: Buffer): Buffer | undefined {
    const { nwk, logicalType } = this.spec;
    const head = [req[0]!, Zdo.Status.SUCCESS, ...u16(nwk)];
    switch (clusterId) {
      case Zdo.ClusterId.NODE_DESCRIPTOR_REQUEST: // logical type, 2.4 GHz band, MAC capabilities, manufacturer, buffer sizes, server mask (rev 22)
        return Buffer.from([...head, logicalType, 0x40, logicalType === 1 ? 0x8e : 0x80, ...u16(0x1234), 0x52, ...u16(0x80), ...u16(0x2c00), ...u16(0x80), 0]);
      case Zdo.ClusterId.ACTIVE_ENDPOINTS_REQUEST: return Buffer.from([...head, 1, 1]);
      case Zdo.ClusterId.SIMPLE_DESCRIPTOR_REQUEST: {
        if (req[3] !== 1) return Buffer.from([req[0]!, Zdo.Status.INVALID_EP]);
        const ids = this.spec.clusters.map((c) => Zcl.Utils.getCluster(c, undefined, {}).ID);
        return Buffer.from([...head, 8 + 2 * ids.length, 1, ...u16(HA_PROFILE), ...u16(this.spec.deviceId), 1, ids.length, ...ids.flatMap(u16), 0]);
      }
      default: return Buffer.from([req[0]!, Zdo.Status.NOT_SUPPORTED]);
    }
  }

  /** ZCL frames the device sends back for one it received. */
  zcl(clusterId: number, data: Buffer): Zcl.Frame[] {
    const f = Zcl.Frame.fromBuffer(clusterId, Zcl.Header.fromBuffer(data), data, {});
    const attrs = this.attr(f.cluster.name);
    const tsn = f.header.transactionSequenceNumber;
    const out: Zcl.Frame[] = [];
    let status: number = Zcl.Status.SUCCESS;
    if (f.header.isGlobal && f.command.name === 'read') {
      out.push(Zcl.Frame.create(Zcl.FrameType.GLOBAL, Zcl.Direction.SERVER_TO_CLIENT, true, undefined, tsn, 'readRsp', clusterId, (f.payload as { attrId: number }[]).map(({ attrId }) => {
        const a = Zcl.Utils.getClusterAttribute(f.cluster, attrId, undefined);
        return a && attrs[a.name] !== undefined ? { attrId, status: Zcl.Status.SUCCESS, dataType: a.type, attrData: attrs[a.name] } : { attrId, status: Zcl.Status.UNSUPPORTED_ATTRIBUTE };
      }), {}));
      return out;
    }
    if (f.header.isGlobal && f.command.name === 'write') {
      for (const { attrId, attrData } of f.payload as { attrId: number; attrData: unknown }[]) attrs[Zcl.Utils.getClusterAttribute(f.cluster, attrId, undefined)!.name] = attrData;
      out.push(Zcl.Frame.create(Zcl.FrameType.GLOBAL, Zcl.Direction.SERVER_TO_CLIENT, true, undefined, tsn, 'writeRsp', clusterId, [{ status: Zcl.Status.SUCCESS }], {}));
      return out;
    }
    if (f.header.isGlobal) return out; // defaultRsp from the coordinator, …
    const command = `${f.cluster.name}.${f.command.name}`;
    if (command === 'ssIasZone.enrollRsp') attrs.zoneState = 1; // ZCL §8.2: enrolled once the CIE answered
    else if (command === 'genOnOff.on' || command === 'genOnOff.off') attrs.onOff = f.command.name === 'on' ? 1 : 0;
    else status = Zcl.Status.UNSUP_COMMAND;
    // ZCL §2.5.12: a Default Response unless the request disabled it (always on failure).
    if (!f.header.frameControl.disableDefaultResponse || status !== Zcl.Status.SUCCESS) {
      out.push(Zcl.Frame.create(Zcl.FrameType.GLOBAL, Zcl.Direction.SERVER_TO_CLIENT, true, undefined, tsn, 'defaultRsp', clusterId, { cmdId: f.header.commandIdentifier, statusCode: status }, {}));
    }
    if (f.cluster.name === 'genOnOff' && status === Zcl.Status.SUCCESS) out.push(this.report('genOnOff', { onOff: attrs.onOff })); // a plug with reporting set up
    return out;
  }

  /** An attribute report, as the device sends it on change (default response disabled, as most sensors do). */
  report(cluster: string, values: Record<string, unknown>): Zcl.Frame {
    const c = Zcl.Utils.getCluster(cluster, undefined, {});
    Object.assign(this.attr(cluster), values);
    const records = Object.entries(values).map(([name, attrData]) => { const a = Zcl.Utils.getClusterAttribute(c, name, undefined)!; return { attrId: a.ID, dataType: a.type, attrData }; });
    return Zcl.Frame.create(Zcl.FrameType.GLOBAL, Zcl.Direction.SERVER_TO_CLIENT, true, undefined, this.tsn++ & 0xff, 'report', c.ID, records, {});
  }

  /** ZCL §8.2 Zone Status Change Notification (ssIasZone, server → client). */
  zoneChange(zonestatus: number): Zcl.Frame {
    this.attr('ssIasZone').zoneStatus = zonestatus;
    return Zcl.Frame.create(Zcl.FrameType.SPECIFIC, Zcl.Direction.SERVER_TO_CLIENT, true, undefined, this.tsn++ & 0xff, 'statusChangeNotification', 'ssIasZone', { zonestatus, extendedstatus: 0, zoneID: 23, delay: 0 }, {});
  }
}

export const COORDINATOR_IEEE = '0x00124b0000c0ffee';
const coordinator = new SimDevice({ ieee: COORDINATOR_IEEE, nwk: 0, logicalType: 1, deviceId: 0x0005, clusters: ['genBasic', 'ssIasZone'], attributes: {} });

/** A coordinator: the Controller's requests go to the simulated devices, their answers come back as adapter events. */
export class FakeAdapter extends Adapter {
  readonly zcl: { networkAddress: number; endpoint: number; clusterId: number; data: Buffer }[] = [];
  readonly zdoRequests: { networkAddress: number; clusterId: number }[] = [];
  private waiters: { matcher: ClusterWaitressMatcher; resolve: (p: AdapterEvents.ZclPayload) => void; timer: NodeJS.Timeout }[] = [];
  private zdoTsn = 0;
  permitJoinS = 0;

  constructor(net: AdapterTypes.NetworkOptions, serial: AdapterTypes.SerialPortOptions, backupPath: string, opts: AdapterTypes.AdapterOptions, readonly air: Map<number, SimDevice>) {
    super(net, serial, backupPath, opts);
    air.set(0, coordinator);
  }

  async start(): Promise<AdapterTypes.StartResult> { return 'resumed'; }
  async stop(): Promise<void> { for (const w of this.waiters.splice(0)) clearTimeout(w.timer); }
  async getCoordinatorIEEE(): Promise<string> { return COORDINATOR_IEEE; }
  async getCoordinatorVersion(): Promise<AdapterTypes.CoordinatorVersion> { return { type: 'fake', meta: {} }; }
  async reset(): Promise<void> {}
  async supportsBackup(): Promise<boolean> { return false; }
  async backup(): Promise<Backup> { throw new Error('no backup'); }
  async getNetworkParameters(): Promise<AdapterTypes.NetworkParameters> {
    return { panID: this.networkOptions.panID, extendedPanID: '0xdddddddddddddddd', channel: this.networkOptions.channelList[0]!, nwkUpdateID: 0 };
  }
  async addInstallCode(): Promise<void> {}
  async permitJoin(seconds: number): Promise<void> { this.permitJoinS = seconds; }
  async sendZclFrameToGroup(): Promise<void> {}
  async sendZclFrameToAll(): Promise<void> {} // Green Power commissioning on permit join: no GP devices here
  async setChannelInterPAN(): Promise<void> {}
  async sendZclFrameInterPANToIeeeAddr(): Promise<void> {}
  async sendZclFrameInterPANBroadcast(): Promise<never> { throw new Error('no InterPAN'); }
  async restoreChannelInterPAN(): Promise<void> {}

  waitFor(address: number, endpoint: number, _ft: Zcl.FrameType, _d: Zcl.Direction, tsn: number | undefined, clusterId: number, commandId: number, defaultRspCommandId: number | undefined, timeout: number) {
    return this.wait({ address, endpoint, clusterId, commandId, defaultRspCommandId, transactionSequenceNumber: tsn }, timeout);
  }

  private wait(matcher: ClusterWaitressMatcher, timeout: number) {
    let entry!: (typeof this.waiters)[number];
    const promise = new Promise<AdapterEvents.ZclPayload>((resolve, reject) => {
      entry = { matcher, resolve, timer: setTimeout(() => { this.drop(entry); reject(new Error(Adapter.clusterWaitressTimeoutFormatter(matcher, timeout))); }, timeout) };
      this.waiters.push(entry);
    });
    return { promise, cancel: () => this.drop(entry) };
  }

  private drop(entry: (typeof this.waiters)[number]) { clearTimeout(entry.timer); this.waiters = this.waiters.filter((w) => w !== entry); }

  sendZdo(ieee: string, nwk: number, clusterId: Zdo.ClusterId, payload: Buffer, disableResponse: true): Promise<void>;
  sendZdo<K extends keyof RequestToResponseMap>(ieee: string, nwk: number, clusterId: K, payload: Buffer, disableResponse: false): Promise<RequestToResponseMap[K]>;
  sendZdo<K extends keyof RequestToResponseMap>(ieee: string, nwk: number, clusterId: K, payload: Buffer, disableResponse: boolean): Promise<RequestToResponseMap[K] | undefined>;
  async sendZdo(_ieee: string, nwk: number, clusterId: Zdo.ClusterId, payload: Buffer, disableResponse: boolean): Promise<unknown> {
    payload[0] = ++this.zdoTsn & 0xff; // the adapter numbers ZDO requests (emberAdapter.sendZdo: messageTag)
    this.zdoRequests.push({ networkAddress: nwk, clusterId });
    const device = this.air.get(nwk);
    if (!device) throw new Error(`ZDO ${Zdo.ClusterId[clusterId]} to ${nwk}: no route`);
    const responseId = Zdo.Utils.getResponseClusterId(clusterId);
    const bytes = device.zdo(clusterId, payload);
    if (disableResponse || responseId === undefined || !bytes) return undefined;
    const response = Zdo.Buffalo.readResponse(this.hasZdoMessageOverhead, responseId, bytes);
    this.emit('zdoResponse', responseId, response);
    return response;
  }

  async sendZclFrameToEndpoint(_ieee: string, networkAddress: number, endpoint: number, frame: Zcl.Frame, timeout: number, disableResponse: boolean): Promise<AdapterEvents.ZclPayload | undefined> {
    const data = frame.toBuffer();
    this.zcl.push({ networkAddress, endpoint, clusterId: frame.cluster.ID, data });
    const device = this.air.get(networkAddress);
    if (!device) throw new Error(`ZCL to ${networkAddress}: no route`);
    // As emberAdapter.sendZclFrameToEndpoint: wait for the command's response, else for a Default Response unless disabled.
    const response = 'response' in frame.command && frame.command.response !== undefined && !disableResponse ? frame.command.response
      : frame.header.frameControl.disableDefaultResponse ? undefined : Zcl.Foundation.defaultRsp.ID;
    const waiter = response === undefined ? undefined
      : this.wait({ address: networkAddress, endpoint, clusterId: frame.cluster.ID, commandId: response, transactionSequenceNumber: frame.header.transactionSequenceNumber }, timeout);
    setImmediate(() => { for (const reply of device.zcl(frame.cluster.ID, data)) this.receive(device, reply); });
    return await waiter?.promise;
  }

  /** A frame from a device reaches the coordinator: waiters first, then the Controller (as the serial adapters do). */
  receive(device: SimDevice, frame: Zcl.Frame): void {
    const data = frame.toBuffer();
    const payload: AdapterEvents.ZclPayload = {
      clusterID: frame.cluster.ID, address: device.spec.nwk, header: Zcl.Header.fromBuffer(data), data, endpoint: 1,
      linkquality: 120, groupID: 0, wasBroadcast: false, destinationEndpoint: 1,
    };
    for (const w of this.waiters) {
      if (Adapter.zclWaitressValidator({ ...payload, header: payload.header! }, w.matcher)) { this.drop(w); w.resolve(payload); break; }
    }
    this.emit('zclPayload', payload);
  }

  /** Trust-centre join, then the device's announce (Zigbee spec §2.4.3.1.11). */
  join(device: SimDevice): void {
    if (this.permitJoinS === 0) throw new Error('joining is not permitted');
    this.air.set(device.spec.nwk, device);
    this.emit('deviceJoined', { networkAddress: device.spec.nwk, ieeeAddr: device.spec.ieee });
    const eui = Buffer.from(device.spec.ieee.slice(2), 'hex').reverse();
    const announce = Buffer.from([0, ...u16(device.spec.nwk), ...eui, device.spec.logicalType === 1 ? 0x8e : 0x80]);
    setImmediate(() => this.emit('zdoResponse', Zdo.ClusterId.END_DEVICE_ANNOUNCE, Zdo.Buffalo.readResponse(this.hasZdoMessageOverhead, Zdo.ClusterId.END_DEVICE_ANNOUNCE, announce)));
  }

  leave(device: SimDevice): void {
    this.air.delete(device.spec.nwk);
    this.emit('deviceLeave', { networkAddress: device.spec.nwk, ieeeAddr: device.spec.ieee });
  }
}
