/**
 * TLS with a CA of our own: a CA, a server certificate for 127.0.0.1 and a client certificate
 * made here with openssl; a private Redis that speaks TLS only and asks for a client
 * certificate, and a private MariaDB whose account requires TLS. The worker (engine, ledger and
 * BullMQ jobs) and the CLI connect with the CA and the client certificate from the
 * `*_TLS_*_FILE` variables, and fail with a clear error, and no secret, without the CA.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { inventory } from '../cli/run.js';
import { World } from '../faults/support/harness.js';
import { freePort, PrivateMariaDb, PrivateRedis } from '../faults/support/private.js';
import { WorkerProcess } from '../faults/support/worker-process.js';
import { publishEvents } from '../support/rabbit.js';

const run = promisify(execFile);
const TENANT = 'tls';
const PW = randomBytes(16).toString('hex');

let dir: string;
const file = (name: string) => join(dir, name);
let redis: PrivateRedis;
let maria: PrivateMariaDb;
let world: World;
let tlsEnv: Record<string, string>;
const output: string[] = [];

/** A CA, and a server and a client certificate it signed, as PEM files in `dir`. */
async function makeCertificates(): Promise<void> {
  const ssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    await ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${who}`,
      '-keyout',
      `${who}.key`,
      '-out',
      `${who}.csr`,
    );
    await ssl(
      'x509',
      '-req',
      '-in',
      `${who}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${who}.crt`,
      ...(who === 'server' ? ['-extfile', 'server.ext'] : []),
    );
  }
  // a CA that signed none of them: the worker must refuse the server with it
  await ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=other CA',
    '-keyout',
    'other.key',
    '-out',
    'other.crt',
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tls-test-'));
  await makeCertificates();
  redis = await PrivateRedis.start({
    password: PW,
    tls: {
      cert: file('server.crt'),
      key: file('server.key'),
      ca: file('ca.crt'),
      clientCert: file('client.crt'),
      clientKey: file('client.key'),
    },
  });
  maria = await PrivateMariaDb.start([
    `--ssl-ca=${file('ca.crt')}`,
    `--ssl-cert=${file('server.crt')}`,
    `--ssl-key=${file('server.key')}`,
  ]);
  // an account that may only connect over TLS: a connection that works proves TLS was used
  const root = await createConnection({ host: '127.0.0.1', port: maria.port, user: 'root' });
  await root.query("CREATE USER 'tls'@'%' IDENTIFIED BY ? REQUIRE SSL", [PW]);
  await root.query("GRANT ALL PRIVILEGES ON *.* TO 'tls'@'%'");
  await root.end();
  tlsEnv = {
    REDIS_TLS_CA_FILE: file('ca.crt'),
    REDIS_TLS_CERT_FILE: file('client.crt'),
    REDIS_TLS_KEY_FILE: file('client.key'),
    MYSQL_TLS_CA_FILE: file('ca.crt'),
  };
  // the World's own database and Redis clients connect without our TLS: give it root's server
  world = await World.create('tls', { mysqlServer: maria.server, redisUrl: redis.url });
}, 240_000);

afterAll(async () => {
  await world?.close();
  await redis?.close();
  await maria?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The worker's environment: Redis over TLS, MySQL as the TLS-only account. */
const envWith = (extra: Record<string, string> = {}): Record<string, string> => ({
  ...world.workerEnv(),
  MYSQL_URL: world.mysqlUrl.replace('mysql://root@', `mysql://tls:${PW}@`) + '?ssl=true',
  ...tlsEnv,
  ...extra,
});

const worker = (label: string, env: Record<string, string>) => {
  const w = new WorkerProcess(`tls-${label}`, env, [], (c) => output.push(c));
  world.workers.push(w);
  return w;
};

