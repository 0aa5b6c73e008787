import type { ReaderProtocol } from '../../contract/mqtt.js';
import { createFeigDriver } from './feig.js';
import { createMetratecDriver } from './metratec.js';
import type { DriverFactory } from './readers.js';

/** The reader protocols a gateway speaks, chosen per reader by its configured `protocol`. */
export const DRIVERS: Record<ReaderProtocol, DriverFactory> = {
  feig: createFeigDriver,
  metratec: createMetratecDriver,
};
