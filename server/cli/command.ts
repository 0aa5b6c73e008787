/** One `shelfsense` sub-command: its name, a one-line summary, its --help text, and what it does. */
export interface Command {
  name: string;
  summary: string;
  /** Full --help text: usage line, options with defaults, examples. */
  help: string;
  /** Returns the process exit code; prints its own errors (to stderr) with what to do about them. */
  run(args: string[]): Promise<number>;
}

/** Progress for long operations, on stderr so stdout stays clean for data (export). */
export function progressPrinter(label: string, stream: NodeJS.WriteStream = process.stderr) {
  let lastPrint = 0;
  return (step: string, done: number, total: number) => {
    const t = Date.now();
    if (done < total && t - lastPrint < 200) return;
    lastPrint = t;
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
    const line = `${label}: ${step} ${done}/${total} (${pct}%)`;
    if (stream.isTTY) stream.write(`\r${line.padEnd(78)}${done >= total ? '\n' : ''}`);
    else if (done >= total || pct % 25 === 0) stream.write(`${line}\n`);
  };
}
