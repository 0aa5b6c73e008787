import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A pair of connected pseudo-terminals made by socat, each reachable through a symlink: the
 * gateway opens `hostPath` as if it were a USB serial adapter, the simulator opens `devicePath`.
 * Bytes written to one come out of the other unchanged (raw mode, no echo).
 */
export interface PtyPair {
  hostPath: string;
  devicePath: string;
  close(): Promise<void>;
}

/** Every socat this process started and has not closed: they go down with it, even mid-setup. */
const live = new Set<ChildProcess>();
let exitHook = false;

export async function openPtyPair(hostPath: string, devicePath: string, timeoutMs = 5000): Promise<PtyPair> {
  for (const p of [hostPath, devicePath]) { mkdirSync(dirname(p), { recursive: true }); rmSync(p, { force: true }); }
  let child: ChildProcess;
  try {
    child = spawn('socat', [`pty,raw,echo=0,link=${hostPath}`, `pty,raw,echo=0,link=${devicePath}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`socat could not be started (apt-get install socat): ${e instanceof Error ? e.message : e}`);
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => { for (const c of live) c.kill('SIGKILL'); });
  }
  let stderr = '';
  child.stderr?.on('data', (d) => { stderr += d; });
  const spawnError = new Promise<never>((_, reject) => child.once('error', (e: NodeJS.ErrnoException) =>
    reject(new Error(e.code === 'ENOENT' ? 'socat is not installed (apt-get install socat)' : `socat failed: ${e.message}`))));
  const ready = (async () => {
    const deadline = Date.now() + timeoutMs;
    while (!(existsSync(hostPath) && existsSync(devicePath))) {
      if (child.exitCode !== null) throw new Error(`socat exited (${child.exitCode}): ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`socat did not create ${hostPath} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await Promise.race([ready, spawnError]);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  spawnError.catch(() => undefined);
  return {
    hostPath, devicePath,
    close: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
