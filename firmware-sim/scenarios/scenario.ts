import { readFileSync } from 'node:fs';
import type { ReaderField } from '../rfid/field.js';
import type { TagPopulation, TagSpec } from '../rfid/population.js';

/**
 * A scenario: what people do with tags in front of readers, over time. Steps run at `at` ms after
 * the start (scaled by the time-speed factor). Tags are named in `tags`, or taken from the
 * library's population as `item:<barcode>` / `card:<card number>`.
 *
 * Actions: place (tags onto a reader's antenna), remove, pass (place, then remove after `ms`: walking
 * through a gate or dropping into a returns slot), sweep (one tag after another, `ms` each: a wand
 * along a shelf), pullOnWrite (the tag leaves the field as the next write reaches it).
 */
export interface Scenario {
  name: string;
  description?: string;
  tags?: Record<string, TagSpec>;
  steps: ScenarioStep[];
}

export interface ScenarioStep {
  at: number;
  reader: string;
  antenna?: number;
  place?: string[];
  remove?: string[];
  pass?: string[];
  sweep?: string[];
  pullOnWrite?: string;
  ms?: number;
}

export function loadScenario(file: string): Scenario {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Scenario;
  validateScenario(s, file);
  return s;
}

export function validateScenario(s: Scenario, where = 'scenario'): void {
  if (!s || typeof s.name !== 'string' || !Array.isArray(s.steps)) throw new Error(`${where}: a scenario needs a name and steps`);
  s.steps.forEach((st, i) => {
    if (typeof st.at !== 'number' || st.at < 0) throw new Error(`${where}: step ${i + 1}: "at" must be a number of ms ≥ 0`);
    if (typeof st.reader !== 'string') throw new Error(`${where}: step ${i + 1}: "reader" is required`);
    const actions = ['place', 'remove', 'pass', 'sweep', 'pullOnWrite'].filter((a) => (st as unknown as Record<string, unknown>)[a] !== undefined);
    if (actions.length !== 1) throw new Error(`${where}: step ${i + 1}: exactly one of place, remove, pass, sweep, pullOnWrite`);
  });
}

/** Plays a scenario against the readers' fields; resolves when its last step (and any pass/sweep) is done. */
export async function playScenario(s: Scenario, fields: Map<string, ReaderField>, population: TagPopulation, opts: { timeScale?: number } = {}): Promise<void> {
  const scale = opts.timeScale ?? 1;
  for (const [name, spec] of Object.entries(s.tags ?? {})) if (!population.has(name)) population.add(spec, name);
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms / scale));
  const started = Date.now();
  const running: Promise<void>[] = [];
  for (const step of [...s.steps].sort((a, b) => a.at - b.at)) {
    const due = started + step.at / scale - Date.now();
    if (due > 0) await wait(due * scale);
    const field = fields.get(step.reader);
    if (!field) throw new Error(`scenario ${s.name}: no simulated reader ${step.reader}`);
    const antenna = step.antenna ?? 1;
    const ms = step.ms ?? 800;
    if (step.place) for (const t of step.place) field.place(population.get(t), antenna);
    if (step.remove) for (const t of step.remove) field.remove(population.get(t).uid);
    if (step.pullOnWrite) field.pullOnWrite(population.get(step.pullOnWrite).uid);
    if (step.pass) {
      const tags = step.pass.map((t) => population.get(t));
      for (const tag of tags) field.place(tag, antenna);
      running.push(wait(ms).then(() => { for (const tag of tags) field.remove(tag.uid); }));
    }
    if (step.sweep) {
      const tags = step.sweep.map((t) => population.get(t));
      running.push((async () => {
        for (const tag of tags) { field.place(tag, antenna); await wait(ms); field.remove(tag.uid); }
      })());
    }
  }
  await Promise.all(running);
}
