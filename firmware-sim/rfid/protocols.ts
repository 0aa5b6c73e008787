import type { ReaderProtocol } from '../../contract/mqtt.js';
import { feigSimulator } from './feig-sim.js';
import { metratecSimulator } from './metratec-sim.js';
import type { SimulatorFactory } from './sim-readers.js';

/** Every reader protocol the simulator plays, byte for byte. */
export const SIMULATORS: Record<ReaderProtocol, SimulatorFactory> = {
  feig: feigSimulator,
  metratec: metratecSimulator,
};
