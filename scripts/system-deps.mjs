#!/usr/bin/env node
// Makes sure the Debian packages the tests (or the given purpose) need are present. As root with
// apt-get, it installs what is missing; otherwise it names the exact packages to install and fails.
// Usage: node scripts/system-deps.mjs test
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const NEEDS = {
  // socat: the demo's simulated readers sit on pty pairs that the gateways open as serial devices.
  start: [{ pkg: 'socat', bins: ['socat'] }],
  // mosquitto: the external-broker integration tests run against a real Mosquitto.
  test: [
    { pkg: 'mosquitto', bins: ['mosquitto', '/usr/sbin/mosquitto'] },
    // socat: a pty pair, so a gateway process opens a real serial device path that a simulator plays.
    { pkg: 'socat', bins: ['socat'] },
    // libjpeg-turbo-progs: djpeg decodes the simulated cameras' frames as a second, independent check.
    { pkg: 'libjpeg-turbo-progs', bins: ['djpeg'] },
  ],
};

const purpose = process.argv[2] ?? 'test';
const needs = NEEDS[purpose];
if (!needs) {
  console.error(`system-deps: unknown purpose "${purpose}" (known: ${Object.keys(NEEDS).join(', ')})`);
  process.exit(2);
}

const onPath = (bin) => bin.startsWith('/') ? existsSync(bin) : spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const missing = needs.filter((n) => !n.bins.some(onPath)).map((n) => n.pkg);
if (missing.length === 0) process.exit(0);

const isRoot = process.getuid?.() === 0;
const hasApt = onPath('apt-get');
// Starting without the simulator's ptys still runs the library (real readers need none): warn only.
const failCode = purpose === 'start' ? 0 : 1;
if (!isRoot || !hasApt || process.env.SHELFSENSE_NO_APT === '1') {
  console.error(`system-deps: missing Debian packages for ${purpose}: ${missing.join(' ')}`);
  console.error(`Install them with:  sudo apt-get install -y ${missing.join(' ')}`);
  if (purpose === 'start') console.error('system-deps: starting anyway; the simulated readers will be offline');
  process.exit(failCode);
}
console.error(`system-deps: installing ${missing.join(' ')} with apt-get…`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
try {
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
} catch {
  console.error(`system-deps: apt-get could not install ${missing.join(' ')}; install them by hand and run again`);
  process.exit(failCode);
}
