/** One measured figure, printed as `BENCH <suite>.<metric> <value> <unit>`. */
export interface Figure { value: number; unit: string }
export type Figures = Record<string, Figure>;

/** A benchmark suite: builds its own data from a seed, runs on loopback only, stops by itself. */
export interface BenchSuite {
  name: string;
  /** What the suite measures, one line. */
  summary: string;
  /** Progress lines go to `log` (stderr), never to stdout, which carries only BENCH lines. */
  run(log: (line: string) => void): Promise<Figures>;
}

/** A numeric knob from the environment (BENCH_*), or its default. */
export const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
