// A SIP2 listener on 127.0.0.1 over a small throwaway library, for trying third-party SIP2 clients
// by hand (see docs/sip2.md, "Tested clients"). Not a test: run it with
//   node bin/run-ts.mjs test/server/sip2/interop-server.ts [port] [--tls key.pem cert.pem]
// The fixture matches the defaults of the Evergreen SIPServer test suite's SIPtest.pm once its
// institution, login and password are set to SHELF, sip-client and sip-secret.
import { readFileSync } from 'node:fs';
import { systemClock } from '../../../server/clock.js';
import { createPatron } from '../../../server/patrons/patrons.js';
import { createItem } from '../../../server/catalogue/items.js';
import { createRecord } from '../../../server/catalogue/records.js';
import { openDb } from '../../../server/store/db.js';
import { Circulation } from '../../../server/circulation/circulation.js';
import { startSip2Server } from '../../../server/sip2/server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const port = Number(args.find((a) => /^\d+$/.test(a)) ?? 6001);
const tlsAt = args.indexOf('--tls');
const tls = tlsAt >= 0 ? { key: readFileSync(args[tlsAt + 1]!), cert: readFileSync(args[tlsAt + 2]!) } : undefined;

const dir = mkdtempSync(join(tmpdir(), 'shelfsense-sip2-interop-'));
const db = openDb(join(dir, 'library.db'));
for (const id of ['main', 'Taylor']) {
  db.prepare('INSERT INTO branch (id, name) VALUES (?, ?)').run(id, `${id} library`);
  for (const w of [0, 1, 2, 3, 4, 5, 6]) db.prepare("INSERT INTO opening_hours (branch_id, weekday, opens, closes) VALUES (?, ?, '00:00', '23:59')").run(id, w);
}
const book = (barcode: string, title: string) =>
  createItem(db, { recordId: createRecord(db, { title }).id, barcode, homeBranch: 'main', location: 'stacks', ownerIsil: 'SHELF' });
book('1565921879', 'Perl 5 desktop reference');
book('0440242746', 'Snow crash');
book('660', 'Harry Potter y el cáliz de fuego');
book('30000017113634', '三体');
await createPatron(db, {
  cardNumber: '999999', name: 'David J. Fiander', category: 'Patrons', email: 'djfiander@hotmail.com', phone: '(519) 555 1234',
  birthDate: '1964-09-25', homeBranch: 'main', expiryDate: '2099-12-31', pin: '6789',
});
await createPatron(db, { cardNumber: 'miker', name: 'Mike Rylander', category: 'Patrons', expiryDate: '2099-12-31' });

const server = await startSip2Server({
  db, circulation: new Circulation(db, systemClock), host: '127.0.0.1', port, tls,
  accounts: [{ login: 'sip-client', password: 'sip-secret', institutionId: 'SHELF', branchId: 'main', patronDetails: true }],
});
console.log(`SIP2 listening on 127.0.0.1:${server.port}${tls ? ' (TLS)' : ''}; library in ${dir}`);
const stop = async () => { await server.close(); db.close(); rmSync(dir, { recursive: true, force: true }); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