describe('TLS with a private CA', () => {
  test('the worker, its jobs and the CLI work over TLS with the CA and a client certificate', async () => {
    const httpPort = await freePort();
    const w = worker('ok', envWith({ HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1' }));
    await w.start();
    // a cart hold is acked only once its expiry job is in BullMQ: its connections use TLS too
    await publishEvents(world.amqpUrl, [
      { type: 'stock.received', id: 'tls-1', tenant: TENANT, data: { sku: 'T', quantity: 5 } },
      {
        type: 'cart.added',
        id: 'tls-2',
        tenant: TENANT,
        data: { cartId: 'c1', sku: 'T', quantity: 2 },
      },
    ]);
    await world.drained(2, 0, 60_000);
    // /readyz asks Redis on a connection of its own: over TLS too
    const readyz = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
    expect(await readyz.text()).toMatch(/"redis":\{"ok":true\}/);
    expect(readyz.status).toBe(200);
    const env = envWith({ LOG_LEVEL: 'warn' });
    const stock = await inventory(['stock', 'T', '--tenant', TENANT, '--json'], env);
    expect(stock.code).toBe(0);
    expect(JSON.parse(stock.stdout)).toMatchObject({ onHand: 5, reserved: 2, available: 3 });
    const reconcile = await inventory(['reconcile', '--tenant', TENANT, '--json'], env);
    expect(reconcile.stderr).toBe('');
    expect(reconcile.code).toBe(0);
    const stats = await inventory(['stats', '--tenant', TENANT, '--json'], env);
    expect(JSON.parse(stats.stdout)).toMatchObject({ outbox: { entries: 0 } });
    await w.stop();
    expect(w.exits).toEqual([{ code: 0, signal: null }]);
  }, 180_000);

  test('without the CA, or with another, Redis refuses to be trusted: a clear error, no secret', async () => {
    for (const [label, ca] of [
      ['no-ca', undefined],
      ['other-ca', file('other.crt')],
    ] as const) {
      const env = envWith();
      if (ca) env.REDIS_TLS_CA_FILE = ca;
      else delete env.REDIS_TLS_CA_FILE;
      const w = worker(`redis-${label}`, env);
      await expect(w.start(8_000)).rejects.toThrow(/did not start/);
      // on a busy machine the worker may still be starting: wait for what it says (30 s at most)
      const refused = /self[- ]signed certificate|unable to verify|unable to get/i;
      for (let end = Date.now() + 30_000; !refused.test(w.tail(300)) && Date.now() < end;)
        await new Promise((r) => setTimeout(r, 200));
      await w.kill();
      expect(w.tail(300)).toMatch(refused);
      expect(w.tail(300)).not.toContain('worker consuming');
    }
  }, 120_000);

  test('without the CA, MySQL refuses to be trusted: the CLI and the worker say why', async () => {
    const env = envWith({ LOG_LEVEL: 'warn' });
    delete env.MYSQL_TLS_CA_FILE;
    const migrate = await inventory(['migrate'], env);
    expect(migrate.code).toBe(1);
    expect(migrate.stderr).toMatch(/self[- ]signed certificate/i);
    const w = worker('mysql-no-ca', env);
    await expect(w.start(20_000)).rejects.toThrow(/exited while starting/);
    expect(w.exits[0]?.code).toBe(1);
    expect(w.tail(300)).toMatch(/self[- ]signed certificate/i);
    // and without ?ssl=true the account (REQUIRE SSL) is refused: nothing went in plain text
    const plain = await inventory(['migrate'], {
      ...env,
      MYSQL_URL: env.MYSQL_URL!.replace('?ssl=true', ''),
    });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/Access denied/);
  }, 120_000);

  test('a TLS file for a plain-text URL is a configuration error', async () => {
    const r = await inventory(['stats'], {
      ...envWith(),
      REDIS_URL: redis.url.replace('rediss:', 'redis:'),
    });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/REDIS_TLS_CA_FILE=.*is set, but REDIS_URL is not rediss:/);
  });

  test('no output held the password', () => {
    expect(output.join('')).toContain('worker consuming');
    expect(output.join('')).not.toContain(PW);
  });
});
